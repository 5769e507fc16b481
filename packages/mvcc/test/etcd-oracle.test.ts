/**
 * Behaviour recorded from a real etcd 3.4.23 (etcdctl against a temporary member; commands in the
 * comments). hashKV must be byte-for-byte etcd's, on every engine, before and after compaction — this is
 * what lets kv members be checked against each other the way etcd checks its own members.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { bytesToRev, KEY_BUCKET, MvccStore } from '../src/index.js';
import { dec, ENGINES, enc, freshBackend, removeTempDirs } from './helpers/engines.js';

afterAll(removeTempDirs);

async function revisionsOnDisk(store: MvccStore): Promise<string[]> {
  await store.flush();
  const out: string[] = [];
  for await (const [k] of store.backend.scan(KEY_BUCKET)) {
    const r = bytesToRev(k);
    out.push(`${r.main}_${r.sub}${r.tombstone ? 't' : ''}`);
  }
  return out;
}

describe.each(ENGINES)('etcd 3.4.23 oracle: %s', (engine) => {
  test('hashKV equals etcd before and after compaction', async () => {
    const store = await MvccStore.open((await freshBackend(engine)).backend, { batchInterval: 1 });
    let index = 1;
    const ctx = () => ({ index: index++ });
    // etcdctl put a 1; put b 2; del a; put a 3
    await store.put({ key: enc('a'), value: enc('1') }, ctx());
    await store.put({ key: enc('b'), value: enc('2') }, ctx());
    await store.deleteRange({ key: enc('a') }, ctx());
    await store.put({ key: enc('a'), value: enc('3') }, ctx());
    // etcdctl txn: version("a") = "1" ? put c x; del b
    const txn = await store.txn(
      {
        compare: [{ key: enc('a'), target: 0, result: 0, version: 1 }],
        success: [
          { requestPut: { key: enc('c'), value: enc('x') } },
          { requestDeleteRange: { key: enc('b') } },
        ],
      },
      ctx(),
    );
    expect(txn.response.succeeded).toBe(true);
    expect(txn.revision).toBe(6);
    // etcdctl put b 4; del a
    await store.put({ key: enc('b'), value: enc('4') }, ctx());
    await store.deleteRange({ key: enc('a') }, ctx());
    expect(store.rev()).toBe(8);
    // etcdctl endpoint hashkv --rev 0 | 5 | 7
    expect((await store.hashKV(0)).hash).toBe(1130932609);
    expect((await store.hashKV(5)).hash).toBe(2804068566);
    expect((await store.hashKV(7)).hash).toBe(9147533);
    // etcdctl compact 4
    await (await store.compact(4, ctx())).response.physical;
    // Physically left: b@3 (b's newest at 4), a@5, c@6.0, b tombstone@6.1, b@7, a tombstone@8.
    expect(await revisionsOnDisk(store)).toEqual(['3_0', '5_0', '6_0', '6_1t', '7_0', '8_0t']);
    expect(await store.hashKV(0)).toEqual({ hash: 698602690, compactRevision: 4, revision: 8 });
    expect((await store.hashKV(5)).hash).toBe(1767588491);
    expect((await store.hashKV(7)).hash).toBe(1842740217);
    await expect(store.hashKV(4)).rejects.toThrow('mvcc: required revision has been compacted');
    // etcdctl compact 8 (drops the tombstones of a)
    await (await store.compact(8, ctx())).response.physical;
    expect(await revisionsOnDisk(store)).toEqual(['6_0', '7_0']);
    expect(await store.hashKV(0)).toEqual({ hash: 3105295810, compactRevision: 8, revision: 8 });
    // etcdctl get "" --from-key
    const all = await store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) });
    expect(
      all.kvs.map((kv) => [dec(kv.key), kv.createRevision, kv.modRevision, kv.version, dec(kv.value)]),
    ).toEqual([
      ['b', 7, 7, 1, '4'],
      ['c', 6, 6, 1, 'x'],
    ]);
    expect(all.count).toBe(2);
    await store.close();
  });

  test('a second history gives etcd hashKV 1917557686 / 962318141', async () => {
    const store = await MvccStore.open((await freshBackend(engine)).backend);
    let index = 1;
    const ctx = () => ({ index: index++ });
    for (const [k, v] of [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
      ['a', '4'],
    ]) {
      await store.put({ key: enc(k!), value: enc(v!) }, ctx());
    }
    await store.deleteRange({ key: enc('b') }, ctx());
    await store.compact(3, ctx());
    expect((await store.hashKV(0)).hash).toBe(1917557686);
    expect((await store.hashKV(4)).hash).toBe(962318141);
    // etcdctl get a z --limit 1: more=true, count=2 (b is deleted)
    const limited = await store.range({ key: enc('a'), rangeEnd: enc('z'), limit: 1 });
    expect([limited.kvs.map((kv) => dec(kv.key)), limited.more, limited.count, limited.revision]).toEqual([
      ['a'],
      true,
      2,
      6,
    ]);
    // etcdctl get a z --sort-by VERSION (order defaults to ascending): c (v1) before a (v2)
    const byVersion = await store.range({ key: enc('a'), rangeEnd: enc('z'), sortTarget: 1 });
    expect(byVersion.kvs.map((kv) => dec(kv.key))).toEqual(['c', 'a']);
    // etcdctl get a --rev 3 after compact 3 still works (the boundary itself is readable)
    expect((await store.range({ key: enc('a'), revision: 3 })).kvs.map((kv) => dec(kv.value))).toEqual(['1']);
    // etcdctl get a --rev 2 -> compacted; --rev 100 -> future; compact 3 again / compact 100
    await expect(store.range({ key: enc('a'), revision: 2 })).rejects.toThrow(
      'mvcc: required revision has been compacted',
    );
    await expect(store.range({ key: enc('a'), revision: 100 })).rejects.toThrow(
      'mvcc: required revision is a future revision',
    );
    await expect(store.compact(3, ctx())).rejects.toThrow('mvcc: required revision has been compacted');
    await expect(store.compact(100, ctx())).rejects.toThrow('mvcc: required revision is a future revision');
    await store.close();
  });
});
