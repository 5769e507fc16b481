/**
 * Auth tokens are refreshed on their own, against kv-server and etcd: a restart makes the server
 * forget every simple token, yet unary calls, a running watch and a session's keep-alive carry on
 * with a fresh token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Event_EventType, type KvClient, toText, type WatchEvent } from '../src/index.js';
import { eventually, SERVER_KINDS, sleep, startServer, type TestServer } from './servers.js';

describe.each(SERVER_KINDS)('auth token refresh against %s', (kind) => {
  let server: TestServer;
  let root: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    const admin = server.client();
    await admin.userAdd('root', 'rootpw');
    await admin.userGrantRole('root', 'root');
    await admin.authEnable();
    root = server.client({ username: 'root', password: 'rootpw' });
  });
  afterAll(() => server?.destroy());

  it('a watch and a session survive a restart that invalidates every token', async () => {
    // A TTL longer than a restart takes: a lease not renewed for a whole TTL counts as lost.
    const session = await root.session({ ttl: 6 });
    const watcher = await root.watch('auth/', { prefix: true });
    const events = watcher.events();
    await root.put('auth/a', '1');
    const first = (await events.next()).value as WatchEvent;
    expect(toText(first.kv?.key ?? new Uint8Array())).toBe('auth/a');

    await server.stop();
    await server.start();
    // The unary call re-authenticates after "invalid auth token"; the watch reconnects, finds its
    // token rejected, authenticates again and resumes after auth/a.
    await root.put('auth/b', '2');
    const next = (await events.next()).value as WatchEvent;
    expect(next.type).toBe(Event_EventType.PUT);
    expect(toText(next.kv?.key ?? new Uint8Array())).toBe('auth/b');
    // The keep-alive went through the same: a renewal after the restart shows as the lease's
    // remaining TTL going back up (renewals come every TTL/3 = 2 s).
    const readings: number[] = [];
    const renewed = await eventually(async () => {
      readings.push((await root.timeToLive(session.lease)).TTL);
      await sleep(200);
      return readings.some((t, i) => i > 0 && t > (readings[i - 1] ?? t));
    }, 8000);
    expect(renewed).toBe(true);
    expect(session.isDone).toBe(false);
    await events.return(undefined);
    await session.close();
  });
});
