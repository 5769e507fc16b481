// Planned leadership changes: `etcdctl move-leader` hands leadership to a chosen member, and a leader
// stopped with SIGTERM hands it to a follower before it exits (no election timeout without a leader).
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('leadership transfer', () => {
  it('move-leader makes the chosen follower the leader', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = cluster.member(await cluster.waitLeader());
    const target = cluster.member((await cluster.followers())[0]);
    // etcdctl finds the leader among the endpoints it is given and asks it to move.
    const r = await etcdctl(cluster.endpoints, ['move-leader', target.hexId]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`Leadership transferred from ${old.hexId} to ${target.hexId}`);
    expect(await cluster.waitLeader({ exclude: [old.index] })).toBe(target.index);
    expect((await etcdctl(target.endpoint, ['put', 'moved', 'yes'])).stdout.trim()).toBe('OK');

    // Asked of a follower, the request is refused with etcd's error.
    const other = cluster.current.find((m) => m !== target)!;
    const refused = await etcdctl(other.endpoint, ['move-leader', old.hexId]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no leader endpoint given at \[/);
  });

  it('a leader stopped with SIGTERM transfers leadership to a follower before it exits', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = cluster.member(await cluster.waitLeader());
    expect((await etcdctl(old.endpoint, ['put', 'before', 'stop'])).code).toBe(0);
    await old.stop();
    // etcd logs "starts leadership transfer from <leader> to <transferee>" (capnslog) or "leadership
    // transfer starting" (zap); either way the transferee then leads.
    expect(old.log).toMatch(/starts leadership transfer from|leadership transfer starting/);
    const next = cluster.member(await cluster.waitLeader({ exclude: [old.index] }));
    const named = /starts leadership transfer from \w+ to (\w+)/.exec(old.log);
    if (named) expect(named[1]).toBe(next.hexId);
    expect((await etcdctl(next.endpoint, ['put', 'after', 'stop'])).stdout.trim()).toBe('OK');
    await old.start();
    const got = await etcdctl(old.endpoint, ['get', 'after', '--consistency=l', '--print-value-only']);
    expect(got.stdout.trim()).toBe('stop');
  });
});
