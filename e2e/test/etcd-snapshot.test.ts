// Moving data between etcd and kv by snapshot, with the tools an operator already has:
//   etcd -> kv: `etcdctl snapshot save` from Debian's etcd, `kvctl snapshot restore`, kv-server serves it;
//   kv -> etcd: `etcdctl snapshot save` from kv-server, `etcdctl snapshot restore`, etcd serves it.
// Either way `etcdctl snapshot status` and `kvctl snapshot status` agree on the file, and the restored
// server answers `endpoint hashkv` and a full `get --prefix` at the restored revision (history below it
// included) exactly as the source did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdctl, freePort, REPO_ROOT, run, ServerProcess } from './support/server.js';

const root = mkdtempSync(join(tmpdir(), 'kv-e2e-etcd-snapshot-'));
const servers: ServerProcess[] = [];
afterAll(async () => {
  for (const s of servers) await s.destroy();
  rmSync(root, { recursive: true, force: true });
});

const kvctl = join(REPO_ROOT, 'bin', 'kvctl');

async function ok(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** History with overwrites, deletes, a txn, leases (one with a chosen id above 2^53), a compaction, a value spanning pages and enough keys for branch pages. */
async function writeWorkload(s: ServerProcess): Promise<void> {
  const client = new Etcd3({ hosts: s.endpoint });
  try {
    for (let i = 0; i < 40; i++) await client.put(`k/${i}`).value(`v${i}`);
    await client.put('k/1').value('overwritten');
    await client.delete().key('k/2');
    await ok(etcdctl(s.endpoint, ['txn'], 'value("k/3") = "v3"\n\nput k/3 in-txn\ndel k/4\n\n\n'));
    await ok(etcdctl(s.endpoint, ['compact', '20']));
    const lease = await client.lease(900, { autoKeepAlive: false }).grant();
    await client.put('leased').value('x').lease(lease).exec();
    // A client-chosen id above 2^53 (through the JSON gateway, as a bare number), with a key on it.
    const chosen = await run('curl', [
      '-s',
      '-X',
      'POST',
      `${s.endpoint}/v3/lease/grant`,
      '-d',
      CHOSEN_GRANT,
    ]);
    expect(chosen.stdout).toContain(`"ID":"${CHOSEN}"`);
    await ok(etcdctl(s.endpoint, ['put', 'chosen', 'y', `--lease=${CHOSEN_HEX}`]));
    await client.put('big').value('b'.repeat(20_000));
    await Promise.all(
      Array.from({ length: 400 }, (_, i) => client.put(`many/${String(i).padStart(4, '0')}`).value(`m${i}`)),
    );
  } finally {
    client.close();
  }
}

/** A lease id that a JS number cannot hold (3182763892645462267 rounds to ...264). */
const CHOSEN = 3182763892645462267n;
const CHOSEN_HEX = CHOSEN.toString(16).padStart(16, '0');
const CHOSEN_GRANT = `{"TTL": 900, "ID": ${CHOSEN}}`;

interface Observed {
  revision: number;
  hashkv: { hash: number; compact_revision: number };
  kvs: unknown[];
  history: unknown[];
  leases: string[];
  /** `lease timetolive` of the chosen lease, remaining TTL masked. */
  chosen: string;
}

async function observe(endpoint: string, revision?: number): Promise<Observed> {
  const rev =
    revision ?? JSON.parse(await ok(etcdctl(endpoint, ['get', 'k/0', '-w', 'json']))).header.revision;
  const hash = JSON.parse(
    await ok(etcdctl(endpoint, ['endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json'])),
  )[0].HashKV;
  const all = JSON.parse(await ok(etcdctl(endpoint, ['get', '', '--prefix', `--rev=${rev}`, '-w', 'json'])));
  const old = JSON.parse(await ok(etcdctl(endpoint, ['get', 'k/', '--prefix', '--rev=25', '-w', 'json'])));
  // etcd lists leases by expiry, and a restore re-arms every lease at once: compare them as a set.
  const leases = (await ok(etcdctl(endpoint, ['lease', 'list']))).split('\n').slice(1).filter(Boolean).sort();
  const chosen = (await ok(etcdctl(endpoint, ['lease', 'timetolive', CHOSEN_HEX, '--keys'])))
    .trim()
    .replace(/remaining\(\d+s\)/, 'remaining(N)');
  return {
    revision: rev,
    hashkv: { hash: hash.hash, compact_revision: hash.compact_revision },
    kvs: all.kvs,
    history: old.kvs,
    leases,
    chosen,
  };
}

/** `snapshot status` of a file, by etcdctl and by kvctl. */
async function statuses(path: string): Promise<[unknown, unknown]> {
  const byEtcd = JSON.parse(await ok(run('etcdctl', ['snapshot', 'status', path, '-w', 'json'])));
  const byKv = JSON.parse(await ok(run(kvctl, ['snapshot', 'status', path, '-w', 'json'])));
  return [byEtcd, byKv];
}

describe('snapshots between etcd and kv', () => {
  it('etcd -> kv: etcdctl snapshot save, kvctl snapshot restore, kv-server serves the same data', async () => {
    const src = await ServerProcess.start({ server: 'etcd' });
    servers.push(src);
    await writeWorkload(src);
    const before = await observe(src.endpoint);
    const snap = join(root, 'from-etcd.db');
    await ok(etcdctl(src.endpoint, ['snapshot', 'save', snap]));
    await src.stop();

    const [byEtcd, byKv] = await statuses(snap);
    expect(byKv).toEqual(byEtcd);
    expect((byEtcd as { revision: number }).revision).toBe(before.revision);

    const peerPort = await freePort();
    const dataDir = join(root, 'kv-restored');
    await ok(
      run(kvctl, [
        'snapshot',
        'restore',
        snap,
        '--name=e2e',
        `--data-dir=${dataDir}`,
        `--initial-cluster=e2e=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        '--initial-cluster-token=e2e',
      ]),
    );
    const dst = await ServerProcess.start({ server: 'kv', dataDir, peerPort });
    servers.push(dst);
    const after = await observe(dst.endpoint, before.revision);
    expect(after.hashkv).toEqual(before.hashkv);
    expect(after.kvs).toEqual(before.kvs);
    expect(after.history).toEqual(before.history);
    // Lease ids above 2^53 (etcd's own and the chosen one) come back exact, keys attached.
    expect(after.leases).toEqual(before.leases);
    expect(after.chosen).toBe(before.chosen);
    expect(before.chosen).toBe(
      `lease ${CHOSEN_HEX} granted with TTL(900s), remaining(N), attached keys([chosen])`,
    );
  });

  it('kv -> etcd: etcdctl snapshot save from kv-server, etcdctl snapshot restore, etcd serves the same data', async () => {
    const src = await ServerProcess.start({ server: 'kv' });
    servers.push(src);
    await writeWorkload(src);
    const before = await observe(src.endpoint);
    const snap = join(root, 'from-kv.db');
    await ok(etcdctl(src.endpoint, ['snapshot', 'save', snap]));
    await src.stop();

    const [byEtcd, byKv] = await statuses(snap);
    expect(byKv).toEqual(byEtcd);
    expect((byEtcd as { revision: number }).revision).toBe(before.revision);

    const peerPort = await freePort();
    const dataDir = join(root, 'etcd-restored');
    await ok(
      run('etcdctl', [
        'snapshot',
        'restore',
        snap,
        '--name=e2e',
        `--data-dir=${dataDir}`,
        `--initial-cluster=e2e=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        '--initial-cluster-token=e2e',
      ]),
    );
    const dst = await ServerProcess.start({ server: 'etcd', dataDir, peerPort });
    servers.push(dst);
    const after = await observe(dst.endpoint, before.revision);
    expect(after.hashkv).toEqual(before.hashkv);
    expect(after.kvs).toEqual(before.kvs);
    expect(after.history).toEqual(before.history);
    expect(after.leases).toEqual(before.leases);
    expect(after.chosen).toBe(before.chosen);
    expect(before.chosen).toBe(
      `lease ${CHOSEN_HEX} granted with TTL(900s), remaining(N), attached keys([chosen])`,
    );
  });
});
