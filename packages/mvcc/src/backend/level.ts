/** The `level` engine (default): LevelDB through classic-level, read views are LevelDB snapshots. */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { BaseBackend, type RawOp, type RawView } from './base.js';
import {
  BULK_DIR_PREFIX,
  LevelDbFileError,
  linkLiveTables,
  logFileName,
  mergeTables,
  removeBulkDirs,
} from './leveldb-files/index.js';
import type { Entry, ReadView } from './types.js';
import { WriteHold } from './write-hold.js';

const SCAN_CHUNK = 4096;
/**
 * How many bytes of entries one `nextv` may collect (classic-level ends a batch there; its default is
 * 16 KiB). At the default, a 4 096-entry request over key-bucket entries of ~300 bytes returned ~55, so
 * a restart's key index rebuild over 200 000 revisions made 3 637 thread-pool round trips. 256 KiB:
 * restart to serving after a crash with 200 000 puts 2 475-2 591 ms against 2 683-2 889 at the default
 * (medians of 6, two runs); 1 MiB rebuilt the index sooner still but restarted no sooner, with more
 * garbage and RSS (docs/benchmarks.md "Session 19"). A scan holds at most two chunks (one read ahead).
 */
export const SCAN_CHUNK_BYTES = 256 << 10;
/**
 * LevelDB's write buffer (memtable), and so the size of the tables it flushes: 2 MiB, its table size
 * (`max_file_size`), instead of its 4 MiB default. Why: revision keys only grow, so a flushed table
 * never overlaps the level below and compaction moves it down without rewriting it; with the default,
 * most of a database stays in 4 MiB tables while compacted ranges hold 2 MiB ones. Every cached table
 * is memory-mapped and a full read (snapshot, hash, index rebuild) touches all of it, so the mapped
 * memory moved between 64 × 2 and 64 × 4 MiB with the tables a read passed through: a snapshot of a
 * compacted 1 GiB database grew RSS by 84-106 MiB of file-backed pages (docs/operations.md "Snapshot
 * memory"). With one table size, the 64 cached tables map at most ~128 MiB, whatever is read.
 */
const WRITE_BUFFER_BYTES = 2 << 20;
/**
 * The range bulkView() "compacts" to flush the memtable: LevelDB's CompactRange flushes the memtable
 * first, whatever the range, then compacts only files overlapping it. No physical key starts with NUL
 * (bucket names are not empty), so no file does.
 */
const FLUSH_RANGE: [Uint8Array, Uint8Array] = [new Uint8Array([0]), new Uint8Array([0, 0])];

type LevelSnapshot = ReturnType<ClassicLevel<Uint8Array, Uint8Array>['snapshot']>;

/** classic-level's implementation of abstract-level's private batch API (abstract-level 3). */
interface EngineBatch {
  _batch(
    ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }>,
    options: { sync: boolean },
  ): Promise<void>;
}

export class LevelBackend extends BaseBackend {
  readonly engine = 'level' as const;
  /** Every write of this backend goes through it, so bulkView() can hold them off. */
  private readonly writes = new WriteHold();
  private bulkViews = 0;

  private constructor(
    private readonly db: ClassicLevel<Uint8Array, Uint8Array>,
    private readonly path: string,
    private readonly sync: boolean,
  ) {
    super();
  }

  static async open(path: string, sync: boolean, maxOpenFiles: number): Promise<LevelBackend> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      maxOpenFiles,
      writeBufferSize: WRITE_BUFFER_BYTES,
    });
    await db.open();
    // Link directories of bulk views that a crash left behind (LevelDB itself ignores them). After
    // open: LevelDB's LOCK now keeps any other process off this directory.
    await removeBulkDirs(path);
    return new LevelBackend(db, path, sync);
  }

  protected openRawView(): RawView {
    return this.snapshotView(this.db.snapshot());
  }

  /**
   * A view whose forward scans read LevelDB's table files directly (plain reads into one window per
   * open table) instead of through LevelDB, which memory-maps up to 64 tables and so makes a full read
   * grow the RSS by up to ~128 MiB (docs/operations.md "Snapshot memory"). Opening it, with this
   * backend's writes held: flush the memtable into a table, take a LevelDB snapshot, read the MANIFEST
   * and hard-link the live tables into a private directory. With no write after the flush, every entry
   * in those tables is older than the snapshot and the memtable and log hold nothing, so the tables
   * alone are the snapshot's state: the merge needs no sequence filtering. Point reads and reverse
   * scans use the LevelDB snapshot taken in the same hold, so they see the same state.
   */
  override async bulkView(): Promise<ReadView> {
    this.checkOpen();
    const dir = join(this.path, `${BULK_DIR_PREFIX}${process.pid}-${++this.bulkViews}`);
    const { snapshot, levels } = await this.writes.exclusive(async () => {
      await this.db.compactRange(...FLUSH_RANGE);
      const snapshot = this.db.snapshot();
      try {
        const live = await linkLiveTables(this.path, dir);
        await this.checkLogEmpty(live.logNumber);
        return { snapshot, levels: live.levels };
      } catch (err) {
        void snapshot.close();
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    });
    const raw = this.snapshotView(snapshot, (lo, hi) => mergeTables(dir, levels, lo, hi));
    return this.wrapView({
      ...raw,
      close: () => {
        raw.close();
        void rm(dir, { recursive: true, force: true }).catch(() => {});
      },
    });
  }

  /**
   * After the flush, the log LevelDB now writes must be empty: anything in it is a write the tables
   * lack, and a bulk view without it would silently miss data.
   */
  private async checkLogEmpty(logNumber: number): Promise<void> {
    const log = join(this.path, logFileName(logNumber));
    const size = await fileSize(log);
    if (size > 0)
      throw new LevelDbFileError(log, 'format', `${size} bytes of writes after the memtable flush`);
  }

  /** A raw view over a LevelDB snapshot; `forward` replaces LevelDB for ascending scans. */
  private snapshotView(
    snapshot: LevelSnapshot,
    forward?: (lo: Uint8Array, hi: Uint8Array) => AsyncIterable<Entry[]>,
  ): RawView {
    const db = this.db;
    return {
      get: (key) => db.get(key, { snapshot }),
      getMany: (keys) => db.getMany(keys, { snapshot }),
      async *scan(lo, hi, reverse): AsyncIterable<Entry[]> {
        if (forward && !reverse) {
          yield* forward(lo, hi);
          return;
        }
        const it = db.iterator({ gte: lo, lt: hi, reverse, snapshot, highWaterMarkBytes: SCAN_CHUNK_BYTES });
        let ahead: Promise<Entry[]> | undefined;
        try {
          // Start small (point-ish scans), grow for bulk scans.
          let size = 64;
          let entries = (await it.nextv(size)) as Entry[];
          while (entries.length > 0) {
            size = Math.min(size * 4, SCAN_CHUNK);
            // A bulk scan: ask for the next chunk before handing this one out, so LevelDB reads it on
            // the pool thread while the caller works through this one (a restart's key index rebuild
            // waited for every chunk: docs/benchmarks.md "Session 9").
            if (size === SCAN_CHUNK) ahead = it.nextv(size) as Promise<Entry[]>;
            yield entries;
            entries = ahead ? await ahead : ((await it.nextv(size)) as Entry[]);
            ahead = undefined;
          }
        } finally {
          // A caller that stops early leaves a read in flight: let it finish before closing.
          if (ahead) await ahead.catch(() => undefined);
          await it.close();
        }
      },
      close: () => {
        void snapshot.close();
      },
    };
  }

  protected writeRaw(ops: RawOp[]): Promise<void> {
    return this.writes.write(() => this.writeNow(ops));
  }

  private async writeNow(ops: RawOp[]): Promise<void> {
    const batch = ops.map((op) =>
      op.value
        ? { type: 'put' as const, key: op.key, value: op.value }
        : { type: 'del' as const, key: op.key },
    );
    // abstract-level's public batch() clones every operation (`{...options, ...op}`), validates it and
    // looks up encodings and hooks kv never uses; with a commit of a few hundred puts that was ~9 % of
    // a member's main thread under a 100-client put load (docs/benchmarks.md, "3-member put path").
    // Our keys and values are already Uint8Arrays, which is what the engine's own _batch takes. While
    // the database is not open the public call keeps its checks and errors.
    if (this.db.status === 'open')
      await (this.db as unknown as EngineBatch)._batch(batch, { sync: this.sync });
    else await this.db.batch(batch, { sync: this.sync });
  }

  protected clearAll(): Promise<void> {
    return this.writes.write(() => this.db.clear());
  }

  /** Bytes of every file in the database directory. */
  async size(): Promise<number> {
    let total = 0;
    // Link directories of open bulk views are left out: their tables are LevelDB's, counted once.
    for (const name of await readdir(this.path)) {
      if (!name.startsWith(BULK_DIR_PREFIX)) total += await fileSize(join(this.path, name));
    }
    return total;
  }

  /**
   * LevelDB has no free-page count; this is its estimate of the table bytes holding keys (which still
   * includes overwritten versions until compaction) plus the write-ahead log not yet in tables.
   */
  async sizeInUse(): Promise<number> {
    const tables = await this.db.approximateSize(new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    let logs = 0;
    for (const name of await readdir(this.path)) {
      if (name.endsWith('.log') && name !== 'LOG') logs += await fileSize(join(this.path, name));
    }
    return tables + logs;
  }

  async defragment(): Promise<void> {
    await this.db.compactRange(new Uint8Array(0), new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  }

  protected async closeEngine(): Promise<void> {
    await this.db.close();
  }
}

/**
 * A file's size, 0 if it is gone: LevelDB deletes old logs and tables in the background (compaction,
 * log rotation), so a file listed a moment ago may no longer exist.
 */
async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
