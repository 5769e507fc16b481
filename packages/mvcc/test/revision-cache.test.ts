import { describe, expect, test } from 'vitest';
import { MvccStore, openBackend } from '../src/index.js';
import { RevisionCache } from '../src/revision-cache.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);
const enc = (s: string) => new TextEncoder().encode(s);

describe('RevisionCache', () => {
  test('keeps recently used entries within the byte budget', () => {
    const c = new RevisionCache(40); // two generations of 20 bytes
    c.set('1_0', bytes(10, 1));
    c.set('2_0', bytes(10, 2));
    c.set('3_0', bytes(10, 3)); // young is full: {1,2} become old
    expect(c.get('1_0')?.[0]).toBe(1); // a hit in old moves 1_0 to young {3,1}
    c.set('4_0', bytes(10, 4)); // young full again: {3,1} become old, {2} dropped
    expect(c.get('2_0')).toBeUndefined();
    expect([c.get('1_0')?.[0], c.get('3_0')?.[0], c.get('4_0')?.[0]]).toEqual([1, 3, 4]);
    expect(c.sizeBytes).toBeLessThanOrEqual(40);
    expect(c.size).toBe(3);
  });

  test('stays within budget when far more entries pass through than fit', () => {
    const c = new RevisionCache(64 * 1024);
    for (let i = 0; i < 300_000; i++) {
      c.set(`${i}_0`, bytes(100));
      c.get(`${i - 100}_0`);
    }
    expect(c.sizeBytes).toBeLessThanOrEqual(64 * 1024);
    expect(c.get('299999_0')).toBeDefined();
    expect(c.get('0_0')).toBeUndefined();
  });

  test('a value larger than a generation is not cached; re-setting replaces the old size', () => {
    const c = new RevisionCache(32);
    c.set('1_0', bytes(17));
    expect(c.size).toBe(0);
    c.set('1_0', bytes(8));
    c.set('1_0', bytes(12));
    expect(c.sizeBytes).toBe(12);
    const off = new RevisionCache(0);
    off.set('1_0', bytes(1));
    expect(off.get('1_0')).toBeUndefined();
  });
});

describe('MvccStore read cache', () => {
  test('reads after commit and after a failed txn reused a revision id return the committed bytes', async () => {
    const store = await MvccStore.open(await openBackend({ engine: 'memory' }), { batchInterval: 1 });
    try {
      await store.put({ key: enc('a'), value: enc('one') }, { index: 1 });
      await store.flush(); // revision 2 is now committed and cached
      // An ignore_value put of a missing key fails after the txn's first put: the revision it used is
      // rolled back and reused by the next write with different bytes.
      await expect(
        store.txn(
          {
            success: [
              { requestPut: { key: enc('b'), value: enc('rolled-back') } },
              { requestPut: { key: enc('missing'), ignoreValue: true } },
            ],
          },
          { index: 2 },
        ),
      ).rejects.toThrow();
      await store.put({ key: enc('b'), value: enc('kept') }, { index: 3 });
      await store.flush();
      const got = await store.range({ key: enc('a'), rangeEnd: enc('c') });
      expect(got.kvs.map((kv) => new TextDecoder().decode(kv.value))).toEqual(['one', 'kept']);
      const old = await store.range({ key: enc('a'), revision: 2 });
      expect(new TextDecoder().decode(old.kvs[0]!.value)).toBe('one');
    } finally {
      await store.close();
    }
  });
});
