/**
 * Server-owned buckets and lease lookups: meta writes are readable at once, ride in the same batched
 * commits as key writes (with the consistent index), and survive reopen; keysWithLease() rebuilds the
 * lessor's lease -> keys map.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { MvccStore, openBackend } from '../src/index.js';
import { DISK_ENGINES, dec, enc, freshBackend, removeTempDirs } from './helpers/engines.js';

afterAll(removeTempDirs);

describe.each(DISK_ENGINES)('meta buckets and leases: %s', (engine) => {
  test('putMeta/getMeta/rangeMeta/deleteMeta before and after commit and reopen', async () => {
    const { backend, path } = await freshBackend(engine);
    const store = await MvccStore.open(backend, { batchInterval: 10_000 });
    store.putMeta('lease', enc('0001'), enc('ttl=5'), { index: 1 });
    store.putMeta('lease', enc('0002'), enc('ttl=9'), { index: 2 });
    store.putMeta('members', enc('m1'), enc('peer'));
    expect(dec((await store.getMeta('lease', enc('0001')))!)).toBe('ttl=5');
    expect(store.consistentIndex()).toBe(2);
    await store.flush();
    store.deleteMeta('lease', enc('0001'), { index: 3 });
    store.putMeta('lease', enc('0003'), enc('ttl=1'), { index: 4 });
    // Unflushed deletes and puts overlay the committed bucket.
    expect((await store.rangeMeta('lease')).map(([k, v]) => `${dec(k)}=${dec(v)}`)).toEqual([
      '0002=ttl=9',
      '0003=ttl=1',
    ]);
    expect(await store.getMeta('lease', enc('0001'))).toBeUndefined();
    expect(() => store.putMeta('key', enc('x'), enc('y'))).toThrow();
    await store.close();
    const again = await MvccStore.open(await openBackend({ engine, path }));
    expect(again.consistentIndex()).toBe(4);
    expect(
      (await again.rangeMeta('lease', { start: enc('0002'), end: enc('0003') })).map(([k]) => dec(k)),
    ).toEqual(['0002']);
    expect(dec((await again.getMeta('members', enc('m1')))!)).toBe('peer');
    await again.close();
  });

  test('keysWithLease groups live keys by lease', async () => {
    const { backend, path } = await freshBackend(engine);
    const store = await MvccStore.open(backend);
    let index = 1;
    for (const [k, lease] of [
      ['a', 7],
      ['b', 7],
      ['c', 0],
      ['d', 9],
      ['e', 7],
    ] as const) {
      await store.put({ key: enc(k), value: enc('v'), lease }, { index: index++ });
    }
    await store.deleteRange({ key: enc('b') }, { index: index++ });
    await store.put({ key: enc('d'), value: enc('v2'), ignoreLease: true }, { index: index++ });
    await store.put({ key: enc('e'), value: enc('v2') }, { index: index++ }); // detached from lease 7
    const want = [
      [7n, ['a']],
      [9n, ['d']],
    ];
    const grouped = (m: Map<bigint, Uint8Array[]>) =>
      [...m.entries()].map(([id, keys]) => [id, keys.map(dec).sort()]).sort();
    // Written since open: read from the key space.
    expect(grouped(await store.keysWithLease())).toEqual(want);
    await store.close();
    // Reopened: answered from the index rebuild, which must agree.
    const again = await MvccStore.open(await openBackend({ engine, path }));
    expect(grouped(await again.keysWithLease())).toEqual(want);
    await again.close();
  });

  test('lease ids above 2^53 are stored, compared and rebuilt exactly', async () => {
    const { backend, path } = await freshBackend(engine);
    const store = await MvccStore.open(backend);
    // Neighbours that one JS number cannot tell apart, the largest int63, and an id kv wrote as a number.
    const big = 3182763892645462267n;
    const ids = [big, big + 1n, 2n ** 63n - 1n, 7];
    let index = 1;
    for (const [i, lease] of ids.entries()) {
      await store.put({ key: enc(`k${i}`), value: enc('v'), lease }, { index: index++ });
    }
    const cmp = await store.txn(
      {
        compare: [{ key: enc('k1'), target: 4, result: 0, lease: big + 1n }],
        success: [{ requestRange: { key: enc('k0') } }],
      },
      { index: index++ },
    );
    expect(cmp.response.succeeded).toBe(true);
    const want = [big, big + 1n, 2n ** 63n - 1n, 7n];
    const leasesOf = async (s: MvccStore) =>
      (await s.range({ key: enc('k'), rangeEnd: enc('l') })).kvs.map((kv) => kv.lease);
    expect(await leasesOf(store)).toEqual(want);
    await store.close();
    const again = await MvccStore.open(await openBackend({ engine, path }));
    expect(await leasesOf(again)).toEqual(want);
    expect([...(await again.keysWithLease()).keys()].sort()).toEqual([...want].sort());
    await again.close();
  });
});

test('a replayed entry is skipped and reported as such', async () => {
  const store = await MvccStore.open((await freshBackend('memory')).backend);
  await store.put({ key: enc('a'), value: enc('1') }, { index: 5 });
  const replay = await store.put({ key: enc('a'), value: enc('1') }, { index: 5 });
  expect(replay).toMatchObject({ skipped: true, revision: 2, events: [] });
  expect((await store.range({ key: enc('a') })).kvs[0]!.version).toBe(1);
  await store.close();
});
