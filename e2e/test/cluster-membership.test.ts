// Membership changes with etcdctl, as an operator makes them: a learner is added, catches up, refuses
// what etcd lets no learner serve, and is promoted; a member is removed (and stops itself) and replaced by
// a new member with a new data dir.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, hex16 } from './support/cluster.js';
import { etcdctl, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** `etcdctl member list` rows as `name, status, isLearner`, sorted. */
async function memberRows(endpoint: string): Promise<string[]> {
  const r = await etcdctl(endpoint, ['member', 'list']);
  expect(r.code).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((row) => {
      const [, status, name, , , learner] = row.split(', ');
      return `${name}, ${status}, ${learner}`;
    })
    .sort();
}

/** Polls a serializable get on `endpoint` until it returns `value` (bounded). */
async function waitValue(endpoint: string, key: string, value: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let got = '';
  while (Date.now() < deadline) {
    got = (await etcdctl(endpoint, ['get', key, '--consistency=s', '--print-value-only'])).stdout.trim();
    if (got === value) return;
    await sleep(200);
  }
  expect(got).toBe(value);
}

describe('membership', () => {
  it('adds a learner that catches up, refuses linearizable reads and writes and a second learner, and is promoted', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    for (let i = 0; i < 20; i++) await etcdctl(cluster.member(0).endpoint, ['put', `pre/${i}`, `v${i}`]);

    const learner = await cluster.addMember('m3', { learner: true });
    expect(await memberRows(cluster.member(0).endpoint)).toEqual([
      'm0, started, false',
      'm1, started, false',
      'm2, started, false',
      'm3, started, true',
    ]);
    // etcd 3.4 allows one learner at a time.
    const second = await etcdctl(cluster.member(0).endpoint, [
      'member',
      'add',
      'm4',
      '--peer-urls=http://127.0.0.1:9',
      '--learner',
    ]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/Error: etcdserver: too many learner members in cluster\n/);
    // It catches up: a serializable (local) read on the learner returns the data written before it joined.
    await waitValue(learner.endpoint, 'pre/19', 'v19');
    expect((await learner.status())?.isLearner).toBe(true);

    const get = await etcdctl(learner.endpoint, ['get', 'pre/0', '--command-timeout=3s']);
    expect(get.code).not.toBe(0);
    expect(get.stderr).toMatch(/etcdserver: rpc not supported for learner/);
    const put = await etcdctl(learner.endpoint, ['put', 'by-learner', 'x', '--command-timeout=3s']);
    expect(put.code).not.toBe(0);
    expect(put.stderr).toMatch(/etcdserver: rpc not supported for learner/);

    const promoted = await cluster.promote(learner.index);
    // etcdctl prints both ids with %16x (space-padded when shorter than 16 hex digits).
    expect(promoted.stdout).toMatch(
      new RegExp(
        `^Member ${hex16(BigInt(`0x${learner.hexId}`))} promoted in cluster ${hex16(cluster.clusterId)}$`,
        'm',
      ),
    );
    expect(await memberRows(cluster.member(0).endpoint)).toEqual([
      'm0, started, false',
      'm1, started, false',
      'm2, started, false',
      'm3, started, false',
    ]);
    // A voter now: linearizable reads and writes on it work.
    expect((await etcdctl(learner.endpoint, ['put', 'by-m3', 'voter'])).stdout.trim()).toBe('OK');
    const read = await etcdctl(learner.endpoint, ['get', 'pre/0', '--consistency=l', '--print-value-only']);
    expect(read.stdout.trim()).toBe('v0');
    const hashes = await cluster.waitConverged();
    expect(hashes).toHaveLength(4);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  });

  it('refuses to promote a member that is not a learner', async () => {
    c = await Cluster.start({ size: 3 });
    const r = await etcdctl(c.member(0).endpoint, ['member', 'promote', c.member(1).hexId]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/etcdserver: can only promote a learner member/);
  });

  it('removes a member, which stops itself, and replaces it with a new member on a new data dir', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    expect((await etcdctl(cluster.member(0).endpoint, ['put', 'before', 'remove'])).code).toBe(0);
    // A follower: removing the leader would add an election to the test (and a put could fail on it).
    const gone = cluster.member((await cluster.followers())[0]);
    const removed = await cluster.removeMember(gone.index);
    expect(removed.stdout).toMatch(
      new RegExp(
        `^Member ${hex16(BigInt(`0x${gone.hexId}`))} removed from cluster ${hex16(cluster.clusterId)}$`,
        'm',
      ),
    );
    expect(gone.running).toBe(false);
    expect(gone.fullLog).toMatch(/the member has been permanently removed from the cluster/);
    const kept = cluster.current.map((m) => m.name);
    expect(kept).toHaveLength(2);
    expect(await memberRows(cluster.current[0].endpoint)).toEqual(kept.map((n) => `${n}, started, false`));
    // Two members: a quorum of two, writes still work.
    const put = await etcdctl(cluster.current[1].endpoint, ['put', 'between', 'two']);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');

    const fresh = await cluster.addMember('m3');
    expect(fresh.dataDir).not.toBe(gone.dataDir);
    expect(await memberRows(fresh.endpoint)).toEqual([...kept, 'm3'].map((n) => `${n}, started, false`));
    for (const [key, value] of [
      ['before', 'remove'],
      ['between', 'two'],
    ]) {
      const got = await etcdctl(fresh.endpoint, ['get', key, '--consistency=l', '--print-value-only']);
      expect(got.stdout.trim()).toBe(value);
    }
    expect((await etcdctl(fresh.endpoint, ['put', 'after', 'replace'])).stdout.trim()).toBe('OK');
    const hashes = await cluster.waitConverged();
    expect(hashes.map((h) => h.name).sort()).toEqual([...kept, 'm3'].sort());
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  });

  it('removes the leader of two members: it stops itself and the other leads alone', async () => {
    // Two members, the sharpest case: the one left can only lead once it has applied the removal (it
    // cannot win an election in the old configuration without the removed leader's vote). The strict
    // reconfig check refuses the removal ("unhealthy cluster") until the two have been connected for
    // 5 s; removeMember retries until then.
    c = await Cluster.start({ size: 2 });
    const cluster = c;
    expect((await etcdctl(cluster.member(0).endpoint, ['put', 'before', 'remove'])).code).toBe(0);
    const leader = cluster.member(await cluster.waitLeader());
    await cluster.removeMember(leader.index);
    expect(leader.running).toBe(false);
    expect(leader.fullLog).toMatch(/the member has been permanently removed from the cluster/);
    const [left] = cluster.current;
    expect(cluster.current).toHaveLength(1);
    expect(await cluster.waitLeader({ exclude: [leader.index] })).toBe(left!.index);
    const put = await etcdctl(left!.endpoint, ['put', 'after', 'remove']);
    expect(put.stdout.trim()).toBe('OK');
    expect(await memberRows(left!.endpoint)).toEqual([`${left!.name}, started, false`]);
    const got = await etcdctl(left!.endpoint, ['get', 'before', '--consistency=l', '--print-value-only']);
    expect(got.stdout.trim()).toBe('remove');
  });
});
