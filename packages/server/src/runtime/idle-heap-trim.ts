/**
 * Gives V8's unused heap back to the OS once the server has gone quiet.
 *
 * Why: under load V8 grows the young generation to its maximum (`--max-semi-space-size=64` in
 * bin/kv-server, chosen for tail latency: 128 MiB committed) and the old generation keeps the pages it
 * grew into. It shrinks them only after a full collection in a phase of low allocation, which an idle
 * server never triggers: after loading 200 000 keys kv-server stayed at ~340-420 MiB RSS with 40 MiB of
 * live heap (docs/benchmarks.md "Memory and restart"). One full collection once the event loop has been
 * nearly idle for a while (2 s) releases the old generation's garbage; it costs one pause of tens of
 * milliseconds at a moment when there is (almost) nothing to delay. One or two more follow 4 s of idle
 * time apart while much of the heap is still unused (at most `maxTrims` per idle period), then none until
 * the loop has been busy again. Why 2 s and 4 s (were 10 s and 6 s): RSS right after a load is what issue
 * 15 compares with etcd; V8 shrinks the young generation only once its allocation rate over the last
 * 5 s is low, which the second trim (~8 s after the load) meets (docs/benchmarks.md "Restart and RSS
 * (session 6)").
 *
 * The decision is a pure function ({@link nextTrimState}); {@link startIdleHeapTrim} feeds it event-loop
 * utilization and heap figures once per `checkMs`.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../log/logger.js';

/** When to trim. */
export interface IdleTrimOptions {
  /** How long the loop must stay below `maxUtilization` before the first trim (default 2 000 ms). */
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
  /** Sampling interval (default 1 000 ms). */
  checkMs?: number;
}

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
  opts: Required<Omit<IdleTrimOptions, 'checkMs'>>,
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

/**
 * V8's full collection as a function: `globalThis.gc` (bin/kv-server passes --expose-gc), else enabled
 * late for an embedder that did not (node's documented caveat about changing V8 flags at run time applies).
 */
export function fullGcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Starts trimming; returns a stop function. The timer is unref'd (it never keeps the process alive).
 * @example
 * const stop = startIdleHeapTrim(log);
 * // ... on shutdown:
 * stop();
 */
export function startIdleHeapTrim(
  log: Logger,
  opts: IdleTrimOptions = {},
  gc: () => void = fullGcFunction(),
): () => void {
  const decide = {
    idleMs: opts.idleMs ?? 2000,
    maxUtilization: opts.maxUtilization ?? 0.05,
    minSlackBytes: opts.minSlackBytes ?? 64 * 1024 * 1024,
    repeatMs: opts.repeatMs ?? 4000,
    maxTrims: opts.maxTrims ?? 3,
  };
  let state: TrimState = { idleForMs: 0, trims: 0 };
  let last = performance.eventLoopUtilization();
  let lastAt = performance.now();
  // V8 finishes a collection's work (sweeping, freeing pages) in tasks on the loop for a while after it:
  // that is not load, so the first samples after a trim only re-baseline.
  let settleUntil = 0;
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
    if (!step.trim) return;
    const started = performance.now();
    gc();
    const after = process.memoryUsage();
    log.info('idle: released unused heap', {
      'heap-total-before': mem.heapTotal,
      'heap-total-after': after.heapTotal,
      'heap-used-after': after.heapUsed,
      took: `${Math.round(performance.now() - started)}ms`,
    });
    // The collection itself ran on the loop: do not count it as activity.
    last = performance.eventLoopUtilization();
    lastAt = performance.now();
    settleUntil = lastAt + SETTLE_MS;
  }, opts.checkMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
