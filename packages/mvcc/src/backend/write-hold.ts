/**
 * A hold on one backend's writes: {@link WriteHold.exclusive} runs a step with no write in flight while
 * new writes queue behind it (none fail), then lets them through in the order they arrived. Writes
 * outside a hold start at once, with no await added.
 */
export class WriteHold {
  /** Set while a hold is pending or queued writes remain: later writes chain behind it. */
  private tail: Promise<void> | undefined;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  /**
   * Runs the write `fn`, after any hold taken before it.
   *
   * @example
   * ```ts
   * await hold.write(() => db.batch(ops));
   * ```
   */
  write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.tail === undefined) return this.run(fn);
    const result = this.tail.then(() => this.run(fn));
    this.chain(result.then(noop, noop));
    return result;
  }

  /**
   * Waits for the writes in flight, runs `fn` while later writes wait, then releases them.
   *
   * @example
   * ```ts
   * const files = await hold.exclusive(async () => { await flush(); return listFiles(); });
   * ```
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((ok) => {
      release = ok;
    });
    this.chain(before.then(() => gate));
    try {
      await before;
      if (this.inFlight > 0) await new Promise<void>((ok) => this.idleWaiters.push(ok));
      return await fn();
    } finally {
      release();
    }
  }

  private chain(next: Promise<void>): void {
    this.tail = next;
    void next.then(() => {
      if (this.tail === next) this.tail = undefined;
    });
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await fn();
    } finally {
      if (--this.inFlight === 0) for (const ok of this.idleWaiters.splice(0)) ok();
    }
  }
}

function noop(): void {}
