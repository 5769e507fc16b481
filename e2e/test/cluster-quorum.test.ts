// Quorum: a 5-member cluster keeps accepting writes with two members lost and refuses them (and reports
// itself unhealthy) with three lost.
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, putWithin, TIMED_OUT } from './support/cluster.js';
import { etcdctl } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

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
});
