/**
 * The idle heap trimmer (src/runtime/idle-heap-trim.ts): the pure decision, and a real trimmer on this
 * process's event loop running V8's real full collection once per idle period.
 */
import { describe, expect, it } from 'vitest';
import { Logger } from '../src/log/logger.js';
import { fullGcFunction, nextTrimState, startIdleHeapTrim } from '../src/runtime/idle-heap-trim.js';

const MiB = 1024 * 1024;
const opts = { idleMs: 10_000, repeatMs: 1000, maxUtilization: 0.05, minSlackBytes: 64 * MiB, maxTrims: 3 };
const quiet = (elapsedMs: number, slack = 100 * MiB) => ({
  elapsedMs,
  utilization: 0.01,
  heapTotal: 40 * MiB + slack,
  heapUsed: 40 * MiB,
});

describe('nextTrimState', () => {
  const run = (s: { idleForMs: number; trims: number }, samples: ReturnType<typeof quiet>[]) => {
    const trims: boolean[] = [];
    for (const x of samples) {
      const r = nextTrimState(s, x, opts);
      s = r.state;
      trims.push(r.trim);
    }
    return { s, trims };
  };

  it('trims after the loop has been idle long enough, then a second apart while there is slack', () => {
    const { s, trims } = run(
      { idleForMs: 0, trims: 0 },
      Array.from({ length: 45 }, () => quiet(1000)),
    );
    // After 10 s, then 11 and 12 s; then maxTrims (3) stops it.
    expect(trims.flatMap((t, i) => (t ? [i] : []))).toEqual([9, 10, 11]);
    // A busy interval starts a new idle period.
    const busy = nextTrimState(s, { ...quiet(1000), utilization: 0.5 }, opts).state;
    expect(busy).toEqual({ idleForMs: 0, trims: 0 });
    expect(
      run(
        busy,
        Array.from({ length: 10 }, () => quiet(1000)),
      ).trims[9],
    ).toBe(true);
  });

  it('stops once the heap has little unused space', () => {
    const samples = [
      ...Array.from({ length: 10 }, () => quiet(1000)),
      ...Array.from({ length: 30 }, () => quiet(1000, 8 * MiB)),
    ];
    expect(run({ idleForMs: 0, trims: 0 }, samples).trims.filter(Boolean)).toHaveLength(1);
  });
});

describe('startIdleHeapTrim', () => {
  it('runs a real full collection on an idle loop and logs it', async () => {
    const lines: string[] = [];
    const log = new Logger('info', { write: (l: string) => lines.push(l) });
    const realGc = fullGcFunction();
    let calls = 0;
    const stop = startIdleHeapTrim(log, { idleMs: 100, checkMs: 20, minSlackBytes: 0 }, () => {
      calls++;
      realGc();
    });
    try {
      // (Once per idle period is the pure decision's job, tested above: here the test runner's own
      // activity may end an idle period, so only the first collection is awaited.)
      for (let i = 0; i < 500 && calls === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(calls).toBeGreaterThanOrEqual(1);
    } finally {
      stop();
    }
    const line = JSON.parse(lines.find((l) => l.includes('released unused heap'))!);
    expect(line.level).toBe('info');
    expect(line['heap-total-after']).toBeGreaterThan(0);
  });
});
