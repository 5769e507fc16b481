// Quorum: a 5-member cluster keeps accepting writes with two members lost and refuses them with three
// lost; a member cut off from its peers by a network partition (TCP proxies between members) refuses
// writes while the majority elects a leader and goes on, and everything converges after the heal.
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/**
 * etcd's ways of saying a request could not commit in time: the client's deadline (etcdctl
 * --command-timeout) or the server's own timeout errors, whichever fires first (a race by design: the
 * server's context carries the client's deadline; a linearizable read that times out in the server's
 * ReadIndex wait comes back as `rpc error: code = Unknown desc = context deadline exceeded`).
 */
const TIMED_OUT =
  /Error: ((rpc error: code = \w+ desc = )?context deadline exceeded|etcdserver: request timed out(, possibly due to (previous leader failure|connection lost))?)\n/;

/** GET `path` on `endpoint` (5 s at most): status code and body. */
function httpGet(endpoint: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = get(`${endpoint}${path}`, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
    req.on('error', fail);
  });
}

/** A put that gives up after `timeout` (etcdctl's --command-timeout). */
const putWithin = (endpoint: string, key: string, value: string, timeout = '3s') =>
  etcdctl(endpoint, ['put', key, value, `--command-timeout=${timeout}`]);

describe('quorum', () => {
  it('5 members: writes succeed with 2 members killed and time out with 3 killed', async () => {
    c = await Cluster.start({ size: 5 });
    const cluster = c;
    const leader = await cluster.waitLeader();
    // Lose two followers: 3 of 5 is still a quorum.
    const followers = await cluster.followers();
    await Promise.all(followers.slice(0, 2).map((i) => cluster.member(i).kill()));
    const survivor = cluster.member(followers[2]);
    expect((await putWithin(survivor.endpoint, 'with-3-of-5', 'ok')).stdout.trim()).toBe('OK');
    expect((await putWithin(cluster.member(leader).endpoint, 'on-leader', 'ok')).stdout.trim()).toBe('OK');
    const healthy = await httpGet(survivor.endpoint, '/health');
    expect({ status: healthy.status, body: JSON.parse(healthy.body) }).toEqual({
      status: 200,
      body: { health: 'true' },
    });
    const got = await etcdctl(survivor.endpoint, [
      'get',
      'on-leader',
      '--consistency=l',
      '--print-value-only',
    ]);
    expect(got.stdout.trim()).toBe('ok');

    // Lose a third (the leader): 2 of 5 cannot commit anything.
    await cluster.member(leader).kill();
    const refused = await putWithin(survivor.endpoint, 'with-2-of-5', 'never');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(TIMED_OUT);
    const read = await etcdctl(survivor.endpoint, ['get', 'with-3-of-5', '--command-timeout=2s']);
    expect(read.code).not.toBe(0);
    expect(read.stderr).toMatch(TIMED_OUT);
    // Without a leader the member reports itself unhealthy on the gateway's /health.
    const health = await httpGet(survivor.endpoint, '/health');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toEqual({ health: 'false' });
    // The data acknowledged before is still there locally (serializable read).
    const local = await etcdctl(survivor.endpoint, [
      'get',
      'with-3-of-5',
      '--consistency=s',
      '--print-value-only',
    ]);
    expect(local.stdout.trim()).toBe('ok');
  });

  it('partition: an isolated leader refuses writes, the majority elects a leader and writes, all converge after the heal', async () => {
    c = await Cluster.start({ size: 3, proxied: true });
    const cluster = c;
    const net = cluster.network!;
    expect((await etcdctl(cluster.member(0).endpoint, ['put', 'before', 'partition'])).code).toBe(0);
    const old = await cluster.waitLeader();
    const minority = cluster.member(old);

    net.isolate(old);
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
    // The proxies told the members apart and refused the cross-partition dials.
    expect(net.refused).toBeGreaterThan(0);
    expect(net.unidentified).toBe(0);

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

  it('partition: an isolated follower refuses writes while the leader and the other follower go on', async () => {
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
