/**
 * Proposal waiters keyed by request id (etcd's wait.Wait): a handler registers before proposing; apply
 * resolves the waiter with the result of the entry that carries that id (a uint64 from IdGenerator,
 * so a bigint). Only the member that proposed
 * an entry has a waiter for it; other members apply the same entry and find none.
 *
 * Every waiter has the same timeout, so insertion order is deadline order: one timer, armed for the
 * oldest waiter, replaces a setTimeout + clearTimeout pair per request (measurably cheaper on the put
 * path, docs/benchmarks.md session 3).
 */

interface Pending<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  deadline: number;
}

/**
 * A registry of promises resolved by id, all sharing one timeout.
 *
 * @example
 * ```ts
 * const w = new Wait<string>(5000, () => new Error('timed out'));
 * const p = w.register(42n);
 * w.trigger(42n, 'applied'); // p resolves with 'applied'
 * ```
 */
export class Wait<T> {
  private readonly pending = new Map<bigint, Pending<T>>();
  private timer: NodeJS.Timeout | undefined;
  /** The waiter the timer was armed for: it has waited the full timeout when the timer fires. */
  private timerFor = 0n;
  private closed = false;

  /**
   * @param timeoutMs how long a waiter waits before it is failed with `onTimeout()`
   * @param onTimeout the error a timed-out waiter rejects with
   * @param onExpire called once per expired waiter (metrics)
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: () => unknown,
    private readonly onExpire: () => void = () => {},
  ) {}

  /** Registers `id`; the promise settles through trigger/fail or times out. */
  register(id: bigint): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      if (!this.timer) this.arm();
    });
  }

  has(id: bigint): boolean {
    return this.pending.has(id);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Resolves the waiter of `id`, if this member has one. */
  trigger(id: bigint, value: T): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    p.resolve(value);
    return true;
  }

  /** Rejects the waiter of `id`, if this member has one. */
  fail(id: bigint, err: unknown): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    p.reject(err);
    return true;
  }

  /** Rejects every waiter and stops the timer (server stopping). */
  close(err: () => unknown): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const id of [...this.pending.keys()]) this.fail(id, err());
  }

  /** Arms the timer for the oldest waiter (none: no timer). */
  private arm(): void {
    this.timer = undefined;
    if (this.closed) return;
    for (const [id, w] of this.pending) {
      // Clamped: a wall clock stepped backwards must not stretch a wait beyond one timeout.
      const delay = Math.min(Math.max(0, w.deadline - Date.now()), this.timeoutMs);
      this.timerFor = id;
      this.timer = setTimeout(() => this.expire(), delay);
      return;
    }
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, w] of this.pending) {
      if (id !== this.timerFor && w.deadline > now) break;
      this.pending.delete(id);
      this.onExpire();
      w.reject(this.onTimeout());
    }
    this.arm();
  }
}
