/**
 * Waiters keyed by request id: the handler registers before proposing; apply resolves with the result
 * of the entry that carries that id (only on the member that proposed it).
 */

interface Pending<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

/** A registry of promises resolved by id. */
export class Wait<T> {
  private readonly pending = new Map<number, Pending<T>>();

  /** Registers id; the promise rejects with `onTimeout()` after timeoutMs (0: never). */
  register(id: number, timeoutMs: number, onTimeout: () => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              if (this.pending.delete(id)) reject(onTimeout());
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  has(id: number): boolean {
    return this.pending.has(id);
  }

  get size(): number {
    return this.pending.size;
  }

  trigger(id: number, value: T): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(value);
    return true;
  }

  fail(id: number, err: unknown): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    p.reject(err);
    return true;
  }

  /** Rejects every pending waiter (server stopping). */
  failAll(err: () => unknown): void {
    for (const id of [...this.pending.keys()]) this.fail(id, err());
  }
}
