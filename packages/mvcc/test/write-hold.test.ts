/**
 * WriteHold, the level engine's write gate for bulkView(): a hold waits for the writes in flight, the
 * writes that arrive during it queue and then run in arrival order, and none fails.
 */
import { describe, expect, it } from 'vitest';
import { WriteHold } from '../src/backend/write-hold.js';

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((ok) => {
    resolve = ok;
  });
  return { promise, resolve };
}

describe('WriteHold', () => {
  it('waits for writes in flight, queues later ones, then runs them in order', async () => {
    const hold = new WriteHold();
    const log: string[] = [];
    const inFlight = deferred();
    const first = hold.write(async () => {
      log.push('w1 start');
      await inFlight.promise;
      log.push('w1 end');
    });
    const step = deferred();
    const held = hold.exclusive(async () => {
      log.push('hold');
      await step.promise;
      log.push('hold end');
      return 42;
    });
    const later = [2, 3, 4].map((n) =>
      hold.write(async () => {
        log.push(`w${n}`);
        return n;
      }),
    );
    await Promise.resolve();
    expect(log).toEqual(['w1 start']);
    inFlight.resolve();
    await first;
    // Let the hold start: it runs only after w1 finished, and the queued writes wait for it.
    for (let i = 0; i < 10 && !log.includes('hold'); i++) await new Promise((ok) => setImmediate(ok));
    expect(log).toEqual(['w1 start', 'w1 end', 'hold']);
    step.resolve();
    expect(await held).toBe(42);
    expect(await Promise.all(later)).toEqual([2, 3, 4]);
    expect(log).toEqual(['w1 start', 'w1 end', 'hold', 'hold end', 'w2', 'w3', 'w4']);
    // With no hold pending, a write starts at once (synchronously).
    let started = false;
    const direct = hold.write(async () => {
      started = true;
    });
    expect(started).toBe(true);
    await direct;
  });

  it('releases the queued writes when the held step fails', async () => {
    const hold = new WriteHold();
    const held = hold.exclusive(async () => {
      throw new Error('link failed');
    });
    const queued = hold.write(async () => 'written');
    await expect(held).rejects.toThrow('link failed');
    expect(await queued).toBe('written');
  });
});
