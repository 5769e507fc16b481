// Crashes while a follower takes in a database snapshot from the leader, at kv-server's test-only
// failpoints (KV_FAILPOINTS, packages/server/src/failpoints.ts, named like etcd's gofail points):
// before the received snapshot is persisted, after it and its database were written, and after the hard
// state committing it was saved but before the backend is replaced. After each crash the member restarts on the same data dir and must end with the
// leader's data and equal hashes. kv-server only: etcd's failpoints need a gofail build of etcd.
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl } from './support/server.js';

/** Raft entries the leader keeps behind a snapshot for slow followers (etcd's SnapshotCatchUpEntries). */
const CATCH_UP_ENTRIES = 5000;
const SNAPSHOT_COUNT = 100;

let c: Cluster | undefined;
afterAll(async () => c?.close());

/** `n` puts through `endpoint`, `concurrency` in flight. */
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

describe('crash while receiving a database snapshot (kv-server failpoints)', () => {
  it('a follower crashed before and after persisting the snapshot recovers with equal hashes', async () => {
    c = await Cluster.start({ size: 3, target: 'kv', flags: ['--snapshot-count', String(SNAPSHOT_COUNT)] });
    const cluster = c;
    const leader = cluster.member(await cluster.waitLeader());
    const down = cluster.member((await cluster.followers())[0]);
    await down.stop();
    const total = CATCH_UP_ENTRIES + SNAPSHOT_COUNT * 3;
    await putMany(leader.endpoint, total, 64);

    // Each armed restart receives the snapshot again: the earlier crashes left no usable snapshot (the
    // second one left its marker past the saved commit index, which restart skips, as etcd does).
    for (const point of ['raftBeforeSaveSnap', 'raftAfterSaveSnap', 'raftBeforeApplySnap']) {
      down.spawn({ KV_FAILPOINTS: `${point}=panic` });
      await down.exited(60_000);
      expect(down.exit, down.log).toEqual({ code: null, signal: 'SIGKILL' });
      expect(down.log).toContain(`"msg":"failpoint panic","failpoint":"${point}"`);
    }
    // The last crash left the snapshot persisted and committed: the restart installs it from disk.
    down.spawn();
    await down.waitReady();
    expect((await etcdctl(leader.endpoint, ['put', 'last', 'after-crashes'])).code).toBe(0);
    const hashes = await cluster.waitConverged();
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    for (const [key, value] of [
      ['last', 'after-crashes'],
      [`bulk/${(total - 1) % 500}`, `v${total - 1}`],
    ]) {
      const got = await etcdctl(down.endpoint, ['get', key, '--consistency=s', '--print-value-only']);
      expect({ key, value: got.stdout.trim() }).toEqual({ key, value });
    }
  });
});
