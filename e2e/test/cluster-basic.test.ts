// Replication on a healthy 3-member cluster: a write on one member is a linearizable read on every other,
// a watch on a follower sees the leader's writes, and the same holds with TLS between the peers.
import { rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTestPki, type TestPki } from './support/certs.js';
import { Cluster, etcdClusterId, etcdMemberId, parseJsonExact } from './support/cluster.js';
import { etcdctl } from './support/server.js';

describe('3-member cluster', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({ size: 3 });
  });
  afterAll(async () => c?.close());

  it('lists three started voters with the peer URLs they advertise', async () => {
    const r = await etcdctl(c.member(0).endpoint, ['member', 'list']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').sort();
    expect(rows).toEqual(
      c.members
        .map((m) => `${m.hexId}, started, ${m.name}, ${m.peerUrl}, ${m.endpoint}, false`)
        .sort((a, b) => (a < b ? -1 : 1)),
    );
  });

  it("has etcd's member ids and cluster id for its flags, exact in JSON and hex output", async () => {
    const r = await etcdctl(c.member(1).endpoint, ['member', 'list', '-w', 'json']);
    expect(r.code).toBe(0);
    const j = parseJsonExact<{
      header: { cluster_id: string; member_id: string };
      members: { ID: string; name: string }[];
    }>(r.stdout);
    const want = new Map(c.members.map((m) => [m.name, etcdMemberId([m.peerUrl], c.token)]));
    expect(new Map(j.members.map((m) => [m.name, BigInt(m.ID)]))).toEqual(want);
    expect(BigInt(j.header.cluster_id)).toBe(etcdClusterId([...want.values()]));
    expect(BigInt(j.header.member_id)).toBe(want.get(c.member(1).name));
    // The simple output's ids are the same values in %x.
    for (const m of c.members) expect(m.hexId).toBe(want.get(m.name)!.toString(16));
    const st = await etcdctl(c.member(2).endpoint, ['endpoint', 'status', '-w', 'json']);
    const [s] = parseJsonExact<{ Status: { leader: string; header: { cluster_id: string } } }[]>(st.stdout);
    expect([...want.values()]).toContain(BigInt(s!.Status.leader));
    expect(BigInt(s!.Status.header.cluster_id)).toBe(c.clusterId);
  });

  it('serves a put made on one member to a linearizable get on every other', async () => {
    for (const writer of c.members) {
      const key = `from/${writer.name}`;
      const put = await etcdctl(writer.endpoint, ['put', key, `v-${writer.name}`]);
      expect(put.stdout.trim()).toBe('OK');
      for (const reader of c.members.filter((m) => m !== writer)) {
        const got = await etcdctl(reader.endpoint, ['get', key, '--consistency=l', '--print-value-only']);
        expect({ reader: reader.name, value: got.stdout.trim() }).toEqual({
          reader: reader.name,
          value: `v-${writer.name}`,
        });
      }
    }
    const revs = await Promise.all(c.members.map(async (m) => (await m.status())?.revision));
    expect(new Set(revs).size).toBe(1);
  });

  it('delivers writes made on the leader to a watch on a follower, in order', async () => {
    const leader = c.member(await c.waitLeader());
    const follower = c.member((await c.followers())[0]);
    const client = new Etcd3({ hosts: follower.endpoint });
    try {
      const watcher = await client.watch().prefix('watched/').create();
      const seen: string[] = [];
      const all = new Promise<void>((ok) =>
        watcher.on('put', (kv) => {
          seen.push(`${kv.key.toString()}=${kv.value.toString()}`);
          if (seen.length === 5) ok();
        }),
      );
      for (let i = 0; i < 5; i++) {
        expect((await etcdctl(leader.endpoint, ['put', `watched/${i}`, `v${i}`])).code).toBe(0);
      }
      await all;
      expect(seen).toEqual([0, 1, 2, 3, 4].map((i) => `watched/${i}=v${i}`));
      await watcher.cancel();
    } finally {
      client.close();
    }
  });
});

describe('3-member cluster with peer TLS', () => {
  let pki: TestPki;
  let c: Cluster;
  beforeAll(async () => {
    pki = generateTestPki();
    c = await Cluster.start({
      size: 3,
      peerTls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca },
    });
  });
  afterAll(async () => {
    await c?.close();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('replicates over https peer URLs with client-certificate auth', async () => {
    const list = await etcdctl(c.member(0).endpoint, ['member', 'list']);
    const peerUrls = list.stdout
      .trim()
      .split('\n')
      .map((row) => row.split(', ')[3]);
    expect(peerUrls).toHaveLength(3);
    for (const u of peerUrls) expect(u).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await etcdctl(c.member(1).endpoint, ['put', 'tls/k', 'over-tls'])).stdout.trim()).toBe('OK');
    for (const m of c.members) {
      const got = await etcdctl(m.endpoint, ['get', 'tls/k', '--consistency=l', '--print-value-only']);
      expect(got.stdout.trim()).toBe('over-tls');
    }
    const hashes = await c.waitConverged();
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  });
});
