// Durability across restarts: a graceful restart and a kill -9 in the middle of a write load. Every write
// the server acknowledged must be there afterwards.
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess, TARGET } from './support/server.js';

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.destroy();
  server = undefined;
});

describe('restart', () => {
  it('keeps data and revisions across a graceful restart', async () => {
    server = await ServerProcess.start();
    const s = server;
    for (let i = 0; i < 50; i++) await etcdctl(s.endpoint, ['put', `k${i}`, `v${i}`]);
    const before = JSON.parse((await etcdctl(s.endpoint, ['get', 'k', '--prefix', '-w', 'json'])).stdout);
    const code = await s.stop('SIGTERM');
    // kv-server exits 0 after a graceful stop; etcd re-raises the signal (no exit code).
    if (TARGET === 'kv') expect(code).toBe(0);
    await s.restart();
    const after = JSON.parse((await etcdctl(s.endpoint, ['get', 'k', '--prefix', '-w', 'json'])).stdout);
    expect(after.count).toBe(50);
    expect(after.kvs).toEqual(before.kvs);
    expect(after.header.revision).toBe(before.header.revision);
    await etcdctl(s.endpoint, ['put', 'k0', 'again']);
    const k0 = JSON.parse((await etcdctl(s.endpoint, ['get', 'k0', '-w', 'json'])).stdout);
    expect(k0.kvs[0].mod_revision).toBe(before.header.revision + 1);
  });

  it('loses no acknowledged write when killed with SIGKILL under load', async () => {
    server = await ServerProcess.start();
    const s = server;
    const client = new Etcd3({ hosts: s.endpoint });
    const acked = new Set<string>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `load/${w}/${i}`;
        try {
          await client.put(key).value(`v${i}`);
          acked.add(key);
        } catch {
          return; // the server is gone: writes after this were never acknowledged
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    await new Promise((ok) => setTimeout(ok, 1500));
    await s.stop('SIGKILL');
    stop = true;
    await Promise.all(writers);
    client.close();
    expect(acked.size).toBeGreaterThan(20);
    await s.restart();
    const got = JSON.parse(
      (await etcdctl(s.endpoint, ['get', 'load/', '--prefix', '--keys-only', '-w', 'json'])).stdout,
    );
    const present = new Set<string>(
      (got.kvs ?? []).map((kv: { key: string }) => Buffer.from(kv.key, 'base64').toString()),
    );
    const missing = [...acked].filter((k) => !present.has(k));
    expect(missing).toEqual([]);
  });
});
