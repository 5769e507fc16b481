// Corruption checks across Debian etcd 3.4 and kv-server members of one cluster: with
// --experimental-corrupt-check-time the leader asks every peer for its hash with `GET /members/hashkv` on
// the peer URL (etcd's getPeerHashKVs). An etcd leader counts a kv member only when kv serves that route
// the way etcd does, and a kv leader counts etcd members only when it asks the way etcd answers. The
// cluster runs etcd with --logger=zap: with 3.4's default logger, etcd's handler panics on its nil logger
// for every error answer. Always etcd + kv, whatever KV_E2E_TARGET says.
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, type Member } from './support/cluster.js';
import { etcdctl } from './support/server.js';

let c: Cluster | undefined;
afterAll(async () => c?.close());

/** The peer counts of the "finished peer corruption check" lines a member logged so far. */
function peersChecked(m: Member): number[] {
  const counts: number[] = [];
  for (const line of m.log.split('\n')) {
    if (!line.includes('finished peer corruption check')) continue;
    const entry = JSON.parse(line) as { 'number-of-peers-checked'?: number };
    counts.push(entry['number-of-peers-checked'] ?? -1);
  }
  return counts;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('corruption checks in a cluster of etcd and kv members', () => {
  it('an etcd leader checks a kv member, and a kv leader checks the etcd members', async () => {
    c = await Cluster.start({
      size: 2,
      target: 'etcd',
      flags: ['--logger', 'zap', '--experimental-corrupt-check-time', '1s'],
    });
    const cluster = c;
    const etcdLeader = cluster.member(await cluster.waitLeader());
    for (let i = 0; i < 20; i++) {
      expect((await etcdctl(etcdLeader.endpoint, ['put', `k${i}`, `v${i}`])).code).toBe(0);
    }
    const kv = await cluster.addMember('kv1', { target: 'kv' });
    await cluster.waitConverged(30_000);

    // etcd counts a peer only when its hash came back: 2 once kv answers too.
    await waitFor('the etcd leader to check both peers', () => peersChecked(etcdLeader).includes(2));

    const moved = await etcdctl(cluster.endpoints, ['move-leader', kv.hexId]);
    expect(moved.stderr).toBe('');
    expect(await cluster.waitLeader({ exclude: [etcdLeader.index] })).toBe(kv.index);
    expect((await etcdctl(kv.endpoint, ['put', 'after-move', 'x'])).code).toBe(0);
    await waitFor('the kv leader to check both etcd members', () => peersChecked(kv).includes(2));

    // The hashes agreed: no member raised CORRUPT.
    const alarms = await etcdctl(cluster.endpoints, ['alarm', 'list']);
    expect([alarms.code, alarms.stdout.trim()]).toEqual([0, '']);
  });
});
