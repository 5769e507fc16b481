/**
 * The compact key index encoding (src/key-index.ts): every history shape (plain number, multi-revision,
 * deleted, re-created, long) answers reads, compaction and undo like etcd's keyIndex. The store-level
 * model test (store-model.test.ts) drives the same code through random transactions; these cases pin
 * the encoding's edge cases directly.
 */
import { describe, expect, it } from 'vitest';
import { bytesToKey } from '../src/btree.js';
import { decodeHistory, encodeHistory, TreeIndex, TreeIndexBuilder } from '../src/key-index.js';

const key = (s: string) => new Uint8Array(Buffer.from(s));
const hit = (idx: TreeIndex, k: string, rev: number) => idx.get(key(k), rev);
const dump = (idx: TreeIndex) => {
  const out: Record<string, unknown> = {};
  idx.forEach((k, gens) => {
    out[Buffer.from(k).toString()] = gens;
  });
  return out;
};

describe('key index encoding', () => {
  it('a key put once is a plain number and reads like a one-revision generation', () => {
    const idx = new TreeIndex();
    idx.put(key('a'), 5, 0);
    expect(encodeHistory(decodeHistory(5))).toBe(5);
    expect(hit(idx, 'a', 4)).toBeUndefined();
    expect(hit(idx, 'a', 5)).toEqual({ modMain: 5, modSub: 0, createdMain: 5, version: 1 });
    expect(hit(idx, 'a', 100)).toEqual({ modMain: 5, modSub: 0, createdMain: 5, version: 1 });
    expect(dump(idx)).toEqual({ a: [{ ver: 1, createdMain: 5, revs: [5, 0] }] });
  });

  it('puts, a delete and a re-create read at every revision like etcd', () => {
    const idx = new TreeIndex();
    idx.put(key('k'), 2, 1); // sub != 0: array form from the start
    idx.put(key('k'), 4, 0);
    idx.tombstoneByTreeKey('k', 6, 0);
    idx.put(key('k'), 8, 0);
    expect(hit(idx, 'k', 1)).toBeUndefined();
    expect(hit(idx, 'k', 3)).toEqual({ modMain: 2, modSub: 1, createdMain: 2, version: 1 });
    expect(hit(idx, 'k', 5)).toEqual({ modMain: 4, modSub: 0, createdMain: 2, version: 2 });
    expect(hit(idx, 'k', 6)).toBeUndefined();
    expect(hit(idx, 'k', 7)).toBeUndefined();
    expect(hit(idx, 'k', 8)).toEqual({ modMain: 8, modSub: 0, createdMain: 8, version: 1 });
    expect(dump(idx).k).toEqual([
      { ver: 3, createdMain: 2, revs: [2, 1, 4, 0, 6, 0] },
      { ver: 1, createdMain: 8, revs: [8, 0] },
    ]);
  });

  it('compaction keeps what etcd keeps, drops dead generations and returns to the plain form', () => {
    const idx = new TreeIndex();
    idx.put(key('k'), 2, 0);
    idx.put(key('k'), 3, 0);
    idx.tombstoneByTreeKey('k', 4, 0);
    idx.put(key('k'), 5, 0);
    idx.put(key('gone'), 2, 1);
    idx.tombstoneByTreeKey('gone', 3, 0);
    expect([...idx.keep(4)].sort()).toEqual([]);
    const kept = idx.compact(5);
    expect([...kept].sort()).toEqual(['5_0']);
    expect(idx.keyCount).toBe(1);
    expect(dump(idx)).toEqual({ k: [{ ver: 1, createdMain: 5, revs: [5, 0] }] });
    expect(hit(idx, 'k', 5)).toEqual({ modMain: 5, modSub: 0, createdMain: 5, version: 1 });
  });

  it('compaction in the middle of a generation keeps the newest revision at or below it', () => {
    const idx = new TreeIndex();
    for (let r = 2; r <= 40; r++) idx.put(key('hot'), r, 0); // beyond the exact-copy size: grows in place
    const kept = idx.compact(30);
    expect([...kept]).toEqual(['30_0']);
    expect(dump(idx).hot).toEqual([
      { ver: 39, createdMain: 2, revs: Array.from({ length: 11 }, (_, i) => [30 + i, 0]).flat() },
    ]);
    expect(hit(idx, 'hot', 35)).toEqual({ modMain: 35, modSub: 0, createdMain: 2, version: 34 });
  });

  it('appends that fill a history array in place keep every older revision answering the same', () => {
    // Puts (2 numbers) and deletes (3) cross the array's room boundaries at every offset; after each
    // step every earlier revision must still read as it did when it was the head.
    const idx = new TreeIndex();
    const seen: { rev: number; want: ReturnType<TreeIndex['get']> }[] = [];
    let rev = 1;
    for (let step = 0; step < 60; step++) {
      rev++;
      const live = hit(idx, 'k', rev - 1) !== undefined;
      if (live && step % 4 === 3) idx.tombstoneByTreeKey('k', rev, 0);
      else idx.put(key('k'), rev, step % 3 === 0 ? 0 : 1);
      seen.push({ rev, want: hit(idx, 'k', rev) });
      for (const s of seen) expect(hit(idx, 'k', s.rev)).toEqual(s.want);
    }
    // The walk deleted and re-created the key many times (generations with 1-3 puts each).
    expect(seen.filter((s) => s.want === undefined).length).toBeGreaterThan(10);
    expect((dump(idx).k as unknown[]).length).toBeGreaterThan(10);
  });

  it('undo reverts puts and tombstones and drops keys left empty', () => {
    const idx = new TreeIndex();
    idx.put(key('a'), 2, 0);
    idx.put(key('a'), 3, 0);
    idx.tombstoneByTreeKey('a', 4, 0);
    idx.undo(key('a'), true);
    expect(hit(idx, 'a', 4)).toEqual({ modMain: 3, modSub: 0, createdMain: 2, version: 2 });
    idx.undo(key('a'), false);
    expect(dump(idx).a).toEqual([{ ver: 1, createdMain: 2, revs: [2, 0] }]);
    idx.undo(key('a'), false);
    expect(idx.keyCount).toBe(0);
  });

  it('rebuild takes creation and version from the stored value when older revisions are compacted', () => {
    const b = new TreeIndexBuilder();
    b.put('k', 10, 0, 3, 4);
    b.tombstone('k', 11, 0);
    b.tombstone('k', 12, 0); // not live: ignored, as etcd's rebuild does
    b.put('k', 13, 0, 13, 1);
    const idx = b.build();
    expect(dump(idx).k).toEqual([
      { ver: 5, createdMain: 3, revs: [10, 0, 11, 0] },
      { ver: 1, createdMain: 13, revs: [13, 0] },
    ]);
    expect(hit(idx, 'k', 10)).toEqual({ modMain: 10, modSub: 0, createdMain: 3, version: 4 });
  });

  it('a rebuilt index equals the one grown by the same puts and tombstones (keys of any bytes)', () => {
    // Keys mix bytes below and above 0x80: the builder sorts latin1 strings with the default order,
    // which must be the tree's byte order.
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const keys = Array.from({ length: 300 }, (_, i) =>
      Uint8Array.from(
        { length: 1 + (i % 5) },
        (_, j) => [0, 0x41, 0x7f, 0x80, 0xc3, 0xff][rand(6)]! ^ (j === 0 ? 0 : i & 0x0f),
      ),
    );
    const grown = new TreeIndex();
    const b = new TreeIndexBuilder();
    for (let rev = 2; rev < 4000; rev++) {
      const k = keys[rand(keys.length)]!;
      const live = grown.get(k, rev - 1);
      const subs = 1 + rand(2); // a txn writes several revisions under one main revision
      for (let sub = 0; sub < subs; sub++) {
        if (live && sub === 0 && rand(5) === 0) {
          grown.tombstoneByTreeKey(bytesToKey(k), rev, sub);
          b.tombstone(bytesToKey(k), rev, sub);
          break;
        }
        grown.put(k, rev, sub);
        const h = grown.get(k, rev)!;
        b.put(bytesToKey(k), rev, sub, h.createdMain, h.version);
      }
    }
    const built = b.build();
    expect(built.keyCount).toBe(grown.keyCount);
    // Every key with its generations, in the tree's order.
    const listed = (idx: TreeIndex) => {
      const out: Array<[string, unknown]> = [];
      idx.forEach((k, gens) => {
        out.push([Buffer.from(k).toString('hex'), gens]);
      });
      return out;
    };
    expect(listed(built)).toEqual(listed(grown));
    for (const k of keys)
      for (const rev of [100, 2000, 4000]) expect(built.get(k, rev)).toEqual(grown.get(k, rev));
  });

  it('ranges see only keys live at the revision', () => {
    const idx = new TreeIndex();
    idx.put(key('a'), 2, 0);
    idx.put(key('b'), 3, 0);
    idx.tombstoneByTreeKey('a', 4, 0);
    const seen = (rev: number) => {
      const ks: string[] = [];
      idx.range(key('a'), new Uint8Array(0), rev, (_h, k) => {
        ks.push(k);
      });
      return ks;
    };
    expect(seen(3)).toEqual(['a', 'b']);
    expect(seen(4)).toEqual(['b']);
  });
});
