/**
 * Where the WAL's next fdatasync runs: on the event loop or on libuv's thread pool.
 *
 * Why: a thread-pool call costs two thread hops (futex wake-ups, an eventfd write, an extra loop turn)
 * on top of the syscall. Measured in kv-server on this project's 2-core VM, where fdatasync of a
 * preallocated segment takes ~0.1 ms, with one sequential client: running fdatasync on the loop (after
 * the write, which runs there anyway) saved another ~25 µs of CPU and 2 context switches per put, which
 * the client sees directly in its latency (packages/wal/README.md, "Session 10"). But a call on the
 * loop stops everything else for as long as the device takes, so it is only worth doing while the
 * device is fast: each on-loop call is timed, and once their average
 * (smoothed over ~32 calls, so the odd 2-4 ms call of a fast device does not count) passes `slowMs`,
 * or one call stalls for `stallMs`, the calls move to the pool for `backoffMs`; then one call on the
 * loop measures again (a slow device costs one blocked call per backoff, which doubles up to
 * `maxBackoffMs` while the device stays slow).
 */
export interface FsyncPlacementOptions {
  /** Average on-loop duration above which fdatasync moves to the pool (default 1 ms). */
  slowMs?: number;
  /** A single on-loop call this long moves fdatasync to the pool at once (default 50 ms). */
  stallMs?: number;
  /** First time spent on the pool after the device looked slow (default 10 s). */
  backoffMs?: number;
  /** Longest time on the pool between two measuring calls (default 5 min). */
  maxBackoffMs?: number;
  /** Clock in ms (tests pass their own). */
  now?: () => number;
}

export class FsyncPlacement {
  private readonly slowMs: number;
  private readonly stallMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly now: () => number;
  private backoffMs: number;
  private poolUntil = 0;
  /** Exponentially smoothed duration of on-loop calls (weight 1/32 for the newest). */
  private smoothedMs = 0;
  /** Calls decided so far, by place (for tests and diagnostics). */
  readonly counts = { loop: 0, pool: 0 };

  constructor(opts: FsyncPlacementOptions = {}) {
    this.slowMs = opts.slowMs ?? 1;
    this.stallMs = opts.stallMs ?? 50;
    this.minBackoffMs = opts.backoffMs ?? 10_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    this.backoffMs = this.minBackoffMs;
  }

  /** Whether the next fdatasync runs on the event loop (then pass its duration to `record`). */
  onLoop(): boolean {
    const loop = this.now() >= this.poolUntil;
    // Two plain increments, not counts[loop ? 'loop' : 'pool']++ (a keyed access per save).
    if (loop) this.counts.loop++;
    else this.counts.pool++;
    return loop;
  }

  /** Records how long an on-loop fdatasync took. */
  record(ms: number): void {
    // The first call after a stay on the pool measures afresh rather than averaging with old calls.
    this.smoothedMs = this.poolUntil > 0 ? ms : this.smoothedMs + (ms - this.smoothedMs) / 32;
    if (ms < this.stallMs && this.smoothedMs <= this.slowMs) {
      this.poolUntil = 0;
      this.backoffMs = this.minBackoffMs;
      return;
    }
    this.poolUntil = this.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
  }
}
