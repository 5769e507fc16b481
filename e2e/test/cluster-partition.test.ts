// Network partitions between members, made with TCP proxies on the peer URLs (support/proxy.ts): the
// side without a quorum refuses writes with a timeout error, the majority elects a leader (if it lost it)
// and goes on, and after the heal the minority catches up and every member has the same hashes. Partitions
// that reset connections and partitions that silently hold them (a blackhole) are both covered.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, putWithin, TIMED_OUT } from './support/cluster.js';
import { etcdctl, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('partition', () => {
  for (const mode of ['reset', 'blackhole'] as const) {
    it(`${mode}: an isolated leader refuses writes, the majority elects a leader and writes, all converge after the heal`, async () => {
      c = await Cluster.start({ size: 3, proxied: true });
      const cluster = c;
      const net = cluster.network!;
      expect((await etcdctl(cluster.member(0).endpoint, ['put', 'before', 'partition'])).code).toBe(0);
      const old = await cluster.waitLeader();
      const minority = cluster.member(old);

      net.isolate(old, mode);
      const next = await cluster.waitLeader({ exclude: [old] });
      const majority = cluster.member(next);
      expect((await putWithin(majority.endpoint, 'majority', 'accepted')).stdout.trim()).toBe('OK');
      const refused = await putWithin(minority.endpoint, 'minority', 'refused');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(TIMED_OUT);
      // The isolated member has stepped down (check quorum) and does not see the majority's write.
      const st = await minority.status();
      expect(st?.leader).not.toBe(minority.id);
      const stale = await etcdctl(minority.endpoint, [
        'get',
        'majority',
        '--consistency=s',
        '--print-value-only',
      ]);
      expect(stale.stdout.trim()).toBe('');
      // The proxies told the members apart (and, resetting, refused the cross-partition dials).
      expect(net.unidentified).toBe(0);
      if (mode === 'reset') expect(net.refused).toBeGreaterThan(0);
      else expect(net.refused).toBe(0);

      net.heal();
      const deadline = Date.now() + 20_000;
      let seen = '';
      while (seen !== 'accepted' && Date.now() < deadline) {
        seen = (
          await etcdctl(minority.endpoint, ['get', 'majority', '--consistency=s', '--print-value-only'])
        ).stdout.trim();
        if (seen !== 'accepted') await sleep(200);
      }
      expect(seen).toBe('accepted');
      // The minority's write was never acknowledged; it may not appear anywhere.
      for (const m of cluster.members) {
        const g = await etcdctl(m.endpoint, ['get', 'minority', '--consistency=s', '--print-value-only']);
        expect(g.stdout.trim()).toBe('');
      }
      await cluster.waitLeader();
      expect((await etcdctl(minority.endpoint, ['put', 'after', 'heal'])).stdout.trim()).toBe('OK');
      const hashes = await cluster.waitConverged();
      expect(hashes).toHaveLength(3);
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    });
  }

  it('reset: an isolated follower refuses writes while the leader and the other follower go on', async () => {
    c = await Cluster.start({ size: 3, proxied: true });
    const cluster = c;
    const leader = await cluster.waitLeader();
    const [cut] = await cluster.followers();
    const isolated = cluster.member(cut);

    cluster.network!.isolate(cut);
    expect((await putWithin(cluster.member(leader).endpoint, 'k', 'majority')).stdout.trim()).toBe('OK');
    const refused = await putWithin(isolated.endpoint, 'k', 'minority');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(TIMED_OUT);
    const read = await etcdctl(isolated.endpoint, ['get', 'k', '--consistency=l', '--command-timeout=2s']);
    expect(read.code).not.toBe(0);
    expect(read.stderr).toMatch(TIMED_OUT);
    // Without pre-vote the isolated follower campaigns alone with ever higher terms, in vain: the leader
    // is on the majority side.
    const current = await cluster.waitLeader();
    expect(current).not.toBe(cut);

    cluster.network!.heal();
    await cluster.waitLeader();
    const hashes = await cluster.waitConverged();
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    const got = await etcdctl(isolated.endpoint, ['get', 'k', '--consistency=l', '--print-value-only']);
    expect(got.stdout.trim()).toBe('majority');
  });
});
