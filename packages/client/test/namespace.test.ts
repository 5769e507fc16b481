/**
 * `client.namespace(prefix)` against kv-server and etcd: every key of get/put/delete/txn/watch is
 * prefixed on the way out and stripped on the way back, ranges stay inside the namespace, and the
 * recipes (mutex, STM) built on a namespaced view stay inside it too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cmp, type KvClient, Op, toText } from '../src/index.js';
import { SERVER_KINDS, startServer, type TestServer } from './servers.js';

describe.each(SERVER_KINDS)('namespaces against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  let app: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
    app = client.namespace('/app/');
    await client.put('/app', 'just outside');
    await client.put('/apq', 'after the namespace');
    await client.put('/ap', 'before the namespace');
  });
  afterAll(() => server?.destroy());

  it('prefixes puts and gets, strips keys in results, keeps prefix reads inside', async () => {
    const put = await app.put('config', 'v1');
    const again = await app.put('config', 'v2', { prevKv: true });
    expect(toText(again.prevKv?.key ?? new Uint8Array())).toBe('config');
    expect(put.header?.revision).toBeGreaterThan(0);
    expect(await client.get('/app/config').string()).toBe('v2');
    await app.put('db/url', 'postgres://');
    expect(await app.get('').prefix().keys()).toEqual(['config', 'db/url']);
    expect(await app.get('').fromKey().keys()).toEqual(['config', 'db/url']);
    expect(await app.get('c', { rangeEnd: 'e' }).keys()).toEqual(['config', 'db/url']);
    expect(await app.get('db/').prefix().strings()).toEqual({ 'db/url': 'postgres://' });
  });

  it('nests: a namespace of a namespace adds both prefixes', async () => {
    const svc = app.namespace('svc/');
    await svc.put('a', '1');
    expect(await client.get('/app/svc/a').string()).toBe('1');
    expect(await svc.get('').prefix().keys()).toEqual(['a']);
  });

  it('deletes inside the namespace only, returning stripped previous key-values', async () => {
    await app.put('tmp/1', 'x');
    await app.put('tmp/2', 'y');
    const res = await app.delete('', { prefix: true, prevKv: true });
    expect(res.prevKvs.map((kv) => toText(kv.key)).sort()).toEqual([
      'config',
      'db/url',
      'svc/a',
      'tmp/1',
      'tmp/2',
    ]);
    expect(await client.get('/ap').prefix().keys()).toEqual(['/ap', '/app', '/apq']);
  });

  it('rewrites transaction compares and operations (nested too) and strips their results', async () => {
    await app.put('k', 'old');
    await app.put('other', 'x');
    const res = await app
      .txn()
      .if(Cmp.value('k', '=', 'old'), Cmp.create('absent', '=', 0))
      .then(
        Op.put('k', 'new', { prevKv: true }),
        Op.get('o', { prefix: true }),
        Op.txn({ success: [Op.delete('other', { prevKv: true })] }),
      )
      .commit();
    expect(res.succeeded).toBe(true);
    expect(toText(res.responses[0]?.responsePut?.prevKv?.key ?? new Uint8Array())).toBe('k');
    expect(res.responses[1]?.responseRange?.kvs.map((kv) => toText(kv.key))).toEqual(['other']);
    const nested = res.responses[2]?.responseTxn?.responses[0]?.responseDeleteRange;
    expect(nested?.prevKvs.map((kv) => toText(kv.key))).toEqual(['other']);
    expect((await client.get('/app/other')).count).toBe(0);
    expect(await client.get('/app/k').string()).toBe('new');
    expect(await client.get('k').string()).toBeUndefined();
  });

  it('watches inside the namespace with stripped keys', async () => {
    const w = app.watch('').prefix().prevKv();
    const got: string[] = [];
    const reading = (async () => {
      for await (const ev of w) {
        got.push(`${toText(ev.kv?.key ?? new Uint8Array())}:${toText(ev.prevKv?.key ?? new Uint8Array())}`);
        if (got.length === 2) break;
      }
    })();
    await w; // confirmed by the server before we write
    await client.put('/apq', 'outside');
    await app.put('w', '1');
    await app.put('w', '2');
    await reading;
    expect(got).toEqual(['w:', 'w:w']);
  });

  it('keeps a mutex and an STM inside the namespace', async () => {
    const session = await app.session({ ttl: 10 });
    const mutex = session.mutex('lock');
    const { key } = await mutex.lock();
    expect(toText(key)).toBe(`lock/${session.lease.toString(16)}`);
    expect((await client.get(`/app/lock/${session.lease.toString(16)}`)).count).toBe(1);
    await mutex.unlock();
    await session.close();
    await app.stm(async (stm) => {
      stm.put('counter', String(Number((await stm.get('counter')) || '0') + 1));
    });
    expect(await client.get('/app/counter').string()).toBe('1');
  });
});
