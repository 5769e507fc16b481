/**
 * The Backend conformance suite. It runs unchanged over every engine; a new engine is done when it
 * passes. Checks ordering, bucket isolation, atomic batches, views that ignore later writes, scans in
 * both directions with bounds and limits, snapshot/restore (also across engines), hashes, sizes,
 * defragment and persistence across reopen.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { type Backend, backendSnapshotLength, ErrCorruptSnapshot, openBackend } from '../src/index.js';
import { collect, DISK_ENGINES, dec, ENGINES, enc, freshBackend, removeTempDirs } from './helpers/engines.js';

afterAll(removeTempDirs);

async function put(b: Backend, bucket: string, entries: [string, string][]): Promise<void> {
  const batch = b.batch();
  for (const [k, v] of entries) batch.put(bucket, enc(k), enc(v));
  await batch.commit();
}

async function keys(b: Backend, bucket: string, opts = {}): Promise<string[]> {
  return (await collect(b.scan(bucket, opts))).map(([k]) => dec(k));
}

describe.each(ENGINES)('backend conformance: %s', (engine) => {
  test('get/put/delete and bucket isolation', async () => {
    const { backend: b } = await freshBackend(engine);
    await put(b, 'key', [['a', '1']]);
    await put(b, 'meta', [['a', 'm']]);
    await put(b, 'ke', [['ya', 'x']]);
    expect(dec((await b.get('key', enc('a')))!)).toBe('1');
    expect(dec((await b.get('meta', enc('a')))!)).toBe('m');
    expect(await b.get('lease', enc('a'))).toBeUndefined();
    expect(await keys(b, 'key')).toEqual(['a']);
    expect(await keys(b, 'ke')).toEqual(['ya']);
    const del = b.batch();
    del.delete('key', enc('a'));
    expect(del.length).toBe(1);
    await del.commit();
    expect(await b.get('key', enc('a'))).toBeUndefined();
    expect(dec((await b.get('meta', enc('a')))!)).toBe('m');
    await b.close();
  });

  test('bulk scans: every entry once in order, also when the caller stops early', async () => {
    // 20 000 entries: enough chunks that the level engine reads ahead (its chunks grow to 4 096).
    const { backend: b } = await freshBackend(engine);
    const n = 20_000;
    const key = (i: number) => enc(`k${String(i).padStart(6, '0')}`);
    const batch = b.batch();
    for (let i = 0; i < n; i++) batch.put('key', key(i), enc(String(i)));
    await batch.commit();
    for (const reverse of [false, true]) {
      let seen = 0;
      for await (const chunk of b.scanChunks('key', { reverse })) {
        for (const [k, v] of chunk) {
          const i = reverse ? n - 1 - seen : seen;
          expect(dec(k)).toBe(dec(key(i)));
          expect(dec(v)).toBe(String(i));
          seen++;
        }
      }
      expect(seen).toBe(n);
    }
    // Stop after the chunk that started a read-ahead: the scan ends cleanly and the backend works on.
    let taken = 0;
    for await (const chunk of b.scanChunks('key')) {
      taken += chunk.length;
      if (taken >= 1344) break;
    }
    const more = b.batch();
    more.put('key', enc('z'), enc('last'));
    await more.commit();
    expect(dec((await b.get('key', enc('z')))!)).toBe('last');
    expect((await collect(b.scan('key', { start: key(n - 1) }))).length).toBe(2);
    await b.close();
  });

  test('scanRaw visits what scanChunks returns, keys with their bucket prefix', async () => {
    const { backend: b } = await freshBackend(engine);
    await put(b, 'key', [
      ['a', '1'],
      ['b', '2'],
    ]);
    await put(b, 'ke', [['y', 'not in key']]);
    await put(b, 'keys', [['z', 'not in key either']]);
    const n = 5_000;
    const batch = b.batch();
    for (let i = 0; i < n; i++) batch.put('key', enc(`k${String(i).padStart(5, '0')}`), enc(`v${i}`));
    await batch.commit();
    const want = (await collect(b.scan('key'))).map(([k, v]) => [dec(k), dec(v)]);
    expect(want).toHaveLength(n + 2);
    const got: string[][] = [];
    await b.scanRaw('key', (key, keyStart, value) => {
      expect(dec(key.subarray(0, keyStart))).toBe('key\0');
      got.push([dec(key.subarray(keyStart)), dec(value)]);
    });
    expect(got).toEqual(want);
    await b.close();
    await expect(b.scanRaw('key', () => {})).rejects.toThrow();
  });

  test('binary keys order bytewise, scans honour bounds, direction and limit', async () => {
    const { backend: b } = await freshBackend(engine);
    const batch = b.batch();
    const all = [[0x00], [0x00, 0x00], [0x01], [0x7f], [0x80], [0xff], [0xff, 0x00], [0xff, 0xff]];
    for (const k of [...all].reverse()) batch.put('key', new Uint8Array(k), new Uint8Array([k.length]));
    await batch.commit();
    const scanned = (await collect(b.scan('key'))).map(([k]) => [...k]);
    expect(scanned).toEqual(all);
    const rev = (await collect(b.scan('key', { reverse: true }))).map(([k]) => [...k]);
    expect(rev).toEqual([...all].reverse());
    const bounded = await collect(
      b.scan('key', { start: new Uint8Array([0x01]), end: new Uint8Array([0xff]) }),
    );
    expect(bounded.map(([k]) => [...k])).toEqual([[0x01], [0x7f], [0x80]]);
    const boundedRev = await collect(
      b.scan('key', { start: new Uint8Array([0x01]), end: new Uint8Array([0xff]), reverse: true }),
    );
    expect(boundedRev.map(([k]) => [...k])).toEqual([[0x80], [0x7f], [0x01]]);
    const limited = await collect(b.scan('key', { start: new Uint8Array([0x01]), limit: 2, reverse: true }));
    expect(limited.map(([k]) => [...k])).toEqual([
      [0xff, 0xff],
      [0xff, 0x00],
    ]);
    await b.close();
  });

  test('scans match a sorted model (property)', async () => {
    const { backend: b } = await freshBackend(engine);
    const key = fc.uint8Array({ minLength: 0, maxLength: 4, max: 4 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(key, fc.boolean()), { maxLength: 40 }),
        key,
        key,
        fc.boolean(),
        fc.nat(6),
        async (ops, lo, hi, reverse, limit) => {
          const model = new Map<string, Uint8Array>();
          for (const [k] of await collect(b.scan('t'))) model.set(Buffer.from(k).toString('hex'), k);
          const batch = b.batch();
          for (const [k, isPut] of ops) {
            if (k.length === 0) continue;
            if (isPut) {
              batch.put('t', k, k);
              model.set(Buffer.from(k).toString('hex'), k);
            } else {
              batch.delete('t', k);
              model.delete(Buffer.from(k).toString('hex'));
            }
          }
          await batch.commit();
          let expected = [...model.values()]
            .filter((k) => Buffer.compare(k, lo) >= 0 && (hi.length === 0 || Buffer.compare(k, hi) < 0))
            .sort(Buffer.compare);
          if (reverse) expected.reverse();
          if (limit > 0) expected = expected.slice(0, limit);
          const got = await collect(
            b.scan('t', { start: lo, end: hi.length ? hi : undefined, reverse, limit }),
          );
          expect(got.map(([k]) => Buffer.from(k).toString('hex'))).toEqual(
            expected.map((k) => Buffer.from(k).toString('hex')),
          );
          for (const [k, v] of got) expect(Buffer.compare(k, v)).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
    await b.close();
  });

  test('a batch is invisible until committed and applied atomically', async () => {
    const { backend: b } = await freshBackend(engine);
    const batch = b.batch();
    for (let i = 0; i < 500; i++) batch.put('key', enc(`k${String(i).padStart(4, '0')}`), enc(`v${i}`));
    expect(await b.get('key', enc('k0000'))).toBeUndefined();
    await batch.commit();
    expect((await keys(b, 'key')).length).toBe(500);
    // truncate() drops the operations queued after a point (used to undo a failed txn).
    const partial = b.batch();
    partial.put('key', enc('keep'), enc('1'));
    partial.put('key', enc('drop'), enc('2'));
    partial.delete('key', enc('k0000'));
    partial.truncate(1);
    expect(partial.length).toBe(1);
    await partial.commit();
    expect(await b.get('key', enc('drop'))).toBeUndefined();
    expect(await b.get('key', enc('k0000'))).toBeDefined();
    expect(dec((await b.get('key', enc('keep')))!)).toBe('1');
    await b.close();
  });

  test('a read view keeps its point in time while writers continue', async () => {
    const { backend: b } = await freshBackend(engine);
    await put(b, 'key', [
      ['a', '1'],
      ['b', '1'],
    ]);
    const view = b.view();
    const batch = b.batch();
    batch.put('key', enc('a'), enc('2'));
    batch.delete('key', enc('b'));
    batch.put('key', enc('c'), enc('2'));
    await batch.commit(); // must not wait for the view
    expect(dec((await view.get('key', enc('a')))!)).toBe('1');
    expect((await view.getMany('key', [enc('a'), enc('b'), enc('c')])).map((v) => v && dec(v))).toEqual([
      '1',
      '1',
      undefined,
    ]);
    expect((await collect(view.scan('key'))).map(([k, v]) => `${dec(k)}=${dec(v)}`)).toEqual(['a=1', 'b=1']);
    view.close();
    expect(await keys(b, 'key')).toEqual(['a', 'c']);
    await b.close();
  });

  test('snapshot restores into every engine with identical hash', async () => {
    const { backend: b } = await freshBackend(engine);
    const batch = b.batch();
    for (let i = 0; i < 3000; i++)
      batch.put(i % 2 ? 'key' : 'lease', enc(`k${i}`), new Uint8Array(50).fill(i));
    await batch.commit();
    const hash = await b.hash();
    const chunks = await collect(b.snapshot());
    for (const target of ENGINES) {
      const { backend: t } = await freshBackend(target);
      await put(t, 'junk', [['x', 'y']]);
      await t.restore(chunks);
      expect(await t.hash()).toBe(hash);
      expect(await t.get('junk', enc('x'))).toBeUndefined();
      expect((await keys(t, 'key')).length).toBe(1500);
      await t.close();
    }
    await b.close();
  });

  test('backendSnapshotLength finds the end of a dump inside padding, and refuses a cut one', async () => {
    const { backend: b } = await freshBackend(engine);
    await put(b, 'key', [
      ['a', '1'],
      ['b', '2'],
    ]);
    const dump = Buffer.concat(await collect(b.snapshot()));
    expect(backendSnapshotLength(dump)).toBe(dump.length);
    expect(backendSnapshotLength(Buffer.concat([dump, Buffer.alloc(512)]))).toBe(dump.length);
    expect(backendSnapshotLength(dump.subarray(0, dump.length - 1))).toBeUndefined();
    expect(backendSnapshotLength(Buffer.from('not a snapshot at all'))).toBeUndefined();
    await b.close();
  });

  test('restore rejects a corrupt stream and keeps the old contents', async () => {
    const { backend: b } = await freshBackend(engine);
    await put(b, 'key', [['a', '1']]);
    const chunks = await collect(b.snapshot());
    const bytes = Buffer.concat(chunks);
    bytes[bytes.length - 6] ^= 0xff;
    await expect(b.restore([bytes])).rejects.toBeInstanceOf(ErrCorruptSnapshot);
    expect(dec((await b.get('key', enc('a')))!)).toBe('1');
    await b.close();
  });

  test('hash covers keys, values and buckets and is order-independent of writes', async () => {
    const { backend: a } = await freshBackend(engine);
    const { backend: b } = await freshBackend(engine);
    await put(a, 'key', [
      ['x', '1'],
      ['y', '2'],
    ]);
    await put(b, 'key', [['y', '2']]);
    await put(b, 'key', [['x', '1']]);
    expect(await a.hash()).toBe(await b.hash());
    await put(b, 'key', [['x', '3']]);
    expect(await a.hash()).not.toBe(await b.hash());
    expect(await a.hash({ ignore: (_b, k) => dec(k) === 'x' })).toBe(
      await b.hash({ ignore: (_b, k) => dec(k) === 'x' }),
    );
    await a.close();
    await b.close();
  });

  test('size, sizeInUse and defragment', async () => {
    const { backend: b } = await freshBackend(engine);
    const value = new Uint8Array(1000).fill(7);
    let batch = b.batch();
    for (let i = 0; i < 5000; i++) batch.put('key', enc(`k${i}`), value);
    await batch.commit();
    const full = await b.size();
    expect(full).toBeGreaterThan(0);
    expect(await b.sizeInUse()).toBeGreaterThan(0);
    batch = b.batch();
    for (let i = 0; i < 4900; i++) batch.delete('key', enc(`k${i}`));
    await batch.commit();
    await b.defragment();
    expect(await b.sizeInUse()).toBeLessThan(full);
    expect((await keys(b, 'key')).length).toBe(100);
    await b.close();
  });
});

describe.each(DISK_ENGINES)('persistence: %s', (engine) => {
  test('committed data survives close and reopen', async () => {
    const { backend: b, path } = await freshBackend(engine);
    await put(b, 'key', [
      ['a', '1'],
      ['b', '2'],
    ]);
    const hash = await b.hash();
    await b.close();
    const again = await openBackend({ engine, path });
    expect(await again.hash()).toBe(hash);
    expect(await keys(again, 'key')).toEqual(['a', 'b']);
    await again.close();
  });
});
