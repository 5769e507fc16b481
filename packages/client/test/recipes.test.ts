/**
 * The README's configuration-watcher recipe (APISIX style), run as written against kv-server and
 * etcd: it must end up with the server's exact configuration after a partition during which keys
 * changed and the history it would resume from was compacted away.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, CompactedError, Event_EventType, type KvClient, toText } from '../src/index.js';
import { eventually, SERVER_KINDS, startServer, type TestServer } from './servers.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

// Copied verbatim from README.md ("Configuration watcher that survives compaction").
async function syncConfig(client: KvClient, apply: (cfg: Map<string, string>) => void, signal: AbortSignal) {
  for (;;) {
    const res = await client.get('/apisix/').prefix();
    const cfg = new Map(res.kvs.map((kv) => [toText(kv.key), toText(kv.value)]));
    apply(cfg);
    try {
      const from = (res.header?.revision ?? 0) + 1;
      for await (const ev of client.watch('/apisix/', { prefix: true, startRevision: from, signal })) {
        if (ev.type === Event_EventType.PUT) cfg.set(toText(ev.kv!.key), toText(ev.kv!.value));
        else cfg.delete(toText(ev.kv!.key));
        apply(cfg);
      }
      return; // the watch was cancelled
    } catch (e) {
      if (e instanceof AbortedError) return; // stopped through `signal`
      if (!(e instanceof CompactedError)) throw e; // else: full reload from the current revision
    }
  }
}

it('the recipe above is the one in README.md', () => {
  const readme = readFileSync(resolve(import.meta.dirname, '..', 'README.md'), 'utf8');
  const own = readFileSync(import.meta.filename, 'utf8');
  const fn = (text: string) => /async function syncConfig[\s\S]*?\n}\n/.exec(text)?.[0];
  expect(fn(own)).toBeDefined();
  expect(fn(readme)).toBe(fn(own));
});

describe.each(SERVER_KINDS)('recipes against %s', (kind) => {
  let server: TestServer;
  let proxy: TcpProxy;
  beforeAll(async () => {
    server = await startServer(kind);
    proxy = await startProxy(server.endpoint.replace('http://', ''));
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.destroy();
  });

  it('the configuration watcher converges after a partition and a compaction', async () => {
    const admin = server.client();
    const watcherClient = server.client({ endpoints: [`http://${proxy.address}`] });
    await admin.put('/apisix/routes/1', 'a');
    let seen: Record<string, string> = {};
    const ac = new AbortController();
    const running = syncConfig(
      watcherClient,
      (cfg) => {
        seen = Object.fromEntries(cfg);
      },
      ac.signal,
    );
    const matches = (want: Record<string, string>) =>
      eventually(() => JSON.stringify(seen) === JSON.stringify(want));
    expect(await matches({ '/apisix/routes/1': 'a' })).toBe(true);
    await admin.put('/apisix/routes/2', 'b');
    expect(await matches({ '/apisix/routes/1': 'a', '/apisix/routes/2': 'b' })).toBe(true);

    // Partition the watcher; meanwhile configuration changes and the history is compacted.
    proxy.blackhole(true);
    await admin.delete('/apisix/routes/1');
    await admin.put('/apisix/upstreams/1', 'u');
    const rev = (await admin.put('/apisix/routes/2', 'b2')).header?.revision ?? 0;
    await admin.compact(rev, { physical: true });
    proxy.cutAll();
    proxy.blackhole(false);

    // Resuming is impossible (compacted): the recipe reloads, so the delete is not missed.
    expect(await matches({ '/apisix/routes/2': 'b2', '/apisix/upstreams/1': 'u' })).toBe(true);
    ac.abort();
    await running;
  });
});
