/**
 * Per-call `{ signal, timeoutMs }` and the retry rules, against kv-server and etcd: aborted calls
 * reject with AbortedError, deadlines with DeadlineExceededError; a write is retried on another
 * endpoint only when it provably never left the client, a read after any UNAVAILABLE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, DeadlineExceededError, type KvClient, UnavailableError } from '../src/index.js';
import { eventually, SERVER_KINDS, sleep, startServer, type TestServer } from './servers.js';
import { startProxy } from './tcp-proxy.js';

describe.each(SERVER_KINDS)('call options and retries against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
  });
  afterAll(() => server?.destroy());

  it('an aborted call rejects with AbortedError carrying the reason; a deadline with DeadlineExceededError', async () => {
    const a = await client.grant(30);
    const b = await client.grant(30);
    const held = await client.lock('blocked', a.ID);
    // A second Lock on the same name blocks on the server until the first is released.
    const ac = new AbortController();
    const pending = client.lock('blocked', b.ID, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((err as AbortedError).cause).toEqual(new Error('shutting down'));
    await expect(client.lock('blocked', b.ID, { timeoutMs: 150 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
    await client.unlock(held.key);
  });

  it('an already-aborted signal rejects before anything is sent', async () => {
    const err = await client.put('never-sent', 'x', {}, { signal: AbortSignal.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect((await client.get('never-sent')).count).toBe(0);
    await expect(client.get('x').signal(AbortSignal.abort())).rejects.toBeInstanceOf(AbortedError);
  });

  it('retries a write on the next endpoint when the first endpoint refused the connection', async () => {
    const proxy = await startProxy(server.endpoint.replace('http://', ''));
    const c = server.client({ endpoints: [`http://${proxy.address}`, server.endpoint] });
    // Connect to both endpoints, then take the proxy away: its port now refuses connections, so
    // grpc-js fails the pick ("No connection established") before writing a byte.
    await c.get('warm');
    await c.get('warm');
    await proxy.close();
    await sleep(200); // let grpc-js notice the closed connection (else the put rides the dying one)
    const res = await c.put('retried-write', 'v');
    expect(res.header?.revision).toBeGreaterThan(0);
    expect(await client.get('retried-write').string()).toBe('v');
  });

  it('does not retry a write that may have reached a server, but retries a read', async () => {
    const proxy = await startProxy(server.endpoint.replace('http://', ''));
    try {
      const writer = server.client({ endpoints: [`http://${proxy.address}`, server.endpoint] });
      await writer.get('warm'); // via the proxy
      await writer.get('warm'); // direct
      proxy.blackhole(true);
      const cut = sleep(300).then(() => proxy.cutAll());
      // The put leaves the client into the partition; when the connection drops nobody knows
      // whether it was applied, so it must fail rather than be sent again elsewhere.
      const err = await writer.put('maybe-applied', 'v').catch((e: unknown) => e);
      await cut;
      expect(err).toBeInstanceOf(UnavailableError);
      expect((await client.get('maybe-applied')).count).toBe(0);

      proxy.blackhole(false);
      await client.put('read-me', 'r');
      const reader = server.client({ endpoints: [`http://${proxy.address}`, server.endpoint] });
      await reader.get('warm');
      await reader.get('warm');
      proxy.blackhole(true);
      const cut2 = sleep(300).then(() => proxy.cutAll());
      expect(await reader.get('read-me').string()).toBe('r');
      await cut2;
    } finally {
      await proxy.close();
    }
  });

  it('a timeout covers retries: a call to dead endpoints ends at its deadline', async () => {
    const dead = server.client({
      endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2'],
      retry: { attempts: 100, backoffMs: 10 },
      dialTimeoutMs: 60_000,
    });
    await expect(dead.get('k', {}, { timeoutMs: 300 })).rejects.toBeInstanceOf(DeadlineExceededError);
  });

  it('health checks take a hung member out of the rotation', async () => {
    const proxy = await startProxy(server.endpoint.replace('http://', ''));
    try {
      const endpoints = [`http://${proxy.address}`, server.endpoint];
      const checked = server.client({ endpoints, healthCheckIntervalMs: 100, healthCheckTimeoutMs: 300 });
      const unchecked = server.client({ endpoints });
      await Promise.all([
        checked.get('warm'),
        checked.get('warm'),
        unchecked.get('warm'),
        unchecked.get('warm'),
      ]);
      // The proxy's member now accepts requests and never answers, like a hung process.
      proxy.blackhole(true);
      expect(await eventually(() => checked.conn.health()[0]?.healthy === false)).toBe(true);
      expect(checked.conn.health()[1]?.healthy).toBe(true);
      for (let i = 0; i < 4; i++) await checked.put(`hc/${i}`, 'v', {}, { timeoutMs: 1000 });
      // Without health checks round-robin sends one of two writes into the hung member.
      const results = await Promise.allSettled([
        unchecked.put('hc/x', 'v', {}, { timeoutMs: 1000 }),
        unchecked.put('hc/y', 'v', {}, { timeoutMs: 1000 }),
      ]);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      // Healed, the member comes back into the rotation.
      proxy.blackhole(false);
      proxy.cutAll();
      expect(await eventually(() => checked.conn.health()[0]?.healthy === true)).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
