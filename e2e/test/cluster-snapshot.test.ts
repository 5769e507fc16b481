// A member that is down while the others write far past --snapshot-count (and compact) can no longer be
// caught up from the leader's log: the leader keeps only 5000 entries behind its snapshot (etcd 3.4's
// SnapshotCatchUpEntries, not configurable there), so it sends the whole backend over POST
// /raft/snapshot. The restarted member must log the received snapshot and end with equal hashes.
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl } from './support/server.js';

/** Raft entries the leader keeps behind a snapshot for slow followers (etcd's SnapshotCatchUpEntries). */
const CATCH_UP_ENTRIES = 5000;
const SNAPSHOT_COUNT = 100;

let c: Cluster | undefined;
afterAll(async () => c?.close());

/** `n` puts (one raft entry each) through `endpoint`, `concurrency` in flight. */
async function putMany(endpoint: string, n: number, concurrency: number): Promise<void> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < n; i = next++) await client.put(`bulk/${i % 500}`).value(`v${i}`);
      }),
    );
  } finally {
    client.close();
  }
}

describe('member down past a snapshot', () => {
  it('catches up by receiving a database snapshot, and ends with equal hashes', async () => {
    c = await Cluster.start({ size: 3, flags: ['--snapshot-count', String(SNAPSHOT_COUNT)] });
    const cluster = c;
    const leader = cluster.member(await cluster.waitLeader());
    const down = cluster.member((await cluster.followers())[0]);
    expect((await etcdctl(leader.endpoint, ['put', 'first', 'before-down'])).code).toBe(0);
    await down.stop();

    const total = CATCH_UP_ENTRIES + SNAPSHOT_COUNT * 3;
    await putMany(leader.endpoint, total, 64);
    const st = await leader.status();
    expect(st?.revision).toBeGreaterThan(total);
    const compact = await etcdctl(leader.endpoint, ['compact', String(st!.revision)]);
    expect(compact.stdout.trim()).toBe(`compacted revision ${st!.revision}`);
    expect((await etcdctl(leader.endpoint, ['put', 'last', 'after-compact'])).code).toBe(0);

    await down.restart();
    const hashes = await cluster.waitConverged();
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(new Set(hashes.map((h) => h.compactRevision))).toEqual(new Set([st!.revision]));
    expect(down.log).toMatch(/received and saved database snapshot/);
    for (const [key, value] of [
      ['first', 'before-down'],
      ['last', 'after-compact'],
      [`bulk/${(total - 1) % 500}`, `v${total - 1}`],
    ]) {
      const got = await etcdctl(down.endpoint, ['get', key, '--consistency=s', '--print-value-only']);
      expect({ key, value: got.stdout.trim() }).toEqual({ key, value });
    }
    // The history before the compaction is gone on the caught-up member too.
    const old = await etcdctl(down.endpoint, ['get', 'first', `--rev=${st!.revision - 1}`]);
    expect(old.stderr).toMatch(/mvcc: required revision has been compacted/);
  });
});
