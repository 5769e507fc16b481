/**
 * Auth tokens are refreshed on their own, against kv-server and etcd: a restart makes the server
 * forget every simple token, yet unary calls, a running watch and a session's keep-alive carry on
 * with a fresh token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Event_EventType, type KvClient, toText, type WatchEvent } from '../src/index.js';
import { SERVER_KINDS, sleep, startServer, type TestServer } from './servers.js';

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
    // The keep-alive went through the same: a whole TTL after the restart the session is alive.
    await sleep(6500);
    expect(session.isDone).toBe(false);
    expect((await root.timeToLive(session.lease)).TTL).toBeGreaterThan(0);
    await events.return(undefined);
    await session.close();
  });
});
