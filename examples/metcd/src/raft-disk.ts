/**
 * Everything raft needs on disk, and in what order it is written: the WAL (@kv/wal) holds hard state and
 * entries, the snapshotter holds snapshot files, and raft's MemoryStorage is the in-memory view of both
 * that RawNode reads from. The rule is "durable first, visible later": a Ready's snapshot, entries and
 * hard state reach the disk (fdatasync) before MemoryStorage shows them, before any message leaves and
 * before anything is applied.
 */
import { join } from 'node:path';
import {
  type ConfState,
  decodeSnapshot,
  encodeConfState,
  encodeSnapshot,
  MemoryStorage,
  type Ready,
  type Snapshot,
} from '@kv/raft';
import { Snapshotter, Wal, type WalLogger } from '@kv/wal';
import type { NodeId } from './node-id.js';

/** Options of {@link RaftDisk.open}. */
export interface RaftDiskOptions {
  /** Directory holding `wal/` and `snap/`. */
  dir: string;
  /** This member's id, recorded in the WAL metadata and checked on restart. */
  id: NodeId;
  /** WAL segment size in bytes. */
  segmentBytes: number;
  /** Log entries kept behind a snapshot for slow followers (etcd's catch-up entries). */
  catchUpEntries: number;
  /** Snapshot files kept on disk. */
  keepSnapshots: number;
  logger: WalLogger;
}

/** Thrown when the data directory belongs to another member. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
}

/**
 * The WAL, the snapshot files and raft's MemoryStorage, kept in step.
 *
 * @example
 * ```ts
 * const disk = await RaftDisk.open({ dir, id, segmentBytes: 64 << 20, catchUpEntries: 5000, keepSnapshots: 5, logger });
 * const node = new RawNode({ ...config, storage: disk.storage, applied: disk.snapshotIndex() });
 * if (!disk.restarted) node.bootstrap(peers);
 * // every Ready:
 * await disk.persist(rd);
 * ```
 */
export class RaftDisk {
  /** Raft's view of the log; only this class writes to it. */
  readonly storage = new MemoryStorage();

  private constructor(
    private readonly wal: Wal,
    private readonly snapshotter: Snapshotter,
    private readonly opts: RaftDiskOptions,
    /** True when the WAL existed: this member restarts instead of starting fresh. */
    readonly restarted: boolean,
  ) {}

  /** Opens the member's WAL and newest usable snapshot, or creates an empty WAL on first start. */
  static async open(opts: RaftDiskOptions): Promise<RaftDisk> {
    const walDir = join(opts.dir, 'wal');
    const snapshotter = new Snapshotter(join(opts.dir, 'snap'), { logger: opts.logger });
    const walOpts = { segmentSize: opts.segmentBytes, logger: opts.logger };
    if (!Wal.exists(walDir)) {
      const meta = new TextEncoder().encode(JSON.stringify({ id: String(opts.id) }));
      const wal = await Wal.create(walDir, meta, walOpts);
      return new RaftDisk(wal, snapshotter, opts, false);
    }
    // Restart: the newest snapshot the WAL has a marker for (a snapshot file written just before a
    // crash whose marker never reached the WAL is skipped), then the WAL from that marker on.
    let snapFile: Awaited<ReturnType<Snapshotter['loadNewestAvailable']>>;
    const wal = await Wal.open(
      walDir,
      async (markers) => {
        snapFile = await snapshotter.loadNewestAvailable(markers);
        return { index: snapFile?.index ?? 0, term: snapFile?.term ?? 0 };
      },
      walOpts,
    );
    const { metadata, hardState, entries } = await wal.readAll();
    const owner = (JSON.parse(new TextDecoder().decode(metadata)) as { id: string }).id;
    if (owner !== String(opts.id)) {
      await wal.close();
      throw new DataDirError(`data dir ${opts.dir} belongs to member ${owner}, not ${String(opts.id)}`);
    }
    const disk = new RaftDisk(wal, snapshotter, opts, true);
    if (snapFile) disk.storage.applySnapshot(decodeSnapshot(snapFile.data));
    disk.storage.setHardState(hardState);
    disk.storage.append(entries);
    return disk;
  }

  /** The snapshot raft's storage starts from (index 0 if none). */
  snapshot(): Snapshot {
    return this.storage.snapshot();
  }

  /** Index of the newest snapshot (restart RawNode with `applied` set to it). */
  snapshotIndex(): number {
    return this.storage.snapshot().metadata.index;
  }

  /**
   * Step 1 of every Ready: makes its snapshot, entries and hard state durable, then visible to raft.
   * The snapshot goes first (file, then WAL marker), as etcd does: entries after it are only meaningful
   * once the snapshot they follow is on disk.
   */
  async persist(rd: Ready): Promise<void> {
    if (rd.snapshot) await this.saveSnapshotFiles(rd.snapshot);
    await this.wal.save(rd.hardState, rd.entries);
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
  }

  /**
   * Takes a local snapshot of the applied state at `index`, then compacts: raft's log keeps
   * `catchUpEntries` entries behind it (so a briefly lagging follower still catches up by log), the
   * WAL drops segments wholly before `index`, and old snapshot files go.
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snap = this.storage.createSnapshot(index, confState, data);
    await this.saveSnapshotFiles(snap);
    const compactTo = index - this.opts.catchUpEntries;
    if (compactTo > this.storage.firstIndex()) this.storage.compact(compactTo);
    await this.wal.releaseTo(index);
    await this.snapshotter.purge(this.opts.keepSnapshots);
    return snap;
  }

  /** WAL segment file names (for status: compaction shows as segments going away). */
  walSegments(): string[] {
    return this.wal.segmentFiles();
  }

  async close(): Promise<void> {
    await this.wal.close();
  }

  private async saveSnapshotFiles(snap: Snapshot): Promise<void> {
    const { index, term, confState } = snap.metadata;
    await this.snapshotter.save({ index, term, data: encodeSnapshot(snap) });
    await this.wal.saveSnapshot({ index, term, confState: encodeConfState(confState) });
  }
}
