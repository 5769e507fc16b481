import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ZERO_CHUNK } from './decoder.js';
import {
  WalClosedError,
  WalCorruptionError,
  WalError,
  WalExistsError,
  WalIOError,
  WalNotFoundError,
} from './errors.js';
import { type DurableWriteError, defaultFileSystem, type WalFile } from './fs-layer.js';
import { DirLock } from './lock.js';
import { markersOf, readForOpen, readSegments } from './open-read.js';
import { BatchEncoder, detachEntryData } from './record.js';
import { io, preallocate, type ResolvedOptions, writeFully } from './segment-io.js';
import { isConsecutive, type SegmentName, segmentFileName, segmentNames } from './segment-name.js';
import { SegmentPipeline } from './segment-pipeline.js';
import {
  DEFAULT_SEGMENT_SIZE,
  type WalContents,
  type WalEntry,
  type WalHardState,
  type WalLogger,
  type WalOptions,
  type WalSnapshotMarker,
} from './types.js';
import { readForOpenInWorker } from './worker-open-read.js';

const noopLogger: WalLogger = () => {};

interface Tail {
  file: WalFile;
  path: string;
  seq: number;
  /** Where the next batch goes. */
  offset: number;
  /** Current file length (preallocated space included). */
  size: number;
}

function resolve(opts: WalOptions | undefined): ResolvedOptions {
  const segmentSize = opts?.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isInteger(segmentSize) || segmentSize < 4096) throw new WalError('segmentSize must be >= 4096');
  if (opts?.readInWorker && opts.fs)
    throw new WalError('readInWorker reads with the default file system: drop fs');
  return {
    segmentSize,
    preallocate: opts?.preallocate ?? 'zero',
    noSync: opts?.noSync ?? false,
    fs: opts?.fs ?? defaultFileSystem,
    logger: opts?.logger ?? noopLogger,
    readInWorker: opts?.readInWorker ?? false,
  };
}

const EMPTY_STATE: WalHardState = { term: 0, vote: 0n, commit: 0 };

/**
 * A segmented, crash-safe write-ahead log. One instance owns its directory (see {@link DirLock})
 * and appends to the newest segment; `save` groups a whole raft Ready into one write and one
 * fdatasync. Calls are serialized internally, so concurrent callers queue rather than interleave.
 */
export class Wal {
  private readonly encoder = new BatchEncoder();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Set when an fsync failed: what reached disk is unknowable, so no more writes (reopen to read). */
  private failure: WalIOError | undefined;
  /** Prepares the next segment file in the background once the tail is half full. */
  private readonly pipeline: SegmentPipeline;
  /** Whether readAll() has copied the entries' data out of the segment buffers. */
  private entryDataOwned = false;

  private constructor(
    readonly dir: string,
    private readonly opts: ResolvedOptions,
    private readonly lock: DirLock,
    private segments: SegmentName[],
    private tail: Tail,
    private crc: number,
    private lastIndex: number,
    private readonly metadata: Uint8Array,
    private hardState: WalHardState | undefined,
    /** What open found; entry data still views the segment buffers until readAll() copies it. */
    private contents: WalContents | undefined,
  ) {
    this.pipeline = new SegmentPipeline(dir, opts);
  }

  /** True if `dir` holds at least one WAL segment. */
  static exists(dir: string): boolean {
    if (!existsSync(dir)) return false;
    return segmentNames(readdirSync(dir)).length > 0;
  }

  /**
   * Creates a new WAL in `dir` (which must not exist or be empty) whose first segment records
   * `metadata` and a snapshot marker at index 0. The directory is built under a temporary name and
   * renamed into place, so a crash never leaves a half-created WAL.
   * @throws WalExistsError if `dir` already holds a WAL or any other file
   */
  static async create(dir: string, metadata: Uint8Array, options?: WalOptions): Promise<Wal> {
    const opts = resolve(options);
    const fs = opts.fs;
    if (Wal.exists(dir)) throw new WalExistsError(`wal: ${dir} already holds a WAL`);
    const tmpDir = `${dir}.tmp`;
    await io('remove', tmpDir, () => fs.rm(tmpDir));
    await io('mkdir', tmpDir, () => fs.mkdir(tmpDir));
    const lock = await DirLock.acquire(fs, tmpDir);
    const name = segmentFileName(0, 0);
    const encoder = new BatchEncoder();
    encoder.reset(0);
    encoder.addCrc(0);
    encoder.addMetadata(metadata);
    encoder.addSnapshot({ index: 0, term: 0 });
    encoder.addBatchEnd(0);
    let file: WalFile | undefined;
    try {
      const path = join(tmpDir, name);
      file = await io('create', path, () => fs.open(path, 'wx+'));
      const size = await preallocate(file, path, opts, encoder.length);
      await writeFully(file, path, encoder.bytes(), 0);
      if (!opts.noSync) await io('fdatasync', path, () => file!.datasync());
      if (!opts.noSync) await io('fsync dir', tmpDir, () => fs.syncDir(tmpDir));
      if (await fs.exists(dir)) {
        // rename() replaces only an empty directory; never delete anything the caller put there.
        const listing = await io('readdir', dir, () => fs.readdir(dir));
        if (listing.length > 0) throw new WalExistsError(`wal: ${dir} exists and is not empty`);
        await io('remove', dir, () => fs.rm(dir));
      }
      await io('rename', tmpDir, () => fs.rename(tmpDir, dir));
      lock.dir = dir;
      if (!opts.noSync) await io('fsync dir', dirname(dir), () => fs.syncDir(dirname(dir)));
      const tail: Tail = { file, path: join(dir, name), seq: 0, offset: encoder.length, size };
      opts.logger('info', 'wal created', { dir });
      return new Wal(
        dir,
        opts,
        lock,
        [{ name, seq: 0, firstIndex: 0 }],
        tail,
        encoder.crc,
        0,
        metadata,
        undefined,
        {
          metadata,
          hardState: { ...EMPTY_STATE },
          entries: [],
        },
      );
    } catch (err) {
      await file?.close().catch(() => {});
      await lock.release().catch(() => {});
      throw err;
    }
  }

  /**
   * Opens an existing WAL for appending, reading it from the snapshot marker `marker` on: entries
   * after `marker.index`, the newest hard state and the metadata become {@link readAll}'s result.
   * A torn last batch (a crash during `save`) is dropped and its bytes zeroed; damage anywhere a
   * crash cannot explain throws {@link WalCorruptionError}.
   * @throws WalLockedError if another process or Wal holds the directory
   * `marker` may also be a function that picks the marker from every snapshot marker the WAL holds
   * (e.g. the newest one whose snapshot file exists): the segments are then read once for both, where
   * {@link snapshotMarkers} followed by `open` would read them twice. It also gets the commit index of
   * the newest hard state, so it can skip markers past it as etcd's ValidSnapshotEntries does (a
   * received snapshot is marked before the hard state that commits it is saved).
   * @throws SnapshotNotFoundError / SnapshotMismatchError if no marker at `marker.index` / a
   *   different term is recorded there
   */
  static async open(
    dir: string,
    marker:
      | WalSnapshotMarker
      | ((available: WalSnapshotMarker[], committed: number) => Promise<WalSnapshotMarker>),
    options?: WalOptions,
  ): Promise<Wal> {
    const opts = resolve(options);
    const fs = opts.fs;
    const lock = await DirLock.acquire(fs, dir);
    let tailFile: WalFile | undefined;
    try {
      const listing = await io('readdir', dir, () => fs.readdir(dir));
      for (const n of listing) {
        if (n.endsWith('.wal.tmp')) await io('unlink', join(dir, n), () => fs.unlink(join(dir, n))); // unfinished cut
      }
      const segments = segmentNames(listing);
      if (segments.length === 0) throw new WalNotFoundError(`wal: no segments in ${dir}`);
      if (!isConsecutive(segments)) {
        throw new WalCorruptionError(dir, 0, 'segment sequence numbers are not consecutive');
      }
      const read = opts.readInWorker
        ? await readForOpenInWorker(dir, segments, marker)
        : await readForOpen(fs, dir, segments, marker);
      const { contents, lastIndex, savedState, last } = read;
      const lastName = segments[segments.length - 1]!;
      const path = join(dir, lastName.name);
      tailFile = await io('open', path, () => fs.open(path, 'r+'));
      if (last.torn) {
        const stale = last.dirtyEnd;
        opts.logger('warn', 'wal: dropping torn tail', {
          file: path,
          offset: last.torn.offset,
          reason: last.torn.reason,
          clearedBytes: stale - last.validEnd,
        });
        // Clear the torn bytes so a later scan never mistakes them for records after new batches.
        for (let p = last.validEnd; p < stale; p += ZERO_CHUNK.length) {
          await writeFully(tailFile, path, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, stale - p)), p);
        }
        if (!opts.noSync && stale > last.validEnd) await io('fdatasync', path, () => tailFile!.datasync());
      }
      const tail: Tail = {
        file: tailFile,
        path,
        seq: lastName.seq,
        offset: last.validEnd,
        size: last.size,
      };
      return new Wal(
        dir,
        opts,
        lock,
        segments,
        tail,
        last.crc,
        Math.max(lastIndex, read.marker.index, lastName.firstIndex - 1),
        contents.metadata,
        savedState,
        contents,
      );
    } catch (err) {
      await tailFile?.close().catch(() => {});
      await lock.release().catch(() => {});
      throw err;
    }
  }

  /**
   * Snapshot markers recorded in the WAL at `dir`, oldest first, without locking it (like etcd's
   * ValidSnapshotEntries). Feed them to {@link Snapshotter.loadNewestAvailable}.
   */
  static async snapshotMarkers(dir: string, options?: WalOptions): Promise<WalSnapshotMarker[]> {
    const opts = resolve(options);
    const listing = await io('readdir', dir, () => opts.fs.readdir(dir));
    const segments = segmentNames(listing);
    if (segments.length === 0) throw new WalNotFoundError(`wal: no segments in ${dir}`);
    return markersOf((await readSegments(opts.fs, dir, segments)).scans);
  }

  /**
   * Metadata, newest hard state and entries after the snapshot marker, as found when opened. The entries'
   * data is copied out of the segment buffers (on the first call) into shared ~1 MiB blocks.
   * @throws WalError after {@link takeAll}
   */
  async readAll(): Promise<WalContents> {
    const contents = this.openedContents();
    if (!this.entryDataOwned) {
      detachEntryData(contents.entries);
      this.entryDataOwned = true;
    }
    return contents;
  }

  /**
   * The same contents as {@link readAll}, once, without copying: each entry's `data` may be a view into
   * the buffer a segment was read into, and the Wal forgets the contents, so those buffers (16 MiB each)
   * are freed as soon as the caller drops the entries. For a caller that copies what it keeps anyway (a
   * raft log that packs payloads); it saves a copy of every entry since the snapshot at a restart.
   * @throws WalError if the contents were already taken
   * @example
   * const { hardState, entries } = wal.takeAll();
   * for (const e of entries) raftLog.push(e); // copies e.data
   */
  takeAll(): WalContents {
    const contents = this.openedContents();
    this.contents = undefined;
    return contents;
  }

  private openedContents(): WalContents {
    if (!this.contents) throw new WalError('wal: the contents read at open were already taken (takeAll)');
    return this.contents;
  }

  /**
   * Appends `entries` and then `hardState` (if given) as one batch, with one write and one
   * fdatasync. Resolves only once durable. An entry whose index is at or below an earlier one
   * replaces it and everything after it on the next read (raft log truncation).
   * @throws WalIOError if a write or fdatasync fails. After a failed write nothing is acknowledged
   *   and the next save overwrites the same place; after a failed fdatasync the Wal refuses further
   *   writes (the kernel may have dropped the dirty pages), and must be closed and reopened.
   */
  save(hardState: WalHardState | undefined, entries: readonly WalEntry[]): Promise<void> {
    return this.serialized(async () => {
      if (!hardState && entries.length === 0) return;
      await this.cutIfFull();
      const enc = this.encoder;
      enc.reset(this.crc);
      for (const e of entries) enc.addEntry(e);
      if (hardState) enc.addState(hardState);
      enc.addBatchEnd(this.tail.offset);
      await this.writeBatch();
      this.prepareNextIfHalfFull();
      if (entries.length > 0) this.lastIndex = entries[entries.length - 1]!.index;
      if (hardState)
        this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    });
  }

  /**
   * Records that a snapshot at (index, term) exists, durably. Open from it later with
   * {@link Wal.open}; then {@link releaseTo} may drop the segments before it.
   */
  saveSnapshot(marker: WalSnapshotMarker): Promise<void> {
    return this.serialized(async () => {
      await this.cutIfFull();
      const enc = this.encoder;
      enc.reset(this.crc);
      enc.addSnapshot(marker);
      enc.addBatchEnd(this.tail.offset);
      await this.writeBatch();
      this.prepareNextIfHalfFull();
      if (marker.index > this.lastIndex) this.lastIndex = marker.index;
    });
  }

  /**
   * Deletes segments wholly before the segment that holds `index` (etcd's ReleaseLockTo rule: the
   * segment named with the last first-index below `index` is kept). The newest segment is never
   * deleted.
   */
  releaseTo(index: number): Promise<void> {
    return this.serialized(async () => {
      let keepFrom = this.segments.length - 1;
      for (let i = 0; i < this.segments.length; i++) {
        if (this.segments[i]!.firstIndex >= index) {
          keepFrom = i - 1;
          break;
        }
      }
      if (keepFrom <= 0) return;
      const fs = this.opts.fs;
      for (const seg of this.segments.slice(0, keepFrom)) {
        const path = join(this.dir, seg.name);
        await io('unlink', path, () => fs.unlink(path));
        this.opts.logger('info', 'wal: released segment', { file: path });
      }
      this.segments = this.segments.slice(keepFrom);
      if (!this.opts.noSync) await io('fsync dir', this.dir, () => fs.syncDir(this.dir));
    });
  }

  /** Names of the segment files currently on disk, oldest first. */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.name);
  }

  /** Waits for queued calls, closes the tail segment and releases the directory lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => {});
    this.closed = true;
    try {
      await this.pipeline.close();
      await io('close', this.tail.path, () => this.tail.file.close());
    } finally {
      await this.lock.release();
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new WalClosedError('wal: closed');
      if (this.failure)
        throw new WalClosedError('wal: an earlier fdatasync failed; reopen the WAL', { cause: this.failure });
      return fn();
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Writes the encoder's batch at the tail and makes it durable. */
  private async writeBatch(): Promise<void> {
    const tail = this.tail;
    const bytes = this.encoder.bytes();
    const end = tail.offset + bytes.length;
    if (end > tail.size) {
      // A batch larger than the room left: grow first so the length is covered by the same fdatasync.
      await io('truncate', tail.path, () => tail.file.truncate(end));
      tail.size = end;
    }
    if (tail.file.writeDurable) {
      try {
        await tail.file.writeDurable(bytes, 0, bytes.length, tail.offset, !this.opts.noSync);
      } catch (err) {
        if ((err as DurableWriteError).op !== 'fdatasync') throw new WalIOError('write', tail.path, err);
        this.failure = new WalIOError('fdatasync', tail.path, err);
        throw this.failure;
      }
    } else {
      await writeFully(tail.file, tail.path, bytes, tail.offset);
      if (!this.opts.noSync) {
        try {
          await tail.file.datasync();
        } catch (err) {
          this.failure = new WalIOError('fdatasync', tail.path, err);
          throw this.failure;
        }
      }
    }
    tail.offset = end;
    this.crc = this.encoder.crc;
  }

  /** Has the pipeline prepare the next segment once the tail is half full (see SegmentPipeline). */
  private prepareNextIfHalfFull(): void {
    if (this.tail.offset >= this.opts.segmentSize / 2) this.pipeline.prepare();
  }

  /**
   * Starts a new segment once the tail reached the segment size. The new file is the pipeline's
   * prepared one (or, if none is ready, `NAME.wal.tmp` preallocated here); its header batch is
   * written and synced, then it is renamed into place and the directory fsynced, so a crash leaves
   * either no new segment or a complete one.
   */
  private async cutIfFull(): Promise<void> {
    if (this.tail.offset < this.opts.segmentSize) return;
    const fs = this.opts.fs;
    const seq = this.tail.seq + 1;
    const name = segmentFileName(seq, this.lastIndex + 1);
    const path = join(this.dir, name);
    const enc = this.encoder;
    enc.reset(this.crc);
    enc.addCrc(this.crc);
    enc.addMetadata(this.metadata);
    if (this.hardState) enc.addState(this.hardState);
    enc.addBatchEnd(0);
    const prepared = await this.pipeline.take();
    let tmpPath = `${path}.tmp`;
    let file: WalFile | undefined;
    let renamed = false;
    try {
      let size: number;
      if (prepared) {
        ({ file, path: tmpPath, size } = prepared);
        if (size < enc.length) {
          await io('truncate', tmpPath, () => file!.truncate(enc.length));
          size = enc.length;
        }
      } else {
        if (await fs.exists(tmpPath)) await io('unlink', tmpPath, () => fs.unlink(tmpPath));
        file = await io('create', tmpPath, () => fs.open(tmpPath, 'wx+'));
        size = await preallocate(file, tmpPath, this.opts, enc.length);
      }
      await writeFully(file, tmpPath, enc.bytes(), 0);
      if (!this.opts.noSync) await io('fdatasync', tmpPath, () => file!.datasync());
      await io('rename', tmpPath, () => fs.rename(tmpPath, path));
      renamed = true;
      if (!this.opts.noSync) await io('fsync dir', this.dir, () => fs.syncDir(this.dir));
      const old = this.tail;
      this.tail = { file, path, seq, offset: enc.length, size };
      this.crc = enc.crc;
      this.segments.push({ name, seq, firstIndex: this.lastIndex + 1 });
      this.opts.logger('info', 'wal: cut segment', { file: path, prepared: prepared !== undefined });
      // The old segment is complete and synced; dropping its unused preallocation only saves space.
      await old.file.truncate(old.offset).catch(() => {});
      await old.file.close().catch(() => {});
    } catch (err) {
      if (renamed) {
        // The new name may or may not be durable; appending to either file could be lost.
        this.failure = err instanceof WalIOError ? err : new WalIOError('cut', path, err);
      } else {
        await file?.close().catch(() => {});
        await fs.unlink(tmpPath).catch(() => {});
      }
      throw err;
    }
  }
}
