/**
 * The MVCC store: etcd's revisioned key space over a pluggable {@link Backend}.
 *
 * - Every write transaction gets the next main revision; its changes get sub revisions 0, 1, ...
 * - Each change is stored as `revision -> mvccpb.KeyValue` in the `key` bucket; an in-memory
 *   {@link TreeIndex} maps keys to their generations of revisions and is rebuilt on open.
 * - Writes update the index and a {@link WriteBuffer} at once (visible to reads immediately); the buffer
 *   is committed to the backend every `batchInterval` ms or `batchLimit` operations, together with the
 *   raft index of the last write (the consistent index), so replaying the WAL after a crash is idempotent.
 * - Writes are serialised; reads run concurrently against a backend view plus the buffers alive when
 *   they start.
 */
import type { Backend, ReadView } from './backend/types.js';
import { bytesToKey, keyToBytes } from './btree.js';
import { revisionSlab } from './byte-slab.js';
import { Crc32c } from './crc32.js';
import { ErrClosed, ErrCompacted, ErrFutureRev, ErrKeyNotFound, ErrStorage, MvccError } from './errors.js';
import { type IndexHit, type KeyHistory, revId, TreeIndex, TreeIndexBuilder } from './key-index.js';
import { decodeKeyIndexImage, encodeKeyIndexImage, type KeyIndexImage } from './key-index-file.js';
import { saveKeyIndexFile, takeKeyIndexFile } from './key-index-io.js';
import { decodeIndexFields, decodeKeyValue, encodeOwnedKeyValue } from './kv-codec.js';
import { compareRange, filterByRevisions, needsFullFetch, normaliseRangeEnd, sortKvs } from './range-ops.js';
import { bytesToRev, bytesToUint64, revLowerBound, revToBytes, uint64ToBytes } from './revision.js';
import { RevisionCache } from './revision-cache.js';
import { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './txn-check.js';
import {
  CompareTarget,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  EMPTY_BYTES,
  type Event,
  EventType,
  type KeyValue,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
  toId,
  toNum,
} from './types.js';
import { type HistorySource, type Watcher, WatchHub, type WatchOptions, type WatchSink } from './watch.js';
import { type HistoryEntry, KEY_BUCKET, META_BUCKET, metaId, WriteBuffer } from './write-buffer.js';

const META_CONSISTENT_INDEX = new TextEncoder().encode('consistent_index');
const META_SCHEDULED_COMPACT = new TextEncoder().encode('scheduledCompactRev');
const META_FINISHED_COMPACT = new TextEncoder().encode('finishedCompactRev');
const COMPACTION_BATCH = 10_000;

/** Options for {@link MvccStore.open}. */
export interface StoreOptions {
  /** Commit buffered writes at least this often, in ms (default 100, like etcd's batch interval). */
  batchInterval?: number;
  /** Commit once this many backend operations are buffered (default 10000, like etcd's batch limit). */
  batchLimit?: number;
  /**
   * Bytes of committed KeyValues kept in memory by revision (default 16 MiB; 0 disables), so reads of
   * recent or hot revisions skip the asynchronous backend read.
   */
  readCacheBytes?: number;
  /**
   * Called with the duration in seconds of each backend commit that succeeded (the server feeds it to
   * etcd_disk_backend_commit_duration_seconds).
   */
  onCommit?: (seconds: number) => void;
  /**
   * Where a clean close saves the key index and the next open loads it instead of reading every
   * revision in the key bucket (a file inside the backend's directory; undefined: never saved). The
   * file is removed as it is loaded, and is only used when its consistent index, compacted revision and
   * last revision match the backend's (key-index-io.ts, docs/benchmarks.md "Restart and RSS (session
   * 6)"). `onIndexEvent` hears how it went.
   */
  indexFile?: string;
  /** Told how each open got its index and how each close's save went (for the server's log). */
  onIndexEvent?: (event: IndexEvent) => void;
  /** Watch hub tuning. */
  watch?: {
    maxEventsPerBatch?: number;
    maxRevisionsPerBatch?: number;
    maxQueuedBatches?: number;
    progressInterval?: number;
  };
}

/**
 * What happened to the key index at an open or a close (see StoreOptions.indexFile).
 * @example
 * MvccStore.open(backend, { indexFile, onIndexEvent: (e) => e.op === 'load' && console.log(e.source) });
 */
export type IndexEvent =
  | { op: 'load'; source: 'file' | 'scan'; reason?: string; keys: number; ms: number }
  | { op: 'save'; keys: number; ms: number; error?: Error };

/** Default size of the committed-revision read cache. */
const DEFAULT_READ_CACHE_BYTES = 16 * 1024 * 1024;

/** The raft entry a write comes from. */
export interface ApplyContext {
  /** Raft index; recorded as the consistent index in the same backend commit as the write. */
  index: number;
}

/** Result of every write. */
export interface WriteResult<R> {
  response: R;
  /** Store revision after the write (the response header revision). */
  revision: number;
  /** Events the write produced, in order (empty for writes that changed nothing). */
  events: Event[];
  /** True when ctx.index <= consistentIndex(): the entry was applied before and was skipped now. */
  skipped?: boolean;
}

/** A range result with the revision etcd puts in the response header (the store's current revision). */
export interface RangeResult extends RangeResponse {
  revision: number;
}

/** Options for a read. */
export interface RangeOptions {
  /** Skip request validation (the server already validated). */
  trusted?: boolean;
}

/** Result of compact(). */
export interface CompactResult {
  revision: number;
  /** Resolves when the compacted revisions have been physically removed (never rejects). */
  physical: Promise<void>;
}

/** One key of {@link MvccStore.dumpIndex}. */
export interface IndexDump {
  key: Uint8Array;
  generations: { created: number; version: number; revisions: [main: number, sub: number][] }[];
}

/** Result of hashKV(). */
export interface HashKVResult {
  hash: number;
  compactRevision: number;
  revision: number;
}

/**
 * A read's consistent sources: the write buffers alive when the read began plus a backend view. The view
 * (a LevelDB snapshot, an LMDB read txn) is opened on first use only, because reads answered from the
 * buffers or the read cache never need it; callers touch it in the same synchronous turn as they
 * collected their index hits, so it shows the same backend state.
 */
class ReadSources {
  private opened: ReadView | undefined;

  constructor(
    private readonly backend: Backend,
    /** Oldest first. */
    readonly buffers: WriteBuffer[],
  ) {}

  get view(): ReadView {
    this.opened ??= this.backend.view();
    return this.opened;
  }

  close(): void {
    this.opened?.close();
  }
}

/**
 * Thrown by the synchronous write path when a read it needs (prev_kv, a value or lease compare, a range
 * inside a txn) is neither in the write buffers nor in the read cache. The write is undone, the
 * revisions are read from the backend, and the write runs again with them at hand.
 */
class NeedsRead {
  constructor(readonly hits: { modMain: number; modSub: number }[]) {}
}

/** An in-progress write transaction (one main revision). */
class WriteTxn {
  readonly changes: { kv: KeyValue; tombstone: boolean }[] = [];
  constructor(
    readonly beginRev: number,
    /** Revisions read from the backend for this write by an earlier attempt, by revId. */
    readonly fetched?: Map<string, KeyValue>,
  ) {}
  /** Revision the txn's changes get. */
  get rev(): number {
    return this.beginRev + 1;
  }
  /** Revision reads inside the txn see (its own earlier changes included). */
  get readRev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }
}

/**
 * Serialises critical sections. A caller that finds it idle (nothing running, nothing queued) may run
 * its section synchronously instead ({@link Mutex.idle}, setting `held` around it): queued sections
 * always run first, so the order of writes stays the order they were started in.
 */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  held = false;
  /** Sections queued or running. */
  private pending = 0;
  /** True when a section started now would run at once. */
  get idle(): boolean {
    return this.pending === 0 && !this.held;
  }
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(async () => {
      this.held = true;
      try {
        return await fn();
      } finally {
        this.held = false;
        this.pending--;
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

/** etcd's isTxnReadonly: no put or delete in any branch, at any depth. */
export function isTxnReadOnly(r: TxnRequest): boolean {
  const ops = [...(r.success ?? []), ...(r.failure ?? [])];
  return ops.every(
    (op) => !op.requestPut && !op.requestDeleteRange && (!op.requestTxn || isTxnReadOnly(op.requestTxn)),
  );
}

function emptyKv(key: Uint8Array): KeyValue {
  return { key, createRevision: 0, modRevision: 0, version: 0, value: EMPTY_BYTES, lease: 0n };
}

export class MvccStore implements HistorySource {
  private index = new TreeIndex();
  private currentRev = 1;
  private compactRev = 0;
  private consistentIdx = 0;
  private buffer: WriteBuffer;
  /** Buffers sealed and being committed, oldest first. */
  private committing: WriteBuffer[] = [];
  private commitChain: Promise<void> = Promise.resolve();
  /**
   * Each live key that carries a lease, and the lease (tree keys): found at open, then kept current by
   * every write (end()), so keysWithLease() and a saved index never read values. Empty in a store
   * without leases, where writes skip it at the cost of one size check.
   */
  private leasedKeys = new Map<string, bigint>();
  /** Committed revisions kept in memory (see RevisionCache). */
  private readonly readCache: RevisionCache;
  private commitTimer: NodeJS.Timeout | undefined;
  private commitWanted = false;
  private failure: Error | undefined;
  private readonly writes = new Mutex();
  private compaction: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly batchInterval: number;
  private readonly onCommit: ((seconds: number) => void) | undefined;
  private readonly batchLimit: number;
  private readonly indexFile: string | undefined;
  private readonly onIndexEvent: StoreOptions['onIndexEvent'];
  /** The watch hub fed by this store's writes. */
  readonly hub: WatchHub;

  private constructor(
    readonly backend: Backend,
    opts: StoreOptions,
  ) {
    this.batchInterval = opts.batchInterval ?? 100;
    this.onCommit = opts.onCommit;
    this.batchLimit = opts.batchLimit ?? 10_000;
    this.indexFile = opts.indexFile;
    this.onIndexEvent = opts.onIndexEvent;
    this.readCache = new RevisionCache(opts.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES);
    this.buffer = new WriteBuffer(backend.batch());
    this.hub = new WatchHub(this, opts.watch ?? {});
  }

  /** Opens a store over a backend, rebuilding the key index from the key bucket. */
  static async open(backend: Backend, opts: StoreOptions = {}): Promise<MvccStore> {
    const store = new MvccStore(backend, opts);
    await store.restore();
    return store;
  }

  // ---- state ----------------------------------------------------------------------------------------

  /** Current revision (1 on an empty store, like etcd). */
  rev(): number {
    return this.currentRev;
  }

  /** Highest compacted revision (0 if never compacted). */
  compactRevision(): number {
    return this.compactRev;
  }

  /** Raft index of the last applied write. */
  consistentIndex(): number {
    return this.consistentIdx;
  }

  /** Number of keys in the index (live or with history). */
  keyCount(): number {
    return this.index.keyCount;
  }

  /**
   * The key index as plain data (diagnostics and tests): per key, its generations with creation
   * revision, version count and revision pairs.
   */
  dumpIndex(): IndexDump[] {
    const out: IndexDump[] = [];
    this.index.forEach((key, generations) => {
      out.push({
        key,
        generations: generations.map((g) => ({
          created: g.createdMain,
          version: g.ver,
          revisions: Array.from({ length: g.revs.length / 2 }, (_, i) => [
            g.revs[2 * i]!,
            g.revs[2 * i + 1]!,
          ]),
        })),
      });
    });
    return out;
  }

  private async restore(): Promise<void> {
    const ci = await this.backend.get(META_BUCKET, META_CONSISTENT_INDEX);
    if (ci) this.consistentIdx = bytesToUint64(ci);
    const scheduledBytes = await this.backend.get(META_BUCKET, META_SCHEDULED_COMPACT);
    const finishedBytes = await this.backend.get(META_BUCKET, META_FINISHED_COMPACT);
    const scheduled = scheduledBytes ? bytesToUint64(scheduledBytes) : 0;
    const finished = finishedBytes ? bytesToUint64(finishedBytes) : 0;
    const started = performance.now();
    const reason = this.indexFile
      ? await this.loadSavedIndex(scheduled, finished)
      : 'no index file configured';
    if (reason === undefined) {
      this.onIndexEvent?.({
        op: 'load',
        source: 'file',
        keys: this.index.keyCount,
        ms: performance.now() - started,
      });
      return;
    }
    await this.rebuildIndex(scheduled, finished);
    this.onIndexEvent?.({
      op: 'load',
      source: 'scan',
      reason,
      keys: this.index.keyCount,
      ms: performance.now() - started,
    });
  }

  /**
   * Loads the index a clean close saved, if it describes this backend; returns why not otherwise (the
   * caller then scans). The file is removed either way before any write can happen (key-index-io.ts).
   */
  private async loadSavedIndex(scheduled: number, finished: number): Promise<string | undefined> {
    const bytes = await takeKeyIndexFile(this.indexFile!);
    if (!bytes) return 'no saved index';
    let img: KeyIndexImage;
    try {
      img = decodeKeyIndexImage(bytes);
    } catch (err) {
      return (err as Error).message;
    }
    // The backend's newest revision: one entry from the top of the key bucket.
    const lastKeyRev = await this.lastKeyRevision();
    if (img.consistentIndex !== this.consistentIdx)
      return `stale saved index (consistent index ${img.consistentIndex}, backend ${this.consistentIdx})`;
    if (img.lastKeyRev !== lastKeyRev)
      return `stale saved index (last revision ${img.lastKeyRev}, backend ${lastKeyRev})`;
    if (scheduled !== finished || img.compactRev !== finished)
      return `stale saved index (compacted at ${img.compactRev}, backend ${finished}/${scheduled})`;
    this.index = TreeIndex.fromSorted(img.keys, img.histories);
    this.leasedKeys = img.leases;
    this.compactRev = finished;
    this.currentRev = Math.max(1, lastKeyRev, finished);
    return undefined;
  }

  /** The highest main revision in the key bucket (0 if empty): one entry read from its top. */
  private async lastKeyRevision(): Promise<number> {
    let last = 0;
    for await (const chunk of this.backend.scanChunks(KEY_BUCKET, { reverse: true, limit: 1 })) {
      for (const [k] of chunk) last = bytesToRev(k).main;
    }
    return last;
  }

  /** Rebuilds the key index from every revision in the key bucket. */
  private async rebuildIndex(scheduled: number, finished: number): Promise<void> {
    // Revisions arrive in order, so the last put of each live key leaves its current lease here.
    const leases = this.leasedKeys;
    const builder = new TreeIndexBuilder();
    let lastKeyRev = 0;
    // Raw entries: only their bytes are read here, so no per-entry views (scanRaw's doc).
    await this.backend.scanRaw(KEY_BUCKET, (k, at, v) => {
      const rev = bytesToRev(k, at);
      const kv = decodeIndexFields(v);
      if (rev.tombstone) {
        builder.tombstone(kv.key, rev.main, rev.sub);
        leases.delete(kv.key);
      } else {
        builder.put(kv.key, rev.main, rev.sub, kv.createRevision, kv.version);
        if (kv.lease) leases.set(kv.key, kv.lease);
        else leases.delete(kv.key);
      }
      if (rev.main > lastKeyRev) lastKeyRev = rev.main;
    });
    this.index = builder.build();
    if (lastKeyRev > this.currentRev) this.currentRev = lastKeyRev;
    this.compactRev = finished;
    if (scheduled > finished) {
      // A compaction was recorded but its physical cleanup did not finish; redo it.
      this.compactRev = scheduled;
      const keep = this.index.compact(scheduled);
      this.compaction = this.physicalCompaction(scheduled, keep);
    } else if (finished > 0) {
      this.index.compact(finished);
    }
    if (this.currentRev < this.compactRev) this.currentRev = this.compactRev;
  }

  // ---- reads ---------------------------------------------------------------------------------------

  private openSources(): ReadSources {
    if (this.closed) throw new ErrClosed();
    // Only buffers holding revisions matter to KeyValue lookups (meta-only buffers are skipped).
    const buffers = this.committing.filter((b) => b.kvs.size > 0);
    if (this.buffer.kvs.size > 0) buffers.push(this.buffer);
    return new ReadSources(this.backend, buffers);
  }

  private async fetchKvs(src: ReadSources, hits: { modMain: number; modSub: number }[]): Promise<KeyValue[]> {
    const out: (KeyValue | undefined)[] = new Array(hits.length);
    const missIdx: number[] = [];
    const missKeys: Uint8Array[] = [];
    for (let i = 0; i < hits.length; i++) {
      const id = revId(hits[i]!.modMain, hits[i]!.modSub);
      let bytes: Uint8Array | undefined;
      for (let b = src.buffers.length - 1; b >= 0 && !bytes; b--) bytes = src.buffers[b]!.kvs.get(id);
      bytes ??= this.readCache.get(id);
      if (bytes) out[i] = decodeKeyValue(bytes);
      else {
        missIdx.push(i);
        missKeys.push(revToBytes(hits[i]!.modMain, hits[i]!.modSub));
      }
    }
    if (missKeys.length > 0) {
      let values: (Uint8Array | undefined)[];
      try {
        values = await src.view.getMany(KEY_BUCKET, missKeys);
      } catch (err) {
        throw err instanceof ErrClosed ? err : new ErrStorage('key revisions', err);
      }
      for (let j = 0; j < values.length; j++) {
        const v = values[j];
        const h = hits[missIdx[j]!]!;
        if (!v)
          throw new ErrStorage(`revision ${h.modMain}_${h.modSub} is in the index but not in the backend`);
        this.readCache.set(revId(h.modMain, h.modSub), v);
        out[missIdx[j]!] = decodeKeyValue(v);
      }
    }
    return out as KeyValue[];
  }

  private checkReadRev(requested: number, curRev: number): number {
    if (requested <= 0) return curRev;
    if (requested > curRev) throw new ErrFutureRev(curRev);
    if (requested < this.compactRev) throw new ErrCompacted(this.compactRev);
    return requested;
  }

  /** Collects the index hits of a range synchronously (so they match the captured sources). */
  private collect(r: RangeRequest, rev: number): { hits: IndexHit[]; count: number } {
    const limit = toNum(r.limit);
    const fetchLimit = needsFullFetch(r) ? 0 : limit > 0 ? limit + 1 : 0;
    const hits: IndexHit[] = [];
    let count = 0;
    this.index.range(r.key!, normaliseRangeEnd(r.rangeEnd), rev, (hit) => {
      count++;
      if (fetchLimit === 0 || hits.length < fetchLimit) hits.push(hit);
      else if (r.countOnly !== true) {
        // etcd counts everything; keep walking only for the count.
      }
    });
    return { hits, count };
  }

  /** A range's response from its fetched KeyValues: filters, sort, limit and keys_only. */
  private finishRange(r: RangeRequest, fetched: KeyValue[], count: number): RangeResponse {
    let kvs = sortKvs(r, filterByRevisions(r, fetched));
    const limit = toNum(r.limit);
    let more = false;
    if (limit > 0 && kvs.length > limit) {
      kvs = kvs.slice(0, limit);
      more = true;
    }
    if (r.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY_BYTES }));
    return { kvs, more, count };
  }

  /** etcd Range: single key, [key, rangeEnd), prefix or from-key, at the current or a past revision. */
  async range(r: RangeRequest, opts: RangeOptions = {}): Promise<RangeResult> {
    if (!opts.trusted) checkRangeRequest(r);
    const curRev = this.currentRev;
    const rev = this.checkReadRev(toNum(r.revision), curRev);
    const { hits, count } = this.collect(r, rev);
    if (r.countOnly) return { kvs: [], more: false, count, revision: curRev };
    const src = this.openSources();
    try {
      return { ...this.finishRange(r, await this.fetchKvs(src, hits), count), revision: curRev };
    } finally {
      src.close();
    }
  }

  /**
   * The live KeyValue of `key` at `rev`; undefined if absent or compacted (as etcd's prev_kv lookup).
   * @throws ErrStorage if the engine cannot read it (never reported as absent)
   */
  async kvAt(key: Uint8Array, rev: number): Promise<KeyValue | undefined> {
    if (rev < this.compactRev) return undefined;
    const hit = this.index.get(key, rev);
    if (!hit) return undefined;
    const src = this.openSources();
    try {
      return (await this.fetchKvs(src, [hit]))[0];
    } finally {
      src.close();
    }
  }

  /**
   * Key-bucket entries with main revision in [from, to], whole revisions only, about `maxEntries` of
   * them (more if a single revision is larger). Returns the entries and the last revision covered.
   */
  async readHistory(
    from: number,
    to: number,
    maxEntries: number,
  ): Promise<{ entries: HistoryEntry[]; upTo: number }> {
    const src = this.openSources();
    try {
      const entries: HistoryEntry[] = [];
      try {
        for await (const chunk of src.view.scanChunks(KEY_BUCKET, {
          start: revLowerBound(from),
          end: revLowerBound(to + 1),
          limit: maxEntries + 1,
        })) {
          for (const [k, v] of chunk) {
            const rev = bytesToRev(k);
            entries.push({ main: rev.main, sub: rev.sub, tombstone: rev.tombstone, value: v });
          }
        }
      } catch (err) {
        throw err instanceof ErrClosed ? err : new ErrStorage(`history from revision ${from}`, err);
      }
      const lastBackend = entries.length > 0 ? entries[entries.length - 1]!.main : from - 1;
      if (entries.length <= maxEntries) {
        for (const buf of src.buffers) {
          for (let i = 0; i < buf.historyLength; i++) {
            const main = buf.historyMain(i);
            if (main > lastBackend && main >= from && main <= to) entries.push(buf.historyEntry(i));
          }
        }
      }
      if (entries.length <= maxEntries) return { entries, upTo: to };
      // Trim to whole revisions; if one revision alone exceeds the bound, deliver it whole.
      const lastMain = entries[maxEntries]!.main;
      if (entries[0]!.main !== lastMain) {
        let cut = maxEntries;
        while (cut > 0 && entries[cut - 1]!.main === lastMain) cut--;
        return { entries: entries.slice(0, cut), upTo: lastMain - 1 };
      }
      const whole = await this.readHistory(lastMain, lastMain, Number.MAX_SAFE_INTEGER);
      return { entries: whole.entries, upTo: lastMain };
    } finally {
      src.close();
    }
  }

  // ---- writes --------------------------------------------------------------------------------------
  //
  // A write runs synchronously: everything it touches (the key index, the write buffer, the watch hub)
  // is in memory. Only a read of a revision that is neither buffered nor cached (prev_kv, a value or
  // lease compare, a range inside a txn) needs the backend; then the attempt is undone (NeedsRead), the
  // revisions are read under the write lock and the write runs again. The promise-returning methods
  // (put, deleteRange, txn) take this path when the lock is idle and resolve with the result at once;
  // the try* variants return it without a promise, or undefined when the caller must use the former.

  /**
   * Runs one write now if the write lock is idle and no backend read is needed; undefined otherwise
   * (nothing was changed then). Request errors are thrown.
   */
  private writeSync<R>(ctx: ApplyContext, empty: R, fn: (txn: WriteTxn) => R): WriteResult<R> | undefined {
    if (this.closed) throw new ErrClosed();
    if (!this.writes.idle) return undefined;
    this.writes.held = true;
    try {
      const now = this.writeNow(ctx, empty, fn, undefined);
      return now instanceof NeedsRead ? undefined : now;
    } finally {
      this.writes.held = false;
    }
  }

  /** Runs one write: synchronously when it can, else under the write lock, reading what it needs. */
  private write<R>(ctx: ApplyContext, empty: R, fn: (txn: WriteTxn) => R): Promise<WriteResult<R>> {
    let now: WriteResult<R> | undefined;
    try {
      now = this.writeSync(ctx, empty, fn);
    } catch (err) {
      return Promise.reject(err);
    }
    if (now) return Promise.resolve(now);
    return this.writes.run(async () => {
      let fetched: Map<string, KeyValue> | undefined;
      for (;;) {
        const attempt = this.writeNow(ctx, empty, fn, fetched);
        if (!(attempt instanceof NeedsRead)) return attempt;
        fetched ??= new Map();
        await this.readInto(attempt.hits, fetched);
      }
    });
  }

  /**
   * One attempt at a write (the caller holds the write lock): handles the consistent index, undoes a
   * failed txn and publishes the events. Returns NeedsRead, with nothing changed, when a revision it
   * reads is not in memory.
   */
  private writeNow<R>(
    ctx: ApplyContext,
    empty: R,
    fn: (txn: WriteTxn) => R,
    fetched: Map<string, KeyValue> | undefined,
  ): WriteResult<R> | NeedsRead {
    if (this.failure) throw this.failure;
    if (ctx.index > 0 && ctx.index <= this.consistentIdx) {
      return { response: empty, revision: this.currentRev, events: [], skipped: true };
    }
    const txn = new WriteTxn(this.currentRev, fetched);
    const mark = this.buffer.mark();
    let retry = false;
    try {
      const response = fn(txn);
      const events = this.end(txn);
      return { response, revision: this.currentRev, events };
    } catch (err) {
      // A txn can fail after some of its changes (etcd would panic there, e.g. an ignore_value put
      // on a key an earlier "\0"-ranged delete of the same txn removed); undo them so no partial
      // txn is ever visible or committed.
      if (txn.changes.length > 0) this.undo(txn, mark);
      if (err instanceof NeedsRead) {
        retry = true;
        return err;
      }
      throw err;
    } finally {
      // etcd records the index of every applied entry, including ones that failed validation. Not
      // for an attempt that will run again: the index would make it look applied already.
      if (!retry) {
        if (ctx.index > this.consistentIdx) this.consistentIdx = ctx.index;
        this.afterWrite();
      }
    }
  }

  /** Reads revisions from the backend (buffers and cache first) into a write's `fetched` map. */
  private async readInto(hits: { modMain: number; modSub: number }[], into: Map<string, KeyValue>) {
    const src = this.openSources();
    try {
      const kvs = await this.fetchKvs(src, hits);
      for (let i = 0; i < hits.length; i++) into.set(revId(hits[i]!.modMain, hits[i]!.modSub), kvs[i]!);
    } finally {
      src.close();
    }
  }

  /**
   * The KeyValues of index hits from memory: the write buffers, the read cache, or what an earlier
   * attempt of this write fetched. Throws NeedsRead with every hit found in none of them.
   */
  private memKvs(txn: WriteTxn, hits: readonly { modMain: number; modSub: number }[]): KeyValue[] {
    const out = new Array<KeyValue>(hits.length);
    let missing: { modMain: number; modSub: number }[] | undefined;
    for (let i = 0; i < hits.length; i++) {
      const h = hits[i]!;
      const id = revId(h.modMain, h.modSub);
      let bytes = this.buffer.kvs.get(id);
      for (let b = this.committing.length - 1; b >= 0 && !bytes; b--) bytes = this.committing[b]!.kvs.get(id);
      bytes ??= this.readCache.get(id);
      const kv = bytes ? decodeKeyValue(bytes) : txn.fetched?.get(id);
      if (kv) out[i] = kv;
      else (missing ??= []).push(h);
    }
    if (missing) throw new NeedsRead(missing);
    return out;
  }

  private undo(txn: WriteTxn, mark: { ops: number; history: number }): void {
    for (let i = txn.changes.length - 1; i >= 0; i--) {
      const { kv, tombstone } = txn.changes[i]!;
      this.index.undo(kv.key, tombstone);
    }
    this.buffer.rollback(mark);
  }

  /** Ends a write txn: bumps the revision if anything changed and publishes the events. */
  private end(txn: WriteTxn): Event[] {
    if (txn.changes.length === 0) return [];
    this.currentRev = txn.rev;
    for (const { kv, tombstone } of txn.changes) {
      // Most stores never see a lease: then there is nothing to add or remove.
      if (kv.lease === 0n && this.leasedKeys.size === 0) continue;
      const k = bytesToKey(kv.key);
      if (!tombstone && kv.lease !== 0n) this.leasedKeys.set(k, kv.lease);
      else this.leasedKeys.delete(k);
    }
    const events: Event[] = txn.changes.map(({ kv, tombstone }) =>
      tombstone ? { type: EventType.DELETE, kv } : { type: EventType.PUT, kv },
    );
    this.hub.notify(this.currentRev, events);
    return events;
  }

  private doPut(txn: WriteTxn, r: PutRequest, prev: KeyValue | undefined): PutResponse {
    const key = r.key!;
    const rev = txn.rev;
    const value = r.ignoreValue ? prev!.value : (r.value ?? EMPTY_BYTES);
    const lease = r.ignoreLease ? prev!.lease : toId(r.lease);
    const look = this.index.lookupForPut(key, rev);
    const existing = look.hit;
    const kv: KeyValue = {
      key,
      value,
      createRevision: existing ? existing.createdMain : rev,
      modRevision: rev,
      version: existing ? existing.version + 1 : 1,
      lease,
    };
    const sub = txn.changes.length;
    // From here kv's key and value are views into its encoding, not into the request.
    this.buffer.putRevision(rev, sub, false, encodeOwnedKeyValue(kv, revisionSlab));
    this.index.putLooked(look, rev, sub);
    txn.changes.push({ kv, tombstone: false });
    return r.prevKv && prev ? { prevKv: prev } : {};
  }

  private txnPut(txn: WriteTxn, r: PutRequest): PutResponse {
    let prev: KeyValue | undefined;
    if (r.prevKv || r.ignoreValue || r.ignoreLease) {
      const hit = this.index.get(r.key!, txn.readRev);
      prev = hit ? this.memKvs(txn, [hit])[0] : undefined;
      if ((r.ignoreValue || r.ignoreLease) && !prev) throw new ErrKeyNotFound();
    }
    return this.doPut(txn, r, prev);
  }

  private txnDelete(txn: WriteTxn, r: DeleteRangeRequest): DeleteRangeResponse {
    const hits: IndexHit[] = [];
    const keys: string[] = [];
    this.index.range(r.key!, normaliseRangeEnd(r.rangeEnd), txn.readRev, (hit, k) => {
      hits.push(hit);
      keys.push(k);
    });
    const prevKvs = r.prevKv && hits.length > 0 ? this.memKvs(txn, hits) : [];
    const rev = txn.rev;
    for (const k of keys) {
      const sub = txn.changes.length;
      const tomb = emptyKv(keyToBytes(k));
      this.buffer.putRevision(rev, sub, true, encodeOwnedKeyValue(tomb, revisionSlab));
      this.index.tombstoneByTreeKey(k, rev, sub);
      txn.changes.push({ kv: { ...tomb, modRevision: rev }, tombstone: true });
    }
    return { deleted: hits.length, prevKvs };
  }

  private txnRange(txn: WriteTxn, r: RangeRequest): RangeResponse {
    const curRev = txn.readRev;
    const rev = this.checkReadRev(toNum(r.revision), curRev);
    const { hits, count } = this.collect(r, rev);
    if (r.countOnly) return { kvs: [], more: false, count };
    return this.finishRange(r, this.memKvs(txn, hits), count);
  }

  /** etcd Put. */
  put(r: PutRequest, ctx: ApplyContext): Promise<WriteResult<PutResponse>> {
    return this.write(ctx, {}, (txn) => {
      checkPutRequest(r);
      return this.txnPut(txn, r);
    });
  }

  /**
   * {@link put} without a promise: the result, or undefined (nothing written) when the write lock is
   * busy or the put reads a previous value that is not in memory; then call put().
   * @example
   * const done = store.tryPut(req, ctx) ?? (await store.put(req, ctx));
   */
  tryPut(r: PutRequest, ctx: ApplyContext): WriteResult<PutResponse> | undefined {
    return this.writeSync(ctx, {}, (txn) => {
      checkPutRequest(r);
      return this.txnPut(txn, r);
    });
  }

  /** etcd DeleteRange. */
  deleteRange(r: DeleteRangeRequest, ctx: ApplyContext): Promise<WriteResult<DeleteRangeResponse>> {
    return this.write(ctx, { deleted: 0, prevKvs: [] }, (txn) => {
      checkDeleteRequest(r);
      return this.txnDelete(txn, r);
    });
  }

  /**
   * {@link deleteRange} without a promise, or undefined as {@link tryPut}.
   * @example
   * const done = store.tryDeleteRange(req, ctx) ?? (await store.deleteRange(req, ctx));
   */
  tryDeleteRange(r: DeleteRangeRequest, ctx: ApplyContext): WriteResult<DeleteRangeResponse> | undefined {
    return this.writeSync(ctx, { deleted: 0, prevKvs: [] }, (txn) => {
      checkDeleteRequest(r);
      return this.txnDelete(txn, r);
    });
  }

  /** The body of a write txn: compares decide the branch, then the branch's operations run. */
  private txnBody(txn: WriteTxn, r: TxnRequest): TxnResponse {
    // Validated inside the write so a refused entry still advances the consistent index.
    checkTxnRequest(r);
    const path: boolean[] = [];
    this.comparePath(txn, r, txn.beginRev, path);
    this.precheck(r, path, 0, txn.beginRev);
    return this.runTxn(txn, r, path, { i: 0 });
  }

  /** etcd Txn: compares decide the branch (nested txns too) against the state before the txn. */
  txn(r: TxnRequest, ctx: ApplyContext): Promise<WriteResult<TxnResponse>> {
    return this.write(ctx, { succeeded: false, responses: [] }, (txn) => this.txnBody(txn, r));
  }

  /**
   * {@link txn} without a promise, or undefined as {@link tryPut} (a compare, range or prev_kv read
   * that is not in memory).
   * @example
   * const done = store.tryTxn(req, ctx) ?? (await store.txn(req, ctx));
   */
  tryTxn(r: TxnRequest, ctx: ApplyContext): WriteResult<TxnResponse> | undefined {
    return this.writeSync(ctx, { succeeded: false, responses: [] }, (txn) => this.txnBody(txn, r));
  }

  /**
   * A txn with no puts or deletes anywhere (etcd's isTxnReadonly), evaluated locally without the write
   * lock or a revision bump: compares and ranges see the current revision. Throws if the txn writes.
   */
  async readTxn(r: TxnRequest): Promise<{ response: TxnResponse; revision: number }> {
    if (this.closed) throw new ErrClosed();
    checkTxnRequest(r);
    if (!isTxnReadOnly(r)) throw new MvccError('mvcc: readTxn given a txn that writes');
    const beginRev = this.currentRev;
    let fetched: Map<string, KeyValue> | undefined;
    for (;;) {
      const txn = new WriteTxn(beginRev, fetched);
      try {
        const path: boolean[] = [];
        this.comparePath(txn, r, beginRev, path);
        this.precheck(r, path, 0, beginRev);
        return { response: this.runTxn(txn, r, path, { i: 0 }), revision: beginRev };
      } catch (err) {
        if (!(err instanceof NeedsRead)) throw err;
        // Revisions are immutable: what is read now stays valid for the next attempt.
        fetched ??= new Map();
        await this.readInto(err.hits, fetched);
      }
    }
  }

  private evalCompares(txn: WriteTxn, r: TxnRequest, rev: number): boolean {
    for (const c of r.compare ?? []) {
      const { hits } = this.collect({ key: c.key, rangeEnd: c.rangeEnd }, rev);
      const target = c.target ?? CompareTarget.VERSION;
      if (target !== CompareTarget.VALUE && target !== CompareTarget.LEASE) {
        // Version and revisions live in the key index: no backend read.
        if (!compareRange(c, hits.map(hitAsKeyValue))) return false;
        continue;
      }
      if (!compareRange(c, this.memKvs(txn, hits))) return false;
    }
    return true;
  }

  /** etcd's compareToPath: branch decisions in pre-order, evaluated before anything is written. */
  private comparePath(txn: WriteTxn, r: TxnRequest, rev: number, path: boolean[]): void {
    const ok = this.evalCompares(txn, r, rev);
    path.push(ok);
    for (const op of (ok ? r.success : r.failure) ?? []) {
      if (op.requestTxn) this.comparePath(txn, op.requestTxn, rev, path);
    }
  }

  /** etcd's checkRequests: ignore_value/lease keys must exist; range revisions must be servable. */
  private precheck(r: TxnRequest, path: boolean[], at: number, rev: number): number {
    const ops = (path[at] ? r.success : r.failure) ?? [];
    let next = at + 1;
    for (const op of ops) {
      if (op.requestTxn) next = this.precheck(op.requestTxn, path, next, rev);
      else if (op.requestPut && (op.requestPut.ignoreValue || op.requestPut.ignoreLease)) {
        if (!this.index.get(op.requestPut.key!, rev)) throw new ErrKeyNotFound();
      } else if (op.requestRange) {
        const want = toNum(op.requestRange.revision);
        if (want > rev) throw new ErrFutureRev(rev);
        if (want !== 0 && want < this.compactRev) throw new ErrCompacted(this.compactRev);
      }
    }
    return next;
  }

  private runTxn(txn: WriteTxn, r: TxnRequest, path: boolean[], cursor: { i: number }): TxnResponse {
    const succeeded = path[cursor.i++]!;
    const ops: RequestOp[] = (succeeded ? r.success : r.failure) ?? [];
    const responses: ResponseOp[] = [];
    for (const op of ops) {
      if (op.requestRange) responses.push({ responseRange: this.txnRange(txn, op.requestRange) });
      else if (op.requestPut) responses.push({ responsePut: this.txnPut(txn, op.requestPut) });
      else if (op.requestDeleteRange) {
        responses.push({ responseDeleteRange: this.txnDelete(txn, op.requestDeleteRange) });
      } else if (op.requestTxn)
        responses.push({ responseTxn: this.runTxn(txn, op.requestTxn, path, cursor) });
    }
    return { succeeded, responses };
  }
  /**
   * etcd Compact: drops history below `rev` from the index now (reads below it fail from here on) and
   * removes the dead revisions from the backend in the background.
   */
  compact(rev: number, ctx: ApplyContext): Promise<WriteResult<CompactResult>> {
    const done: CompactResult = { revision: this.currentRev, physical: Promise.resolve() };
    return this.write(ctx, done, () => {
      if (rev <= this.compactRev) throw new ErrCompacted(this.compactRev);
      if (rev > this.currentRev) throw new ErrFutureRev(this.currentRev);
      this.compactRev = rev;
      const keep = this.index.compact(rev);
      this.buffer.putMeta(META_BUCKET, META_SCHEDULED_COMPACT, uint64ToBytes(rev));
      this.hub.compacted(rev);
      const previous = this.compaction;
      this.compaction = previous.then(() => this.physicalCompaction(rev, keep));
      return { revision: this.currentRev, physical: this.compaction };
    });
  }

  /** Deletes key-bucket revisions <= rev that are not in `keep`, in bounded batches. */
  private async physicalCompaction(rev: number, keep: Set<string>): Promise<void> {
    try {
      await this.flush();
      let doomed: Uint8Array[] = [];
      const deleteDoomed = async () => {
        const batch = doomed;
        doomed = [];
        await this.writes.run(async () => {
          for (const k of batch) this.buffer.deleteRevision(k);
          this.afterWrite();
        });
      };
      for await (const chunk of this.backend.scanChunks(KEY_BUCKET, { end: revLowerBound(rev + 1) })) {
        for (const [k] of chunk) {
          const r = bytesToRev(k);
          if (!keep.has(revId(r.main, r.sub))) doomed.push(k);
        }
        if (doomed.length >= COMPACTION_BATCH) await deleteDoomed();
      }
      await this.writes.run(async () => {
        for (const k of doomed) this.buffer.deleteRevision(k);
        this.buffer.putMeta(META_BUCKET, META_FINISHED_COMPACT, uint64ToBytes(rev));
        this.afterWrite();
      });
      await this.flush();
    } catch (err) {
      if (!this.closed) this.failure ??= err as Error;
    }
  }

  /** Waits until every scheduled compaction has been physically applied. */
  async compactionDone(): Promise<void> {
    await this.compaction;
  }

  // ---- server-owned buckets -------------------------------------------------------------------------

  private checkMetaBucket(bucket: string): void {
    if (bucket === KEY_BUCKET) throw new Error('mvcc: the key bucket is reserved');
  }

  /**
   * Writes a key in a server-owned bucket (lease, auth, members, alarm, ...) in the next batched commit.
   * With ctx, the entry's raft index becomes the consistent index in that same commit.
   */
  putMeta(bucket: string, key: Uint8Array, value: Uint8Array, ctx?: ApplyContext): void {
    this.checkMetaBucket(bucket);
    if (this.closed) throw new ErrClosed();
    this.buffer.putMeta(bucket, key, value);
    if (ctx && ctx.index > this.consistentIdx) this.consistentIdx = ctx.index;
    this.afterWrite();
  }

  /** Deletes a key in a server-owned bucket (batched like putMeta). */
  deleteMeta(bucket: string, key: Uint8Array, ctx?: ApplyContext): void {
    this.checkMetaBucket(bucket);
    if (this.closed) throw new ErrClosed();
    this.buffer.deleteMeta(bucket, key);
    if (ctx && ctx.index > this.consistentIdx) this.consistentIdx = ctx.index;
    this.afterWrite();
  }

  /** Records an applied raft entry that changed nothing here (etcd does this for every entry). */
  setConsistentIndex(index: number): void {
    if (index > this.consistentIdx) {
      this.consistentIdx = index;
      this.afterWrite(true);
    }
  }

  /** Reads a key of a server-owned bucket, buffered writes included. */
  async getMeta(bucket: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const id = metaId(bucket, key);
    const buffers = [...this.committing, this.buffer];
    for (let b = buffers.length - 1; b >= 0; b--) {
      const v = buffers[b]!.meta.get(id);
      if (v !== undefined) return v ?? undefined;
    }
    return this.backend.get(bucket, key);
  }

  /** All entries of a server-owned bucket within [start, end), ascending, buffered writes included. */
  async rangeMeta(
    bucket: string,
    opts: { start?: Uint8Array; end?: Uint8Array } = {},
  ): Promise<[Uint8Array, Uint8Array][]> {
    const buffers = [...this.committing, this.buffer];
    const merged = new Map<string, [Uint8Array, Uint8Array] | null>();
    for await (const [k, v] of this.backend.scan(bucket, opts)) merged.set(bytesToKey(k), [k, v]);
    const prefix = `${bucket}\0`;
    const lo = opts.start ? bytesToKey(opts.start) : undefined;
    const hi = opts.end ? bytesToKey(opts.end) : undefined;
    for (const buf of buffers) {
      for (const [id, v] of buf.meta) {
        if (!id.startsWith(prefix)) continue;
        const k = id.slice(prefix.length);
        if ((lo !== undefined && k < lo) || (hi !== undefined && k >= hi)) continue;
        merged.set(k, v ? [Buffer.from(k, 'latin1'), v] : null);
      }
    }
    return [...merged.entries()]
      .filter((e): e is [string, [Uint8Array, Uint8Array]] => e[1] !== null)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map((e) => [new Uint8Array(e[1][0]), e[1][1]]);
  }

  /** Live keys carrying a lease, grouped by lease id (the server rebuilds lease -> keys with this). */
  async keysWithLease(): Promise<Map<bigint, Uint8Array[]>> {
    const byLease = new Map<bigint, string[]>();
    for (const [key, lease] of this.leasedKeys) {
      const list = byLease.get(lease) ?? [];
      list.push(key);
      byLease.set(lease, list);
    }
    // Keys in order within each lease (latin1 strings compare like their bytes).
    const out = new Map<bigint, Uint8Array[]>();
    for (const [lease, keys] of byLease) out.set(lease, keys.sort().map(keyToBytes));
    return out;
  }

  // ---- commits --------------------------------------------------------------------------------------

  /** Schedules a commit after a write: at once past the batch limit, else after the batch interval. */
  private afterWrite(force = false): void {
    if (this.closed) return;
    if (this.buffer.length >= this.batchLimit) {
      this.commitWanted = true;
      if (!this.writes.held) this.startCommit();
      else queueMicrotask(() => this.maybeCommit());
      return;
    }
    if ((this.buffer.length > 0 || force) && !this.commitTimer) {
      this.commitTimer = setTimeout(() => {
        this.commitTimer = undefined;
        this.commitWanted = true;
        this.maybeCommit();
      }, this.batchInterval);
      this.commitTimer.unref();
    }
  }

  /** Commits unless a write txn is half done (a commit must never split a txn). */
  private maybeCommit(): void {
    if (!this.commitWanted) return;
    if (this.writes.held) {
      void this.writes.run(async () => this.startCommit());
      return;
    }
    this.startCommit();
  }

  /** Seals the current buffer and chains its commit after earlier ones. */
  private startCommit(): Promise<void> {
    this.commitWanted = false;
    if (this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    const sealed = this.buffer;
    if (sealed.length === 0 && this.lastCommittedIndex === this.consistentIdx) return this.commitChain;
    sealed.batch.put(META_BUCKET, META_CONSISTENT_INDEX, uint64ToBytes(this.consistentIdx));
    this.lastCommittedIndex = this.consistentIdx;
    this.buffer = new WriteBuffer(this.backend.batch());
    this.committing.push(sealed);
    this.commitChain = this.commitChain.then(async () => {
      try {
        const started = performance.now();
        await sealed.batch.commit();
        this.onCommit?.((performance.now() - started) / 1000);
        // Committed: the buffer's revisions may now be served from the cache once it is dropped below.
        for (const [id, bytes] of sealed.kvs) this.readCache.set(id, bytes);
      } catch (err) {
        this.failure ??= err as Error;
      } finally {
        this.committing = this.committing.filter((b) => b !== sealed);
      }
    });
    return this.commitChain;
  }

  private lastCommittedIndex = -1;

  /** Commits everything written so far; resolves when the backend has it. */
  async flush(): Promise<void> {
    if (this.closed) throw new ErrClosed();
    await this.writes.run(async () => {
      this.startCommit();
    });
    await this.commitChain;
    if (this.failure) throw this.failure;
  }

  // ---- hashes -------------------------------------------------------------------------------------

  /** CRC-32C of the backend contents (etcd's maintenance Hash), ignoring the consistent index. */
  async hash(): Promise<number> {
    await this.compactionDone();
    await this.flush();
    return this.backend.hash({
      ignore: (bucket, key) => bucket === META_BUCKET && Buffer.compare(key, META_CONSISTENT_INDEX) === 0,
    });
  }

  /**
   * etcd's HashKV: CRC-32C over the key bucket's revisions up to `rev` (0: current), leaving out what
   * compaction at the compacted revision removes. Equal histories give equal hashes on every engine.
   */
  async hashKV(rev = 0): Promise<HashKVResult> {
    const compactRev = this.compactRev;
    const currentRev = this.currentRev;
    if (rev > 0 && rev <= compactRev) throw new ErrCompacted(compactRev);
    if (rev > currentRev) throw new ErrFutureRev(currentRev);
    const at = rev === 0 ? currentRev : rev;
    const keep = this.index.keep(at);
    await this.compactionDone();
    await this.flush();
    const crc = new Crc32c().update(new TextEncoder().encode(KEY_BUCKET));
    for await (const chunk of this.backend.scanChunks(KEY_BUCKET, { end: revLowerBound(at + 1) })) {
      for (const [k, v] of chunk) {
        const r = bytesToRev(k);
        if (r.main <= compactRev && keep.size > 0 && !keep.has(revId(r.main, r.sub))) continue;
        crc.update(k);
        crc.update(v);
      }
    }
    return { hash: crc.digest(), compactRevision: compactRev, revision: currentRev };
  }

  // ---- watches ------------------------------------------------------------------------------------

  /** Starts a watcher; see {@link WatchHub.watch}. */
  watch(opts: WatchOptions, sink: WatchSink): Watcher {
    return this.hub.watch(opts, sink);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /**
   * Flushes, cancels watchers and closes the backend. With `indexFile` set, a close after which the
   * backend holds every write (no commit failed) saves the key index there for the next open; `saveIndex:
   * false` skips that (the backend is about to be replaced).
   */
  async close(opts: { saveIndex?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    await this.compactionDone();
    await this.flush().catch(() => undefined);
    this.closed = true;
    this.hub.close();
    if (this.commitTimer) clearTimeout(this.commitTimer);
    const save = this.indexFile !== undefined && opts.saveIndex !== false && !this.failure;
    const started = performance.now();
    let image: KeyIndexImage | undefined;
    let error: Error | undefined;
    try {
      if (save) image = await this.indexImage();
    } catch (err) {
      error = err as Error;
    }
    await this.backend.close();
    if (!image) {
      if (error) this.onIndexEvent?.({ op: 'save', keys: 0, ms: performance.now() - started, error });
      return;
    }
    // A failed save only costs the next open a scan; the close itself succeeded.
    try {
      await saveKeyIndexFile(this.indexFile!, encodeKeyIndexImage(image));
    } catch (err) {
      error = err as Error;
    }
    this.onIndexEvent?.({ op: 'save', keys: image.keys.length, ms: performance.now() - started, error });
  }

  /** The key index as a saved image, or undefined if the state does not add up (then nothing is saved). */
  private async indexImage(): Promise<KeyIndexImage | undefined> {
    const lastKeyRev = await this.lastKeyRevision();
    if (Math.max(1, lastKeyRev, this.compactRev) !== this.currentRev) return undefined;
    const finished = await this.backend.get(META_BUCKET, META_FINISHED_COMPACT);
    if ((finished ? bytesToUint64(finished) : 0) !== this.compactRev) return undefined;
    const keys: string[] = [];
    const histories: KeyHistory[] = [];
    this.index.entries((k, h) => {
      keys.push(k);
      histories.push(h);
    });
    return {
      consistentIndex: this.consistentIdx,
      compactRev: this.compactRev,
      lastKeyRev,
      keys,
      histories,
      leases: this.leasedKeys,
    };
  }
}

/** The index's view of a key as a KeyValue for version/create/mod compares (value and lease unknown). */
function hitAsKeyValue(hit: IndexHit): KeyValue {
  return {
    key: EMPTY_BYTES,
    value: EMPTY_BYTES,
    lease: 0n,
    createRevision: hit.createdMain,
    modRevision: hit.modMain,
    version: hit.version,
  };
}
