/**
 * The idle heap trimmer (src/runtime/idle-heap-trim.ts): the pure decision, and a real trimmer on this
 * process's event loop running V8's real full collection once per idle period.
 */
import { describe, expect, it } from 'vitest';
import { Logger } from '../src/log/logger.js';
import { fullGcFunction, nextTrimState, startIdleHeapTrim } from '../src/runtime/idle-heap-trim.js';

const MiB = 1024 * 1024;
const opts = { idleMs: 10_000, maxUtilization: 0.05, minSlackBytes: 32 * MiB };
const quiet = (elapsedMs: number, slack = 100 * MiB) => ({
  elapsedMs,
  utilization: 0.01,
  heapTotal: 40 * MiB + slack,
  heapUsed: 40 * MiB,
});

describe('nextTrimState', () => {
  it('trims once the loop has been idle long enough and there is slack, then not again until busy', () => {
    let s = { idleForMs: 0, trimmed: false };
    const trims: boolean[] = [];
    for (let i = 0; i < 12; i++) {
      const r = nextTrimState(s, quiet(1000), opts);
      s = r.state;
      trims.push(r.trim);
    }
    expect(trims.indexOf(true)).toBe(9); // after 10 s
    expect(trims.filter(Boolean)).toHaveLength(1);
    // A busy interval resets; the next idle period trims again.
    s = nextTrimState(s, { ...quiet(1000), utilization: 0.5 }, opts).state;
    expect(s).toEqual({ idleForMs: 0, trimmed: false });
    for (let i = 0; i < 9; i++) s = nextTrimState(s, quiet(1000), opts).state;
    expect(nextTrimState(s, quiet(1000), opts).trim).toBe(true);
  });

  it('does not trim a heap without enough unused space', () => {
    let s = { idleForMs: 0, trimmed: false };
    let trimmed = false;
    for (let i = 0; i < 20; i++) {
      const r = nextTrimState(s, quiet(1000, 8 * MiB), opts);
      s = r.state;
      trimmed ||= r.trim;
    }
    expect(trimmed).toBe(false);
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
