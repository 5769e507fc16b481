// Losing the leader: SIGKILL under a write load and SIGSTOP for several election timeouts. A new leader
// is elected, writes resume, no acknowledged write is lost, and the old leader catches up as a follower.
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ELECTION_MS } from './support/cluster.js';
import { etcdctl, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** Keys under `prefix` that a linearizable read on `endpoint` returns. */
async function keysOn(endpoint: string, prefix: string): Promise<Set<string>> {
  const r = await etcdctl(endpoint, ['get', prefix, '--prefix', '--keys-only', '-w', 'json']);
  expect(r.code).toBe(0);
  const kvs: { key: string }[] = JSON.parse(r.stdout).kvs ?? [];
  return new Set(kvs.map((kv) => Buffer.from(kv.key, 'base64').toString()));
}

/**
 * A write load: `writers` loops, each with its own client on one endpoint, putting unique keys and
 * recording the ones the cluster acknowledged. Failed puts are counted and retried with new keys.
 */
class WriteLoad {
  readonly acked = new Set<string>();
  failed = 0;
  private stopped = false;
  private readonly clients: Etcd3[];
  private readonly loops: Promise<void>[];

  constructor(endpoints: string[], perEndpoint: number) {
    this.clients = endpoints.map((e) => new Etcd3({ hosts: e }));
    this.loops = this.clients.flatMap((client, ci) =>
      Array.from({ length: perEndpoint }, (_, w) => this.loop(client, `load/${ci}-${w}`)),
    );
  }

  private async loop(client: Etcd3, prefix: string): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const key = `${prefix}/${i}`;
      try {
        await client.put(key).value(String(i));
        this.acked.add(key);
      } catch {
        this.failed++;
        await sleep(50);
      }
    }
  }

  /** Resolves once `n` more writes have been acknowledged (or rejects after `timeoutMs`). */
  async ackedMore(n: number, timeoutMs: number): Promise<void> {
    const target = this.acked.size + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.size < target) {
      if (Date.now() > deadline)
        throw new Error(`only ${this.acked.size}/${target} acks, ${this.failed} failed`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const cl of this.clients) cl.close();
  }
}

describe('leader failure', () => {
  it('elects a new leader after SIGKILL of the leader under load, loses no acknowledged write, and the restarted member catches up', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = await cluster.waitLeader();
    const followers = await cluster.followers();
    // Clients on the followers, so the load outlives the leader; their puts are forwarded to it.
    const load = new WriteLoad(
      followers.map((i) => cluster.member(i).endpoint),
      4,
    );
    try {
      await load.ackedMore(200, 20_000);
      await cluster.member(old).kill();
      const next = await cluster.waitLeader({ exclude: [old] });
      expect(followers).toContain(next);
      // Writes resume under the new leader.
      await load.ackedMore(200, 20_000);
    } finally {
      await load.stop();
    }
    const present = await keysOn(cluster.member(followers[0]).endpoint, 'load/');
    expect([...load.acked].filter((k) => !present.has(k))).toEqual([]);

    await cluster.member(old).restart();
    const hashes = await cluster.waitConverged();
    expect(hashes.map((h) => h.name).sort()).toEqual(['m0', 'm1', 'm2']);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    // The operator's check: `endpoint hashkv --cluster` (every member's client URL from member list).
    const all = await etcdctl(cluster.member(old).endpoint, [
      'endpoint',
      'hashkv',
      '--cluster',
      '-w',
      'json',
    ]);
    expect(all.code).toBe(0);
    const perMember: { Endpoint: string; HashKV: { hash: number } }[] = JSON.parse(all.stdout);
    expect(perMember.map((h) => h.Endpoint).sort()).toEqual(cluster.members.map((m) => m.endpoint).sort());
    expect(new Set(perMember.map((h) => h.HashKV.hash))).toEqual(new Set([hashes[0].hash]));
    // The restarted member serves every acknowledged key itself.
    const onOld = await keysOn(cluster.member(old).endpoint, 'load/');
    expect([...load.acked].filter((k) => !onOld.has(k))).toEqual([]);
  });

  it('replaces a leader frozen with SIGSTOP, and the old leader rejoins as a follower after SIGCONT', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = await cluster.waitLeader();
    const oldId = cluster.member(old).id;
    expect((await etcdctl(cluster.member(old).endpoint, ['put', 'before', 'stop'])).code).toBe(0);

    cluster.member(old).pause();
    const next = await cluster.waitLeader({ exclude: [old] });
    const nextMember = cluster.member(next);
    expect((await etcdctl(nextMember.endpoint, ['put', 'during', 'stop'])).stdout.trim()).toBe('OK');
    // Stay frozen for several election timeouts in total.
    await sleep(4 * ELECTION_MS);
    expect((await etcdctl(nextMember.endpoint, ['put', 'late', 'stop'])).stdout.trim()).toBe('OK');
    cluster.member(old).resume();

    // The old leader learns of the new term and follows the leader of the majority (normally `next`;
    // on a starved machine another election may have happened meanwhile, which is not the point here).
    const deadline = Date.now() + 15_000;
    let following = false;
    let st = await cluster.member(old).status();
    while (Date.now() < deadline) {
      const l = await cluster.leader();
      st = await cluster.member(old).status();
      following = l !== undefined && l !== old && st?.leader === cluster.member(l).id;
      if (following) break;
      await sleep(200);
    }
    expect(st?.memberId).toBe(oldId);
    expect(st?.leader).not.toBe(oldId);
    expect(following).toBe(true);
    for (const key of ['before', 'during', 'late']) {
      const got = await etcdctl(cluster.member(old).endpoint, ['get', key, '--print-value-only']);
      expect(got.stdout.trim()).toBe('stop');
    }
    const hashes = await cluster.waitConverged();
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
  });

  it('a watch on a follower keeps delivering across the loss of the leader', async () => {
    c = await Cluster.start({ size: 3 });
    const cluster = c;
    const old = await cluster.waitLeader();
    const [watched, other] = (await cluster.followers()).map((i) => cluster.member(i));
    const client = new Etcd3({ hosts: watched.endpoint });
    try {
      const watcher = await client.watch().prefix('w/').create();
      const seen: string[] = [];
      watcher.on('put', (kv) => seen.push(kv.value.toString()));
      expect((await etcdctl(cluster.member(old).endpoint, ['put', 'w/1', 'before'])).code).toBe(0);
      await cluster.member(old).kill();
      await cluster.waitLeader({ exclude: [old] });
      expect((await etcdctl(other.endpoint, ['put', 'w/2', 'after'])).stdout.trim()).toBe('OK');
      const deadline = Date.now() + 15_000;
      while (seen.length < 2 && Date.now() < deadline) await sleep(100);
      expect(seen).toEqual(['before', 'after']);
      await watcher.cancel();
    } finally {
      client.close();
    }
  });
});
