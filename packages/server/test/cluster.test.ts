/**
 * Three (then four) in-process members over real loopback sockets: the server core's cluster paths that
 * the e2e suite drives through etcdctl, checked here call by call — forwarded proposals, ReadIndex on a
 * follower, lease keep-alive and TimeToLive forwarded to the leader, MoveLeader, a member that joins
 * with `--initial-cluster-state existing`, learner refusal and promotion, member attributes that
 * survive a restart, and ports bound before a member has a leader (a connection made meanwhile is
 * served once it is ready).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/config/parse.js';
import { KvServer } from '../src/embed.js';
import { Logger } from '../src/log/logger.js';
import { b, call, connect, freePort, rawGet, s, sleep } from './helpers.js';

interface Member {
  name: string;
  client: number;
  peer: number;
  dir: string;
  server?: KvServer;
}

/** Lease checkpoint interval of these members (etcd's is 5 minutes). */
const CHECKPOINT_MS = 1000;
const root = mkdtempSync(join(tmpdir(), 'kv-cluster-'));
const token = `cluster-test-${process.pid}`;
const members: Member[] = [];

function flags(m: Member, initialCluster: string, state: 'new' | 'existing'): string[] {
  return [
    '--name',
    m.name,
    '--data-dir',
    m.dir,
    '--backend',
    'level',
    '--listen-client-urls',
    `http://127.0.0.1:${m.client}`,
    '--advertise-client-urls',
    `http://127.0.0.1:${m.client}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${m.peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${m.peer}`,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-token',
    token,
    '--initial-cluster-state',
    state,
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    '--experimental-enable-lease-checkpoint',
  ];
}

async function start(m: Member, initialCluster: string, state: 'new' | 'existing'): Promise<KvServer> {
  const parsed = parseArgs(flags(m, initialCluster, state));
  if (parsed.action !== 'run') throw new Error('unexpected');
  m.server = await KvServer.start(parsed.config, {
    logger: Logger.silent(),
    unsafeNoFsync: true,
    leaseCheckpointIntervalMs: CHECKPOINT_MS,
  });
  return m.server;
}

const clusterString = (ms: Member[]) => ms.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
const leaderOf = () => members.find((m) => m.server?.etcd.isLeader)!;
const followers = () => members.filter((m) => m.server && !m.server.etcd.isLeader);

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    members.push({
      name: `m${i}`,
      client: await freePort(),
      peer: await freePort(),
      dir: join(root, `m${i}`),
    });
  }
  const ic = clusterString(members);
  // m0 alone first: it cannot have a leader, yet its ports are bound (before it dials its peers, as
  // etcd binds them), and a client connection made now is served once the cluster is up.
  const first = start(members[0]!, ic, 'new');
  const m0 = members[0]!;
  await until(async () => (await canConnect(m0.client)) && (await canConnect(m0.peer)), 'ports of m0 bound');
  early.bound = true;
  early.request = rawGet(m0.client, '/version');
  await sleep(300);
  early.answeredBeforePeers = early.request.text() !== '';
  await Promise.all([first, ...members.slice(1).map((m) => start(m, ic, 'new'))]);
  await until(() => members.every((m) => m.server!.etcd.leaderId !== 0n), 'a leader on every member');
}, 30_000);

/** What m0's ports did before its peers started (see beforeAll). */
const early: { bound: boolean; answeredBeforePeers: boolean; request?: ReturnType<typeof rawGet> } = {
  bound: false,
  answeredBeforePeers: true,
};

function canConnect(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const sock = netConnect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      ok(true);
    });
    sock.once('error', () => ok(false));
  });
}

afterAll(async () => {
  await Promise.all(members.map((m) => m.server?.close()));
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('a 3-member cluster in one process', () => {
  it("binds a member's ports before it has a leader and serves a connection made meanwhile once ready", async () => {
    expect(early.bound).toBe(true);
    expect(early.answeredBeforePeers).toBe(false);
    await early.request!.closed;
    const answer = early.request!.text();
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"etcdserver":"3.4');
  });

  it('agrees on one leader and lists every member with its name and client URL', async () => {
    const leads = new Set(members.map((m) => m.server!.etcd.leaderId));
    expect(leads.size).toBe(1);
    const c = connect(`127.0.0.1:${members[0]!.client}`);
    try {
      await until(async () => {
        const list = await call(c.cluster, 'memberList', {});
        return list.members.every((m: { clientURLs: string[] }) => m.clientURLs.length === 1);
      }, 'published attributes');
      const list = await call(c.cluster, 'memberList', {});
      expect(list.members.map((m: { name: string }) => m.name).sort()).toEqual(['m0', 'm1', 'm2']);
    } finally {
      c.close();
    }
  });

  it('accepts a write on a follower and serves it linearizably on every member', async () => {
    const f = followers()[0]!;
    const c = connect(`127.0.0.1:${f.client}`);
    try {
      const put = await call(c.kv, 'put', { key: b('from-follower'), value: b('v1') });
      expect(Number(put.header.revision)).toBeGreaterThan(1);
    } finally {
      c.close();
    }
    for (const m of members) {
      const mc = connect(`127.0.0.1:${m.client}`);
      try {
        const r = await call(mc.kv, 'range', { key: b('from-follower') });
        expect(r.kvs.map((kv: { value: Uint8Array }) => s(kv.value))).toEqual(['v1']);
      } finally {
        mc.close();
      }
    }
  });

  it("forwards a follower's lease keep-alive and TimeToLive to the leader", async () => {
    const f = followers()[0]!;
    const c = connect(`127.0.0.1:${f.client}`);
    try {
      const g = await call(c.lease, 'leaseGrant', { TTL: 30 });
      await call(c.kv, 'put', { key: b('leased'), value: b('x'), lease: g.ID });
      const ttl = await call(c.lease, 'leaseTimeToLive', { ID: g.ID, keys: true });
      expect(Number(ttl.grantedTTL)).toBe(30);
      expect(Number(ttl.TTL)).toBeGreaterThan(25);
      expect(ttl.keys.map((k: Uint8Array) => s(k))).toEqual(['leased']);
      const ka = c.lease.leaseKeepAlive();
      const resp = await new Promise<{ ID: unknown; TTL: unknown }>((resolve, reject) => {
        ka.on('data', resolve);
        ka.on('error', reject);
        ka.write({ ID: g.ID });
      });
      ka.end();
      expect(Number(resp.TTL)).toBe(30);
      const missing = await call(c.lease, 'leaseTimeToLive', { ID: 424242n });
      expect(Number(missing.TTL)).toBe(-1);
      // An id above 2^53 stays exact through the peer /leases and /leases/internal routes.
      const big = 3182763892645462267n;
      await call(c.lease, 'leaseGrant', { TTL: 30, ID: big });
      const bigTtl = await call(c.lease, 'leaseTimeToLive', { ID: big });
      expect([bigTtl.ID, bigTtl.grantedTTL]).toEqual([big, 30]);
      const ka2 = c.lease.leaseKeepAlive();
      const bigResp = await new Promise<{ ID: unknown; TTL: unknown }>((resolve, reject) => {
        ka2.on('data', resolve);
        ka2.on('error', reject);
        ka2.write({ ID: big });
      });
      ka2.end();
      expect([bigResp.ID, bigResp.TTL]).toEqual([big, 30]);
      expect((await call(c.lease, 'leaseTimeToLive', { ID: big + 1n })).TTL).toBe(-1);
    } finally {
      c.close();
    }
  });

  it('moves leadership to the member MoveLeader names', async () => {
    const from = leaderOf();
    const to = followers()[0]!;
    const c = connect(`127.0.0.1:${from.client}`);
    try {
      await call(c.maintenance, 'moveLeader', { targetID: to.server!.etcd.memberId });
    } finally {
      c.close();
    }
    await until(
      () => members.every((m) => m.server!.etcd.leaderId === to.server!.etcd.memberId),
      'new leader',
    );
  });

  it("keeps a lease's checkpointed remaining TTL across a leader change", async () => {
    const c = connect(`127.0.0.1:${leaderOf().client}`);
    try {
      const g = await call(c.lease, 'leaseGrant', { TTL: 30 });
      // Two checkpoint intervals: the leader has proposed the remaining TTL (about 28 s) through raft.
      await new Promise((r) => setTimeout(r, 2.5 * CHECKPOINT_MS));
      await until(
        () => members.every((m) => (m.server!.etcd.lessor.lookup(BigInt(g.ID))?.remainingTtl ?? 0) > 0),
        'checkpoint applied everywhere',
      );
      const to = followers()[0]!;
      await call(c.maintenance, 'moveLeader', { targetID: to.server!.etcd.memberId });
      await until(() => to.server!.etcd.isLeader, 'new leader');
      // Without the checkpoint a new leader restarts the lease from its full TTL (30 s + an election).
      const tc = connect(`127.0.0.1:${to.client}`);
      try {
        const ttl = await call(tc.lease, 'leaseTimeToLive', { ID: g.ID });
        expect(Number(ttl.TTL)).toBeLessThan(30);
        expect(Number(ttl.TTL)).toBeGreaterThan(20);
        // A keep-alive clears the checkpoint on every member.
        const ka = tc.lease.leaseKeepAlive();
        await new Promise((resolve, reject) => {
          ka.on('data', resolve);
          ka.on('error', reject);
          ka.write({ ID: g.ID });
        });
        ka.end();
        await until(
          () => members.every((m) => m.server!.etcd.lessor.lookup(BigInt(g.ID))?.remainingTtl === 0),
          'checkpoint cleared by the keep-alive',
        );
      } finally {
        tc.close();
      }
    } finally {
      c.close();
    }
  }, 20_000);

  it('adds a learner that joins from its peers, refuses linearizable reads, and is promoted', async () => {
    const m: Member = { name: 'm3', client: await freePort(), peer: await freePort(), dir: join(root, 'm3') };
    const c = connect(`127.0.0.1:${followers()[0]!.client}`);
    try {
      const add = await call(c.cluster, 'memberAdd', {
        peerURLs: [`http://127.0.0.1:${m.peer}`],
        isLearner: true,
      });
      expect(add.member.isLearner).toBe(true);
      members.push(m);
      await start(m, clusterString(members), 'existing');
      expect(m.server!.etcd.memberId).toBe(BigInt(add.member.ID));
      await until(
        () => m.server!.etcd.appliedIndex >= leaderOf().server!.etcd.appliedIndex,
        'learner caught up',
      );
      const lc = connect(`127.0.0.1:${m.client}`);
      try {
        const err = await call(lc.kv, 'range', { key: b('from-follower') }).catch((e: Error) => e);
        expect(String(err)).toContain('etcdserver: rpc not supported for learner');
        const ser = await call(lc.kv, 'range', { key: b('from-follower'), serializable: true });
        expect(ser.kvs.map((kv: { value: Uint8Array }) => s(kv.value))).toEqual(['v1']);
      } finally {
        lc.close();
      }
      // Promotion from a follower is forwarded to the leader.
      await until(
        async () =>
          (await call(c.cluster, 'memberPromote', { ID: add.member.ID }).then(
            () => true,
            (e: Error) => {
              if (!String(e).includes('in sync with leader')) throw e;
              return false;
            },
          )) === true,
        'promotion',
      );
      await until(() => m.server!.etcd.isLearner === false, 'learner flag cleared on the new member');
    } finally {
      c.close();
    }
  }, 30_000);

  it('keeps member names and client URLs across a restart', async () => {
    const f = followers().find((x) => x.name !== 'm3')!;
    await f.server!.close();
    await start(f, clusterString(members), 'new');
    await until(() => f.server!.etcd.leaderId !== 0n, 'restarted member sees a leader');
    const list = f.server!.etcd.membership.list();
    expect(list.map((x) => x.name).sort()).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(list.every((x) => x.clientURLs.length === 1)).toBe(true);
  }, 30_000);
});
