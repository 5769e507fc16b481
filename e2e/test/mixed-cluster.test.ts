// kv-server as a member of a Debian etcd 3.4 cluster (issue #13, section 2): added as a learner through
// etcdctl after etcd compacted its log, it catches up from etcd's snapshot (v2 store JSON membership and a
// bbolt backend) and etcd's log (v3 requests, etcd's v2 membership requests, conf changes),
// is promoted, serves linearizable reads, publishes its attributes the way etcd members apply them,
// becomes leader, and brings an etcd member that was down past a snapshot back with a snapshot in
// etcd's format. Every member ends with the same hash. Always etcd + kv, whatever KV_E2E_TARGET says.
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, parseJsonExact } from './support/cluster.js';
import { etcdctl } from './support/server.js';

const SNAPSHOT_COUNT = 100;
/** More entries than a leader keeps behind its snapshot (SnapshotCatchUpEntries, 5000). */
const WRITES = 5000 + SNAPSHOT_COUNT * 3;

let c: Cluster | undefined;
afterAll(async () => c?.close());

async function putMany(endpoint: string, n: number): Promise<void> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let i = next++; i < n; i = next++) await client.put(`bulk/${i % 300}`).value(`v${i}`);
      }),
    );
  } finally {
    client.close();
  }
}

describe('a kv member in an etcd cluster', () => {
  it('joins as a learner, is promoted, leads, and sends etcd a snapshot', async () => {
    c = await Cluster.start({ size: 3, target: 'etcd', flags: ['--snapshot-count', String(SNAPSHOT_COUNT)] });
    const cluster = c;
    const etcdLeader = cluster.member(await cluster.waitLeader());
    expect((await etcdctl(etcdLeader.endpoint, ['put', 'from-etcd', 'before-kv'])).stdout.trim()).toBe('OK');
    // Far more entries than etcd keeps behind its snapshot, and a compaction: the new kv member can only
    // catch up from a snapshot in etcd's formats (v2 store JSON + bbolt), installed into kv's engine.
    await putMany(etcdLeader.endpoint, WRITES);
    const before = await etcdLeader.status();
    expect((await etcdctl(etcdLeader.endpoint, ['compact', String(before!.revision)])).code).toBe(0);

    const kv = await cluster.addMember('kv1', { learner: true, target: 'kv' });
    expect(kv.log).toMatch(/received and saved database snapshot|saved database snapshot to disk/);
    await cluster.promote(kv.index);
    // Linearizable reads on kv see etcd's writes, and etcd members see kv's.
    const got = await etcdctl(kv.endpoint, ['get', 'from-etcd', '--consistency=l', '--print-value-only']);
    expect(got.stdout.trim()).toBe('before-kv');
    expect((await etcdctl(kv.endpoint, ['put', 'from-kv', 'written-on-kv'])).stdout.trim()).toBe('OK');
    for (const m of cluster.current) {
      const r = await etcdctl(m.endpoint, ['get', 'from-kv', '--consistency=l', '--print-value-only']);
      expect({ member: m.name, value: r.stdout.trim() }).toEqual({ member: m.name, value: 'written-on-kv' });
    }
    // etcd members applied kv's published attributes (etcd 3.4's v2 request).
    type Listed = { members: { ID: string; name: string; clientURLs?: string[] }[] };
    const listed = parseJsonExact<Listed>(
      (await etcdctl(etcdLeader.endpoint, ['member', 'list', '-w', 'json'])).stdout,
    );
    const kvListed = listed.members.find((m) => m.name === 'kv1');
    expect(kvListed?.clientURLs).toEqual([kv.endpoint]);

    // kv leads the etcd members.
    const moved = await etcdctl(cluster.endpoints, ['move-leader', kv.hexId]);
    expect(moved.stderr).toBe('');
    expect(await cluster.waitLeader({ exclude: [etcdLeader.index] })).toBe(kv.index);

    // An etcd member down past kv's snapshot comes back from a snapshot kv sends in etcd's format.
    const down = cluster.current.find((m) => m !== kv)!;
    await down.stop();
    await putMany(kv.endpoint, WRITES);
    const st = await kv.status();
    expect((await etcdctl(kv.endpoint, ['compact', String(st!.revision)])).code).toBe(0);
    expect((await etcdctl(kv.endpoint, ['put', 'last', 'after-compact'])).code).toBe(0);
    await down.restart();
    const hashes = await cluster.waitConverged(60_000);
    expect(hashes).toHaveLength(4);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(down.log).toMatch(/received and saved database snapshot|applied snapshot/);
    const last = await etcdctl(down.endpoint, ['get', 'last', '--consistency=s', '--print-value-only']);
    expect(last.stdout.trim()).toBe('after-compact');
  });
});
