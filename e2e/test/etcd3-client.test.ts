// The npm etcd3 client (a real third-party client) against the server: KV, watch from history and live,
// lease expiry and keep-alive.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess, sleep } from './support/server.js';

let server: ServerProcess;
let client: Etcd3;

beforeAll(async () => {
  server = await ServerProcess.start();
  client = new Etcd3({ hosts: server.endpoint });
});
afterAll(async () => {
  client?.close();
  await server?.destroy();
});

describe('etcd3 npm client', () => {
  it('does KV round trips', async () => {
    await client.put('n/a').value('1');
    await client.put('n/b').value('2');
    expect(await client.get('n/a').string()).toBe('1');
    expect(await client.getAll().prefix('n/').strings()).toEqual({ 'n/a': '1', 'n/b': '2' });
    expect(await client.getAll().prefix('n/').count()).toBe(2);
    await client.delete().key('n/a');
    expect(await client.get('n/a').string()).toBeNull();
  });

  it('runs an if/else transaction', async () => {
    await client.put('t/x').value('1');
    const r = await client
      .if('t/x', 'Value', '==', '1')
      .then(client.put('t/y').value('yes'))
      .else(client.put('t/y').value('no'))
      .commit();
    expect(r.succeeded).toBe(true);
    expect(await client.get('t/y').string()).toBe('yes');
  });

  it('watches from history and live, in order', async () => {
    const first = await client.put('w/k').value('1').exec();
    const startRev = Number(first.header.revision);
    await client.put('w/k').value('2');
    await client.delete().key('w/k');
    const seen: string[] = [];
    const watcher = await client.watch().key('w/k').startRevision(String(startRev)).create();
    const done = new Promise<void>((ok) => {
      watcher.on('put', (kv) => {
        seen.push(`put:${kv.value.toString()}`);
        if (seen.length === 4) ok();
      });
      watcher.on('delete', () => {
        seen.push('delete');
        if (seen.length === 4) ok();
      });
    });
    await etcdctl(server.endpoint, ['put', 'w/k', 'live']);
    await done;
    await watcher.cancel();
    expect(seen).toEqual(['put:1', 'put:2', 'delete', 'put:live']);
  });

  it('expires a lease and deletes its keys', async () => {
    const lease = client.lease(2, { autoKeepAlive: false });
    await lease.put('l/ephemeral').value('here');
    expect(await client.get('l/ephemeral').string()).toBe('here');
    const id = BigInt(await lease.grant()).toString(16);
    const ttl = await etcdctl(server.endpoint, ['lease', 'timetolive', id]);
    expect(ttl.stdout).toMatch(/granted with TTL\(2s\), remaining\([12]s\)/);
    await sleep(4500);
    expect(await client.get('l/ephemeral').string()).toBeNull();
  });

  it('keeps a lease alive with keep-alives', async () => {
    const lease = client.lease(2);
    await lease.put('l/kept').value('yes');
    await sleep(4000);
    expect(await client.get('l/kept').string()).toBe('yes');
    await lease.revoke();
    expect(await client.get('l/kept').string()).toBeNull();
  });
});
