// Leases in a cluster: granted, kept alive and queried through followers (which forward to the leader,
// the only member that expires leases), expiring on every member at once, and surviving the loss of the
// leader that granted them.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl, run, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** `etcdctl lease grant <ttl>` on `endpoint`; returns the lease id in hex. */
async function grant(endpoint: string, ttl: number): Promise<string> {
  const r = await etcdctl(endpoint, ['lease', 'grant', String(ttl)]);
  const m = /^lease ([0-9a-f]{16}) granted with TTL\((\d+)s\)$/.exec(r.stdout.trim());
  expect(m, r.stdout + r.stderr).not.toBeNull();
  expect(Number(m![2])).toBe(ttl);
  return m![1];
}

/** Polls until `key` is absent on every member in `endpoints` (bounded); returns whether it happened. */
async function goneEverywhere(endpoints: string[], key: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const counts = await Promise.all(
      endpoints.map(async (e) => {
        const r = await etcdctl(e, ['get', key, '--consistency=s', '--keys-only', '-w', 'json']);
        return JSON.parse(r.stdout).count ?? 0;
      }),
    );
    if (counts.every((n) => n === 0)) return true;
    await sleep(200);
  }
  return false;
}

describe('leases in a cluster', () => {
  it('a lease granted and kept alive through followers holds its key, then expires on every member', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const [f1, f2] = (await cluster.followers()).map((i) => cluster.member(i));
    const id = await grant(f1.endpoint, 3);
    expect((await etcdctl(f2.endpoint, ['put', 'leased', 'v', `--lease=${id}`])).stdout.trim()).toBe('OK');
    const ttl = await etcdctl(f2.endpoint, ['lease', 'timetolive', id, '--keys']);
    expect(ttl.stdout.trim()).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(3s\\), remaining\\([123]s\\), attached keys\\(\\[leased\\]\\)$`,
      ),
    );

    // Keep-alives sent to a follower for more than twice the TTL keep the key.
    const keeper = spawn('etcdctl', [`--endpoints=${f1.endpoint}`, 'lease', 'keep-alive', id], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let kept = '';
    keeper.stdout.on('data', (d) => (kept += d));
    try {
      await sleep(7000);
      expect(kept).toMatch(new RegExp(`lease ${id} keepalived with TTL\\(3\\)`));
      for (const m of cluster.members) {
        const got = await etcdctl(m.endpoint, ['get', 'leased', '--consistency=s', '--print-value-only']);
        expect({ member: m.name, value: got.stdout.trim() }).toEqual({ member: m.name, value: 'v' });
      }
    } finally {
      keeper.kill('SIGKILL');
    }

    // Without keep-alives the leader expires it, and the deletion reaches every member.
    expect(
      await goneEverywhere(
        cluster.members.map((m) => m.endpoint),
        'leased',
        15_000,
      ),
    ).toBe(true);
    const after = await etcdctl(f2.endpoint, ['lease', 'timetolive', id]);
    expect(after.stdout.trim()).toBe(`lease ${id} already expired`);
  });

  it('a lease outlives the leader that granted it and is revoked through a follower', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = cluster.member(await cluster.waitLeader());
    const id = await grant(old.endpoint, 30);
    expect((await etcdctl(old.endpoint, ['put', 'owned', 'v', `--lease=${id}`])).code).toBe(0);
    // A client-chosen id above 2^53, granted through a follower's JSON gateway (a bare JSON number).
    const chosen = 3182763892645462267n;
    const chosenHex = chosen.toString(16).padStart(16, '0');
    const viaFollower = cluster.current.find((m) => m.serving && m !== old)!;
    const body = `{"TTL": 30, "ID": ${chosen}}`;
    const granted = await run('curl', [
      '-s',
      '-X',
      'POST',
      `${viaFollower.endpoint}/v3/lease/grant`,
      '-d',
      body,
    ]);
    expect(granted.stdout).toContain(`"ID":"${chosen}"`);
    expect((await etcdctl(viaFollower.endpoint, ['put', 'chosen', 'c', `--lease=${chosenHex}`])).code).toBe(
      0,
    );
    await old.kill();
    const next = cluster.member(await cluster.waitLeader({ exclude: [old.index] }));
    const follower = cluster.current.find((m) => m.serving && m !== next)!;
    // The new leader keeps the lease (etcd renews the remaining TTL of every lease on a leader change).
    const ttl = await etcdctl(follower.endpoint, ['lease', 'timetolive', id, '--keys']);
    const m =
      /^lease [0-9a-f]{16} granted with TTL\(30s\), remaining\((\d+)s\), attached keys\(\[owned\]\)$/.exec(
        ttl.stdout.trim(),
      );
    expect(m, ttl.stdout + ttl.stderr).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect((await etcdctl(follower.endpoint, ['get', 'owned', '--print-value-only'])).stdout.trim()).toBe(
      'v',
    );

    // Keep-alive and TimeToLive of the chosen id on a follower reach the leader (peer /leases and
    // /leases/internal) and come back exact.
    const ka = await etcdctl(follower.endpoint, ['lease', 'keep-alive', '--once', chosenHex]);
    expect(ka.stdout.trim(), ka.stderr).toBe(`lease ${chosenHex} keepalived with TTL(30)`);
    const chosenTtl = await etcdctl(follower.endpoint, ['lease', 'timetolive', chosenHex, '--keys']);
    expect(chosenTtl.stdout.trim()).toMatch(
      new RegExp(
        `^lease ${chosenHex} granted with TTL\\(30s\\), remaining\\(\\d+s\\), attached keys\\(\\[chosen\\]\\)$`,
      ),
    );

    const revoked = await etcdctl(follower.endpoint, ['lease', 'revoke', id]);
    expect(revoked.stdout.trim()).toBe(`lease ${id} revoked`);
    const serving = cluster.current.filter((x) => x.serving).map((x) => x.endpoint);
    expect(await goneEverywhere(serving, 'owned', 10_000)).toBe(true);
    const list = await etcdctl(next.endpoint, ['lease', 'list']);
    expect(list.stdout).not.toContain(id);
  });
});
