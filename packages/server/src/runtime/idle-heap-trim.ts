/**
 * Gives V8's unused heap back to the OS once the server has gone quiet.
 *
 * Why: under load V8 grows the young generation to its maximum (`--max-semi-space-size=64` in
 * bin/kv-server, chosen for tail latency: 128 MiB committed) and the old generation keeps the pages it
 * grew into. It shrinks them only after a full collection in a phase of low allocation, which an idle
 * server never triggers: after loading 200 000 keys kv-server stayed at ~340-420 MiB RSS with 40 MiB of
 * live heap (docs/benchmarks.md "Memory and restart"). One full collection once the event loop has been
 * nearly idle for a while (1 s) releases the old generation's garbage; it costs one pause of tens of
 * milliseconds at a moment when there is (almost) nothing to delay. One or two more follow after 4 s more
 * of idle time each (~6 s apart: the 2 s after a trim are not judged) while much of the heap is still
 * unused (at most `maxTrims` per idle period), then none until the loop has been busy again.
 *
 * The young generation: V8 shrinks it only at a collection whose sampled allocation rate is low (below
 * ~1 KB/ms, and not zero). It keeps the rates of the last ~10 collections and looks back over 5 s, so a
 * full collection right after a load still sees the load's rate and leaves the young generation at its
 * maximum: RSS stayed ~150 MiB above etcd's until a trim ~8 s after the load. A trim therefore first runs
 * young-generation collections a little apart (`youngGapMs`), each cheap on an idle heap, until the
 * young generation shrinks (or `maxYoungCollections`), and then the full collection. With that, the
 * first trim 1 s after a load brings RSS down (docs/benchmarks.md "Session 9").
 *
 * The decision is a pure function ({@link nextTrimState}); {@link startIdleHeapTrim} feeds it event-loop
 * utilization and heap figures once per `checkMs`.
 */
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../log/logger.js';

/** When to trim. */
export interface IdleTrimOptions {
  /** How long the loop must stay below `maxUtilization` before the first trim (default 1 000 ms). */
  idleMs?: number;
  /**
   * Idle time between further trims of the same idle period (default 4 000 ms). Why more than one: V8
   * shrinks the young generation only when the allocation rate it sampled at recent collections is low,
   * and the first collection after a quiet spell still sees the load's rate; the next one shrinks it.
   */
  repeatMs?: number;
  /** Event-loop utilization (0..1) below which a check interval counts as idle (default 0.05). */
  maxUtilization?: number;
  /** Committed-but-unused heap bytes worth a full collection (default 64 MiB). */
  minSlackBytes?: number;
  /** Most trims per idle period (default 3). */
  maxTrims?: number;
  /** Sampling interval (default 250 ms). */
  checkMs?: number;
  /** Time between the young-generation collections that precede a trim's full collection (default 30 ms). */
  youngGapMs?: number;
  /** Most young-generation collections before a trim's full collection (default 30; 0: none). */
  maxYoungCollections?: number;
  /**
   * Count the time before the start as idle, so the first quiet check may trim (default false). For a
   * start right after a burst of allocation that is over, such as a server's own startup (WAL replay,
   * key index load): 1 s after a restart with 200 000 keys, RSS was 128 MiB when the first check found
   * the loop quiet, against 262-273 MiB without it (docs/benchmarks.md "Session 9").
   */
  trimSoon?: boolean;
}

/** The options the pure decision ({@link nextTrimState}) reads. */
export type TrimDecisionOptions = Required<
  Pick<IdleTrimOptions, 'idleMs' | 'repeatMs' | 'maxUtilization' | 'minSlackBytes' | 'maxTrims'>
>;

/** Where the trimmer stands between two checks. */
export interface TrimState {
  /** Milliseconds the loop has been idle since the idle period began, or since the last trim in it. */
  idleForMs: number;
  /** Trims in the current idle period. */
  trims: number;
}

/** One check's measurements. */
export interface TrimSample {
  elapsedMs: number;
  utilization: number;
  heapTotal: number;
  heapUsed: number;
}

/**
 * The pure decision: the state after a sample, and whether to collect now.
 * @example
 * const opts = { idleMs: 10_000, repeatMs: 1_000, maxUtilization: 0.05, minSlackBytes: 64 << 20, maxTrims: 3 };
 * nextTrimState({ idleForMs: 9_500, trims: 0 },
 *   { elapsedMs: 1_000, utilization: 0.01, heapTotal: 300 << 20, heapUsed: 40 << 20 }, opts).trim; // true
 */
export function nextTrimState(
  state: TrimState,
  sample: TrimSample,
  opts: TrimDecisionOptions,
): { state: TrimState; trim: boolean } {
  if (sample.utilization >= opts.maxUtilization) return { state: { idleForMs: 0, trims: 0 }, trim: false };
  const idleForMs = state.idleForMs + sample.elapsedMs;
  const trim =
    state.trims < opts.maxTrims &&
    idleForMs >= (state.trims === 0 ? opts.idleMs : opts.repeatMs) &&
    sample.heapTotal - sample.heapUsed >= opts.minSlackBytes;
  return { state: trim ? { idleForMs: 0, trims: state.trims + 1 } : { idleForMs, trims: state.trims }, trim };
}

/** How long after a trim samples are not judged (see startIdleHeapTrim). */
const SETTLE_MS = 2000;

/** V8's collections as functions (see {@link gcFunctions}). */
export interface GcFunctions {
  /** A full (mark-compact) collection. */
  full: () => void;
  /** A young-generation collection (scavenge). */
  young: () => void;
}

/**
 * V8's collections as functions: `globalThis.gc` (bin/kv-server passes --expose-gc), else enabled late
 * for an embedder that did not (node's documented caveat about changing V8 flags at run time applies).
 * @example
 * const { full, young } = gcFunctions();
 * young(); // one scavenge
 * full(); // one mark-compact
 */
export function gcFunctions(): GcFunctions {
  let gc = (globalThis as { gc?: (opts?: { type: 'major' | 'minor' }) => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as (opts?: { type: 'major' | 'minor' }) => void;
  }
  const collect = gc;
  return { full: () => collect(), young: () => collect({ type: 'minor' }) };
}

/** The young generation's committed size (V8's `new_space`), in bytes. */
function youngGenerationBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

/** A young generation above this is worth the collections that let V8 shrink it. */
const SHRINKABLE_YOUNG_BYTES = 16 * 1024 * 1024;

/**
 * Starts trimming; returns a stop function. The timers are unref'd (they never keep the process alive).
 * @example
 * const stop = startIdleHeapTrim(log);
 * // ... on shutdown:
 * stop();
 */
export function startIdleHeapTrim(
  log: Logger,
  opts: IdleTrimOptions = {},
  gc: GcFunctions = gcFunctions(),
): () => void {
  const decide = {
    idleMs: opts.idleMs ?? 1000,
    maxUtilization: opts.maxUtilization ?? 0.05,
    minSlackBytes: opts.minSlackBytes ?? 64 * 1024 * 1024,
    repeatMs: opts.repeatMs ?? 4000,
    maxTrims: opts.maxTrims ?? 3,
  };
  const youngGapMs = opts.youngGapMs ?? 30;
  const maxYoung = opts.maxYoungCollections ?? 30;
  let state: TrimState = { idleForMs: opts.trimSoon ? decide.idleMs : 0, trims: 0 };
  let last = performance.eventLoopUtilization();
  let lastAt = performance.now();
  // V8 finishes a collection's work (sweeping, freeing pages) in tasks on the loop for a while after it:
  // that is not load, so the first samples after a trim only re-baseline. Also set while a trim runs.
  let settleUntil = 0;
  let stopped = false;
  let pending: NodeJS.Timeout | undefined;

  const trim = (mem: NodeJS.MemoryUsage) => {
    const started = performance.now();
    const youngBefore = youngGenerationBytes();
    let young = 0;
    let gcMs = 0;
    const finish = () => {
      pending = undefined;
      if (stopped) return;
      const t = performance.now();
      gc.full();
      gcMs += performance.now() - t;
      const after = process.memoryUsage();
      log.info('idle: released unused heap', {
        'heap-total-before': mem.heapTotal,
        'heap-total-after': after.heapTotal,
        'heap-used-after': after.heapUsed,
        'young-before': youngBefore,
        'young-after': youngGenerationBytes(),
        'young-collections': young,
        took: `${Math.round(performance.now() - started)}ms`,
        'gc-time': `${Math.round(gcMs)}ms`,
      });
      // The collections ran on the loop: do not count them as activity.
      last = performance.eventLoopUtilization();
      lastAt = performance.now();
      settleUntil = lastAt + SETTLE_MS;
    };
    // Young collections a little apart, so V8's sampled allocation rate becomes the idle one and it
    // shrinks the young generation (module comment); stop as soon as it has.
    const step = () => {
      pending = undefined;
      if (stopped) return;
      if (young >= maxYoung || youngGenerationBytes() < youngBefore / 2) return finish();
      const t = performance.now();
      gc.young();
      gcMs += performance.now() - t;
      young++;
      pending = setTimeout(step, youngGapMs);
      pending.unref();
    };
    settleUntil = Number.POSITIVE_INFINITY;
    if (youngBefore > SHRINKABLE_YOUNG_BYTES && maxYoung > 0) step();
    else finish();
  };

  const timer = setInterval(() => {
    const now = performance.now();
    if (now < settleUntil) {
      last = performance.eventLoopUtilization();
      lastAt = now;
      return;
    }
    const elu = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    const mem = process.memoryUsage();
    const step = nextTrimState(
      state,
      {
        elapsedMs: now - lastAt,
        utilization: elu.utilization,
        heapTotal: mem.heapTotal,
        heapUsed: mem.heapUsed,
      },
      decide,
    );
    lastAt = now;
    state = step.state;
    if (step.trim) trim(mem);
  }, opts.checkMs ?? 250);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    if (pending) clearTimeout(pending);
  };
}
