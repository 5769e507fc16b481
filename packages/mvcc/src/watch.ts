/**
 * The watch hub: fans applied events out to watchers and catches up watchers that are behind.
 *
 * Each watcher is either *synced* (it receives live batches, queued in memory as writes happen) or
 * *unsynced* (it reads history from the store in bounded batches until it reaches the head). Writers only
 * append to queues and never wait for consumers. A consumer that is slow (its sink returns a promise that
 * takes long) lets its queue grow; past `maxQueuedBatches` the queue is dropped and the watcher falls back
 * to catching up from history. A consumer that returns `false` is parked until `resume()`, then catches
 * up from history. Every event is delivered once, in revision order, because a watcher's `nextRev` only
 * moves forward when a batch covering those revisions is handed to the sink.
 */
import { bytesToKey } from './btree.js';
import { decodeKeyValue } from './kv-codec.js';
import { normaliseRangeEnd } from './range-ops.js';
import { type Event, EventType, type KeyValue } from './types.js';
import type { HistoryEntry } from './write-buffer.js';

/** What the hub needs from the store. */
export interface HistorySource {
  rev(): number;
  compactRevision(): number;
  readHistory(
    from: number,
    to: number,
    maxEntries: number,
  ): Promise<{ entries: HistoryEntry[]; upTo: number }>;
  kvAt(key: Uint8Array, rev: number): Promise<KeyValue | undefined>;
}

/** etcd's WatchCreateRequest.FilterType: NOPUT = 0, NODELETE = 1. */
export type WatchFilter = 'noput' | 'nodelete' | 0 | 1;

/** Options of one watcher (etcd's WatchCreateRequest). */
export interface WatchOptions {
  key: Uint8Array;
  /** Same rules as a range: absent = one key, "\0" = every key >= key, else [key, rangeEnd). */
  rangeEnd?: Uint8Array | null;
  /** First revision to deliver; <= 0 or absent: only changes after now. */
  startRevision?: number;
  prevKv?: boolean;
  filters?: WatchFilter[];
  /** Send periodic progress notifications while idle (every hub `progressInterval`). */
  progressNotify?: boolean;
  /** Watcher id to use (default: next free id). */
  id?: number;
}

/** One message to a watcher's consumer (etcd's WatchResponse, minus the header). */
export interface WatchBatch {
  watchId: number;
  events: Event[];
  /** The batch covers every change up to this revision. */
  revision: number;
  /** Set with `canceled` when the history the watcher needs has been compacted. */
  compactRevision?: number;
  canceled?: boolean;
  /** Why the hub canceled the watcher, when it was not compaction (e.g. a failed storage read). */
  cancelReason?: string;
  /** A progress notification (no events). */
  progress?: boolean;
}

/**
 * Receives batches. Return `false` to park the watcher until `resume()`; return a promise to hold
 * further deliveries until it settles (writers keep going; the watcher falls back to history if its
 * queue overflows meanwhile); anything else means "ready for more".
 */
export type WatchSink = (batch: WatchBatch) => unknown;

/** Handle of a watcher. */
export interface Watcher {
  readonly id: number;
  /** Stops deliveries; no further batches are sent. */
  cancel(): void;
  /** Asks for a progress notification (sent once the watcher is caught up). */
  requestProgress(): void;
  /** Resumes a watcher its sink parked by returning false. */
  resume(): void;
}

interface Pending {
  events: Event[];
  revision: number;
  progress?: boolean;
}

class WatcherState implements Watcher {
  nextRev: number;
  synced = false;
  queue: Pending[] = [];
  running = false;
  paused = false;
  canceled = false;
  progressWanted = false;
  readonly end: Uint8Array | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;

  constructor(
    readonly id: number,
    readonly opts: WatchOptions,
    readonly sink: WatchSink,
    private readonly hub: WatchHub,
    startRev: number,
  ) {
    this.nextRev = startRev;
    this.end = normaliseRangeEnd(opts.rangeEnd);
    const filters = opts.filters ?? [];
    this.noPut = filters.includes('noput') || filters.includes(0);
    this.noDelete = filters.includes('nodelete') || filters.includes(1);
  }

  cancel(): void {
    this.hub.remove(this);
  }

  requestProgress(): void {
    this.hub.progress(this);
  }

  resume(): void {
    this.hub.resume(this);
  }

  matches(ev: Event): boolean {
    if (ev.type === EventType.PUT ? this.noPut : this.noDelete) return false;
    const key = ev.kv.key;
    if (this.end === undefined) return Buffer.compare(key, this.opts.key) === 0;
    if (Buffer.compare(key, this.opts.key) < 0) return false;
    return this.end.length === 0 || Buffer.compare(key, this.end) < 0;
  }
}

function historyToEvent(e: HistoryEntry): Event {
  const kv = decodeKeyValue(e.value);
  if (e.tombstone) return { type: EventType.DELETE, kv: { ...kv, modRevision: e.main } };
  return { type: EventType.PUT, kv };
}

export class WatchHub {
  private readonly watchers = new Map<number, WatcherState>();
  private readonly synced = new Set<WatcherState>();
  /** Synced single-key watchers by latin1 key. */
  private readonly byKey = new Map<string, Set<WatcherState>>();
  /** Synced watchers on ranges. */
  private readonly rangeWatchers = new Set<WatcherState>();
  private nextId = 1;
  private closed = false;
  private readonly maxEvents: number;
  private readonly maxRevisions: number;
  private readonly maxQueued: number;
  private readonly progressTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: HistorySource,
    opts: {
      maxEventsPerBatch?: number;
      maxRevisionsPerBatch?: number;
      maxQueuedBatches?: number;
      progressInterval?: number;
    },
  ) {
    this.maxEvents = opts.maxEventsPerBatch ?? 1000;
    this.maxRevisions = opts.maxRevisionsPerBatch ?? 1000;
    this.maxQueued = opts.maxQueuedBatches ?? 1024;
    if (opts.progressInterval && opts.progressInterval > 0) {
      this.progressTimer = setInterval(() => this.periodicProgress(), opts.progressInterval);
      this.progressTimer.unref();
    }
  }

  /** Number of active watchers. */
  get size(): number {
    return this.watchers.size;
  }

  /** Starts a watcher. */
  watch(opts: WatchOptions, sink: WatchSink): Watcher {
    const id = opts.id ?? this.nextId++;
    if (this.watchers.has(id)) throw new Error(`mvcc: watcher id ${id} in use`);
    if (id >= this.nextId) this.nextId = id + 1;
    const head = this.source.rev();
    const start = opts.startRevision && opts.startRevision > 0 ? opts.startRevision : head + 1;
    const w = new WatcherState(id, opts, sink, this, start);
    this.watchers.set(id, w);
    if (start > head) {
      this.setSynced(w, true);
    } else {
      void this.pump(w);
    }
    return w;
  }

  /**
   * Called by the store after each write revision, in revision order. Single-key watchers are found by
   * a map lookup per event; only range watchers are scanned.
   */
  notify(rev: number, events: Event[]): void {
    // Every write calls this; with no synced watcher there is nothing to match (and nothing to allocate).
    if (this.byKey.size === 0 && this.rangeWatchers.size === 0) return;
    const matched = new Map<WatcherState, Event[]>();
    if (this.byKey.size > 0) {
      for (const ev of events) {
        const ws = this.byKey.get(bytesToKey(ev.kv.key));
        if (!ws) continue;
        for (const w of ws) {
          if (!w.matches(ev)) continue;
          const list = matched.get(w);
          if (list) list.push(ev);
          else matched.set(w, [ev]);
        }
      }
    }
    for (const w of this.rangeWatchers) {
      const list = events.filter((ev) => w.matches(ev));
      if (list.length > 0) matched.set(w, list);
    }
    for (const [w, list] of matched) {
      if (rev < w.nextRev) continue; // starts in the future
      w.queue.push({ events: list, revision: rev });
      if (w.queue.length > this.maxQueued) {
        // Slow consumer: stop buffering, fall back to reading history once it is ready again.
        w.queue = [];
        this.setSynced(w, false);
      }
      void this.pump(w);
    }
  }

  private setSynced(w: WatcherState, synced: boolean): void {
    w.synced = synced;
    const single = w.end === undefined ? bytesToKey(w.opts.key) : undefined;
    if (synced) {
      this.synced.add(w);
      if (single === undefined) this.rangeWatchers.add(w);
      else {
        let ws = this.byKey.get(single);
        if (!ws) this.byKey.set(single, (ws = new Set()));
        ws.add(w);
      }
    } else {
      this.synced.delete(w);
      if (single === undefined) this.rangeWatchers.delete(w);
      else {
        const ws = this.byKey.get(single);
        ws?.delete(w);
        if (ws?.size === 0) this.byKey.delete(single);
      }
    }
  }

  /** Called by the store after compacting at `rev`: parked watchers needing older history are canceled. */
  compacted(rev: number): void {
    for (const w of this.watchers.values()) {
      if (!w.synced && w.paused && w.nextRev < rev) void this.cancelCompacted(w, rev);
    }
  }

  remove(w: WatcherState): void {
    w.canceled = true;
    w.queue = [];
    this.watchers.delete(w.id);
    if (w.synced) this.setSynced(w, false);
  }

  progress(w: WatcherState): void {
    if (w.canceled) return;
    if (w.synced) {
      w.queue.push({ events: [], revision: this.source.rev(), progress: true });
      void this.pump(w);
    } else {
      w.progressWanted = true;
    }
  }

  resume(w: WatcherState): void {
    if (!w.paused || w.canceled) return;
    w.paused = false;
    void this.pump(w);
  }

  private periodicProgress(): void {
    for (const w of this.synced) {
      if (w.opts.progressNotify && w.queue.length === 0 && !w.running) this.progress(w);
    }
  }

  private async cancelCompacted(w: WatcherState, compactRev: number): Promise<void> {
    this.remove(w);
    try {
      await w.sink({
        watchId: w.id,
        events: [],
        revision: this.source.rev(),
        compactRevision: compactRev,
        canceled: true,
      });
    } catch {
      // The watcher is gone either way.
    }
  }

  private async cancelFailed(w: WatcherState, err: unknown): Promise<void> {
    this.remove(w);
    try {
      await w.sink({
        watchId: w.id,
        events: [],
        revision: this.source.rev(),
        canceled: true,
        cancelReason: err instanceof Error ? err.message : String(err),
      });
    } catch {
      // The sink itself failed; the watcher is gone either way.
    }
  }

  /**
   * One catch-up batch for an unsynced watcher, framed as etcd's syncWatchers frames it: the matching
   * events of up to `maxRevisions` revisions (etcd's watchBatchMaxRevs, 1000), read from history in
   * chunks of about `maxEvents` entries. `upTo` is the last revision covered. A chunk without a match
   * returns at once (the caller moves on and rechecks compaction); reading stops early if compaction
   * passes the next revision to read.
   */
  private async readBatch(w: WatcherState, head: number): Promise<{ events: Event[]; upTo: number }> {
    const events: Event[] = [];
    let upTo = w.nextRev - 1;
    let revisions = 0;
    let lastRev = 0;
    while (upTo < head && !w.canceled) {
      if (events.length > 0 && upTo + 1 < this.source.compactRevision()) break;
      const chunk = await this.source.readHistory(upTo + 1, head, this.maxEvents);
      for (const e of chunk.entries) {
        const ev = historyToEvent(e);
        if (!w.matches(ev)) continue;
        if (e.main !== lastRev) {
          if (revisions === this.maxRevisions) return { events, upTo: e.main - 1 };
          revisions++;
          lastRev = e.main;
        }
        events.push(ev);
      }
      upTo = chunk.upTo;
      if (events.length === 0) break;
    }
    return { events, upTo };
  }

  /** The watcher's delivery loop; at most one runs per watcher. */
  private async pump(w: WatcherState): Promise<void> {
    if (w.running || w.canceled || w.paused || this.closed) return;
    w.running = true;
    try {
      while (!w.canceled && !w.paused && !this.closed) {
        let batch: Pending;
        if (!w.synced) {
          const compactRev = this.source.compactRevision();
          if (w.nextRev < compactRev) {
            await this.cancelCompacted(w, compactRev);
            return;
          }
          const head = this.source.rev();
          if (w.nextRev > head) {
            this.setSynced(w, true);
            if (w.progressWanted) {
              w.progressWanted = false;
              w.queue.push({ events: [], revision: head, progress: true });
            }
            continue;
          }
          const read = await this.readBatch(w, head);
          if (w.canceled) return;
          if (read.events.length === 0) {
            w.nextRev = read.upTo + 1;
            continue;
          }
          batch = { events: read.events, revision: read.upTo };
        } else {
          const first = w.queue.shift();
          if (!first) break;
          batch = first;
          // Coalesce queued live batches into one delivery, up to the batch bound.
          while (
            !batch.progress &&
            w.queue.length > 0 &&
            !w.queue[0]!.progress &&
            batch.events.length + w.queue[0]!.events.length <= this.maxEvents
          ) {
            const next = w.queue.shift()!;
            batch = { events: batch.events.concat(next.events), revision: next.revision };
          }
        }
        w.nextRev = Math.max(w.nextRev, batch.revision + 1);
        const keepGoing = await this.deliver(w, batch);
        if (!keepGoing && !w.canceled) {
          w.paused = true;
          w.queue = [];
          if (w.synced) this.setSynced(w, false);
        }
      }
    } catch (err) {
      // A failed history or prev_kv read (ErrStorage) or a throwing sink ends the watcher rather than
      // the process; the consumer is told why, so it never waits on a watcher that is gone.
      if (!w.canceled) await this.cancelFailed(w, err);
    } finally {
      w.running = false;
    }
    if (!w.canceled && !w.paused && !this.closed && (w.queue.length > 0 || !w.synced)) void this.pump(w);
  }

  /**
   * Hands a batch to the sink (filling prev_kv); false if the consumer asked to pause. A batch is one
   * message whatever its size: splitting it to fit a transport's message limit is the transport's
   * business (kv-server fragments by encoded size, as etcd does).
   */
  private async deliver(w: WatcherState, batch: Pending): Promise<boolean> {
    let events = batch.events;
    if (w.opts.prevKv && events.length > 0) {
      events = await Promise.all(
        events.map(async (ev) => {
          // A create (version 1) has no previous value: etcd skips the lookup (IsCreateEvent).
          if (ev.type === EventType.PUT && ev.kv.version === 1) return ev;
          const prevKv = await this.source.kvAt(ev.kv.key, ev.kv.modRevision - 1);
          return prevKv ? { ...ev, prevKv } : ev;
        }),
      );
    }
    if (w.canceled) return true;
    const msg: WatchBatch = { watchId: w.id, events, revision: batch.revision };
    if (batch.progress) msg.progress = true;
    const r = w.sink(msg);
    if (r === false) return false;
    if (r && typeof (r as PromiseLike<unknown>).then === 'function') await r;
    return true;
  }

  /** Cancels every watcher (store closing). */
  close(): void {
    this.closed = true;
    if (this.progressTimer) clearInterval(this.progressTimer);
    for (const w of [...this.watchers.values()]) this.remove(w);
  }
}
