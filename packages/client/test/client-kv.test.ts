/** KvClient KV, txn, error mapping and endpoint failover, against kv-server and etcd 3.4. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Cmp,
  CompactedError,
  DuplicateKeyError,
  EmptyKeyError,
  FutureRevisionError,
  KvClient,
  LeaseNotFoundError,
  Op,
  toText,
} from '../src/index.js';
import { SERVER_KINDS, startServer, type TestServer } from './servers.js';

describe.each(SERVER_KINDS)('KvClient KV against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
  });
  afterAll(() => server?.destroy());

  const keys = (kvs: { key: Uint8Array }[]) => kvs.map((kv) => toText(kv.key));

  describe('KvClient KV', () => {
    it('puts and gets strings and bytes, with prev_kv', async () => {
      const first = await client.put('kv/a', 'one');
      expect(first.header?.revision).toBeGreaterThan(1);
      const second = await client.put('kv/a', new Uint8Array([0, 255, 7]), { prevKv: true });
      expect(toText(second.prevKv?.value ?? new Uint8Array())).toBe('one');
      const got = await client.get('kv/a');
      expect(got.count).toBe(1);
      expect(Array.from(got.kvs[0]?.value ?? [])).toEqual([0, 255, 7]);
      expect(got.kvs[0]?.version).toBe(2);
      expect(await client.getValue('kv/nosuch')).toBeUndefined();
    });

    it('ranges with prefix, fromKey, limit, sort, keysOnly, countOnly and revision', async () => {
      for (const k of ['r/c', 'r/a', 'r/e', 'r/b', 'r/d']) await client.put(k, `v-${k}`);
      const all = await client.get('r/', { prefix: true });
      expect(keys(all.kvs)).toEqual(['r/a', 'r/b', 'r/c', 'r/d', 'r/e']);
      const desc = await client.get('r/', {
        prefix: true,
        sortOrder: 'descend',
        sortTarget: 'key',
        limit: 2,
      });
      expect(keys(desc.kvs)).toEqual(['r/e', 'r/d']);
      expect(desc.more).toBe(true);
      expect(desc.count).toBe(5);
      const byCreate = await client.get('r/', { prefix: true, sortTarget: 'create', sortOrder: 'ascend' });
      expect(keys(byCreate.kvs)).toEqual(['r/c', 'r/a', 'r/e', 'r/b', 'r/d']);
      const from = await client.get('r/d', { fromKey: true, keysOnly: true });
      expect(keys(from.kvs)).toEqual(['r/d', 'r/e']);
      expect(from.kvs[0]?.value.length).toBe(0);
      const counted = await client.get('r/', { prefix: true, countOnly: true });
      expect(counted.kvs).toEqual([]);
      expect(counted.count).toBe(5);
      const explicit = await client.get('r/b', { rangeEnd: 'r/d' });
      expect(keys(explicit.kvs)).toEqual(['r/b', 'r/c']);
      const rev = (await client.put('r/a', 'changed')).header?.revision ?? 0;
      const old = await client.get('r/a', { revision: rev - 1 });
      expect(toText(old.kvs[0]?.value ?? new Uint8Array())).toBe('v-r/a');
      const ser = await client.get('r/a', { serializable: true });
      expect(toText(ser.kvs[0]?.value ?? new Uint8Array())).toBe('changed');
    });

    it('deletes keys, prefixes and ranges with prev_kv', async () => {
      for (const k of ['d/1', 'd/2', 'd/3', 'e/1']) await client.put(k, 'x');
      const one = await client.delete('d/1', { prevKv: true });
      expect(one.deleted).toBe(1);
      expect(keys(one.prevKvs)).toEqual(['d/1']);
      expect((await client.delete('d/', { prefix: true })).deleted).toBe(2);
      expect((await client.delete('nosuch')).deleted).toBe(0);
      expect((await client.get('e/1')).count).toBe(1);
    });

    it('runs transactions with the builder and with plain requests', async () => {
      await client.put('t/k', 'v1');
      const ok = await client
        .txn()
        .if(Cmp.value('t/k', '=', 'v1'), Cmp.version('t/k', '>', 0))
        .success(Op.put('t/k', 'v2'), Op.get('t/k'))
        .failure(Op.delete('t/k'))
        .commit();
      expect(ok.succeeded).toBe(true);
      expect(ok.responses).toHaveLength(2);
      expect(toText(ok.responses[1]?.responseRange?.kvs[0]?.value ?? new Uint8Array())).toBe('v2');

      const absent = await client
        .txn()
        .if(Cmp.create('t/new', '=', 0))
        .success(Op.put('t/new', 'created'))
        .commit();
      expect(absent.succeeded).toBe(true);
      const again = await client
        .txn()
        .if(Cmp.create('t/new', '=', 0))
        .success(Op.put('t/new', 'twice'))
        .failure(Op.get('t/new'))
        .commit();
      expect(again.succeeded).toBe(false);
      expect(toText(again.responses[0]?.responseRange?.kvs[0]?.value ?? new Uint8Array())).toBe('created');

      const plain = await client.txn({
        compare: [Cmp.value('t/k', '!=', 'v2')],
        success: [Op.put('t/k', 'never')],
        failure: [Op.delete('t/k', { prevKv: true })],
      });
      expect(plain.succeeded).toBe(false);
      expect(plain.responses[0]?.responseDeleteRange?.deleted).toBe(1);
    });

    it('maps etcd errors to typed classes', async () => {
      await expect(client.put('', 'v')).rejects.toBeInstanceOf(EmptyKeyError);
      await expect(client.txn({ success: [Op.put('a', '1'), Op.put('a', '2')] })).rejects.toBeInstanceOf(
        DuplicateKeyError,
      );
      await expect(client.revoke(0x1234abcd)).rejects.toBeInstanceOf(LeaseNotFoundError);
      await expect(client.put('k', 'v', { lease: 0x1234abcd })).rejects.toThrow(
        'etcdserver: requested lease not found',
      );
      const head = (await client.put('c/k', '1')).header?.revision ?? 0;
      await expect(client.get('c/k', { revision: head + 100 })).rejects.toBeInstanceOf(FutureRevisionError);
      await client.put('c/k', '2');
      await client.compact(head + 1, { physical: true });
      const err = await client.get('c/k', { revision: head }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CompactedError);
      expect((err as Error).message).toBe('etcdserver: mvcc: required revision has been compacted');
      await expect(client.compact(head)).rejects.toBeInstanceOf(CompactedError);
    });

    it('fails over from an unreachable endpoint and reports when none answers', async () => {
      const multi = new KvClient({ endpoints: ['http://127.0.0.1:1', server.endpoint], dialTimeoutMs: 1000 });
      try {
        await multi.put('fo/0', 'x'); // may pay the dead endpoint's 1 s dial timeout once
        // Later calls skip the endpoint that just failed: round-robin would otherwise send every
        // second call through another 1 s dial timeout.
        const started = Date.now();
        for (let i = 1; i < 5; i++) await multi.put(`fo/${i}`, 'x');
        expect((await multi.get('fo/', { prefix: true })).count).toBe(5);
        expect(Date.now() - started).toBeLessThan(900);
      } finally {
        multi.close();
      }
      const dead = new KvClient({ endpoints: ['127.0.0.1:1'], dialTimeoutMs: 300 });
      try {
        const e = await dead.get('x').catch((x: unknown) => x);
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message).toBe('context deadline exceeded');
      } finally {
        dead.close();
      }
    });
  });
});
