import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyLog } from '../src/backend/key-log.js';

const bytes = (...n: number[]) => Uint8Array.from(n);

describe('KeyLog', () => {
  it('pairs each prefixed key with its value, in order', () => {
    const log = new KeyLog();
    log.push(bytes(1, 0), bytes(7, 8));
    log.push(bytes(2, 0), bytes());
    log.push(bytes(1, 0), bytes(9));
    const v = bytes(42);
    expect(log.ops([v, undefined, v]).map((o) => [[...o.key], o.value])).toEqual([
      [[1, 0, 7, 8], v],
      [[2, 0], undefined],
      [[1, 0, 9], v],
    ]);
  });

  it('copies keys in, so a caller may reuse its key bytes', () => {
    const log = new KeyLog();
    const scratch = bytes(5, 5);
    log.push(bytes(0), scratch);
    scratch[0] = 6;
    log.push(bytes(0), scratch);
    expect(log.ops([undefined, undefined]).map((o) => [...o.key])).toEqual([
      [0, 5, 5],
      [0, 6, 5],
    ]);
  });

  it('matches a list of copied keys through pushes, truncations and ops, and never rewrites handed-out bytes', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('push' as const),
        prefix: fc.uint8Array({ maxLength: 4 }),
        key: fc.uint8Array({ maxLength: 3000 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), back: fc.nat(5) }),
      fc.record({ kind: fc.constant('ops' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const log = new KeyLog();
        let model: number[][] = [];
        const handedOut: { view: Uint8Array; copy: number[] }[] = [];
        for (const s of steps) {
          if (s.kind === 'push') {
            log.push(s.prefix, s.key);
            model.push([...s.prefix, ...s.key]);
          } else if (s.kind === 'truncate') {
            const n = Math.max(0, model.length - s.back);
            log.truncate(n);
            model = model.slice(0, n);
          } else {
            const ops = log.ops(model.map(() => undefined));
            expect(ops.map((o) => [...o.key])).toEqual(model);
            for (const o of ops) handedOut.push({ view: o.key, copy: [...o.key] });
          }
          expect(log.length).toBe(model.length);
        }
        for (const h of handedOut) expect([...h.view]).toEqual(h.copy);
      }),
      { numRuns: 300 },
    );
  });
});
