/**
 * The copy-on-write B+tree behind the memory engine and the key index, against a sorted-array model:
 * thousands of inserts/deletes (many splits and emptied nodes), range walks in both directions, and
 * snapshots that must not change while the tree keeps being written.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BTree, bytesToKey, keyToBytes } from '../src/btree.js';

function modelRange(model: Map<string, number>, start?: string, end?: string, reverse = false): string[] {
  const keys = [...model.keys()]
    .filter((k) => (start === undefined || k >= start) && (end === undefined || k < end))
    .sort();
  return reverse ? keys.reverse() : keys;
}

function walk(tree: BTree<number>, start?: string, end?: string, reverse = false): string[] {
  const out: string[] = [];
  tree.forEach({ start, end, reverse }, (k) => {
    out.push(k);
  });
  return out;
}

const keyArb = fc.integer({ min: 0, max: 3000 }).map((n) => n.toString(36));

describe('BTree', () => {
  test('matches a map model under random inserts, deletes, walks and snapshots', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'set', 'del', 'snap'), keyArb, fc.integer()), {
          minLength: 200,
          maxLength: 3000,
        }),
        fc.array(
          fc.tuple(
            fc.option(keyArb, { nil: undefined }),
            fc.option(keyArb, { nil: undefined }),
            fc.boolean(),
          ),
          {
            maxLength: 12,
          },
        ),
        (ops, walks) => {
          const tree = new BTree<number>();
          const model = new Map<string, number>();
          const snaps: [BTree<number>, Map<string, number>][] = [];
          for (const [op, k, v] of ops) {
            if (op === 'set') {
              expect(tree.set(k, v)).toBe(model.get(k));
              model.set(k, v);
            } else if (op === 'del') {
              expect(tree.delete(k)).toBe(model.get(k));
              model.delete(k);
            } else if (snaps.length < 5) {
              snaps.push([tree.snapshot(), new Map(model)]);
            }
          }
          expect(tree.size).toBe(model.size);
          for (const [k, v] of model) expect(tree.get(k)).toBe(v);
          for (const [s, e, rev] of walks)
            expect(walk(tree, s, e, rev)).toEqual(modelRange(model, s, e, rev));
          expect(walk(tree)).toEqual(modelRange(model));
          for (const [snap, frozen] of snaps) {
            expect(snap.size).toBe(frozen.size);
            expect(walk(snap, undefined, undefined, true)).toEqual(
              modelRange(frozen, undefined, undefined, true),
            );
            for (const [k, v] of frozen) expect(snap.get(k)).toBe(v);
            expect(() => snap.set('x', 1)).toThrow();
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('walks stop when the visitor returns false; first() finds bounds', () => {
    const tree = new BTree<number>();
    for (let i = 0; i < 1000; i++) tree.set(String(i).padStart(4, '0'), i);
    const seen: string[] = [];
    tree.forEach({ start: '0500' }, (k) => {
      seen.push(k);
      return seen.length < 3;
    });
    expect(seen).toEqual(['0500', '0501', '0502']);
    expect(tree.first({ end: '0500', reverse: true })).toEqual(['0499', 499]);
    expect(tree.first({ start: '1000' })).toBeUndefined();
    for (let i = 0; i < 1000; i++) tree.delete(String(i).padStart(4, '0'));
    expect(tree.size).toBe(0);
    expect(walk(tree)).toEqual([]);
  });
});

describe('bytesToKey', () => {
  test('one latin1 char per byte, on both sides of the short-key path, and back with keyToBytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(8), (bytes, off) => {
        // A view at an offset into a larger buffer, as decoded requests hand keys over.
        const backing = new Uint8Array(off + bytes.length + 3);
        backing.set(bytes, off);
        const view = backing.subarray(off, off + bytes.length);
        const k = bytesToKey(view);
        expect(k).toBe(Buffer.from(bytes).toString('latin1'));
        expect([...keyToBytes(k)]).toEqual([...bytes]);
      }),
    );
  });

  test("string order is the bytes' order", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        const byBytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        const ka = bytesToKey(a);
        const kb = bytesToKey(b);
        expect(ka < kb ? -1 : ka > kb ? 1 : 0).toBe(byBytes);
      }),
    );
  });
});
