/**
 * Member and cluster ids against real etcd 3.4.23 (Debian's `etcd`/`etcdctl`), the behaviour oracle:
 * - kv and etcd started with the same flags (name, advertised peer URL, token) report the same full
 *   64-bit member id and cluster id through `etcdctl member list -w json` / `endpoint status -w json`;
 * - a 3-member etcd cluster's ids are what computeMemberId / computeClusterId give for its flags;
 * - `member add --learner` on both gives the id of (peer URLs, no token, the current unix second).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/test-ports.mjs';
import { parseJsonExact, stringifyJsonExact } from '../src/etcdserver/exact-json.js';
import { computeClusterId, computeMemberId, parseHexId, toId } from '../src/etcdserver/member-id.js';
import { decodeMemberContext, encodeMemberContext, Membership } from '../src/etcdserver/membership.js';
import { readWalMetadata, walMetadata } from '../src/etcdserver/wal-metadata.js';
import { type StartedServer, startServer } from '../src/index.js';
import { membersJson, parseMembersJson } from '../src/peer/members-json.js';

const run = promisify(execFile);

/** `etcdctl <args> -w json` against `endpoint`, parsed with exact integers. */
async function etcdctlJson(endpoint: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('etcdctl', [`--endpoints=${endpoint}`, ...args, '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const j = parseJsonExact(stdout);
  return (Array.isArray(j) ? j[0] : j) as Record<string, unknown>;
}

interface EtcdMember {
  child: ChildProcess;
  clientUrl: string;
  dir: string;
}

/** Starts one etcd member; `peerListen` may differ from the advertised URL (etcd allows it). */
function spawnEtcd(opts: {
  name: string;
  clientPort: number;
  advertisePeer: string;
  listenPeer: string;
  initialCluster: string;
  token?: string;
}): EtcdMember {
  const dir = mkdtempSync(join(tmpdir(), 'kv-ids-etcd-'));
  const clientUrl = `http://127.0.0.1:${opts.clientPort}`;
  const child = spawn(
    'etcd',
    [
      `--name=${opts.name}`,
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${opts.listenPeer}`,
      `--initial-advertise-peer-urls=${opts.advertisePeer}`,
      `--initial-cluster=${opts.initialCluster}`,
      ...(opts.token ? [`--initial-cluster-token=${opts.token}`] : []),
      '--initial-cluster-state=new',
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  return { child, clientUrl, dir };
}

async function healthy(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const body = (await (await fetch(`${url}/health`)).json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become healthy`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopEtcd(m: EtcdMember): Promise<void> {
  if (m.child.exitCode === null && m.child.signalCode === null) {
    const exited = new Promise((r) => m.child.once('exit', r));
    m.child.kill('SIGKILL');
    await exited;
  }
  rmSync(m.dir, { recursive: true, force: true });
}

const ids = (list: unknown) => (list as { ID: bigint }[]).map((m) => toId(m.ID));

describe('member and cluster ids are etcd 3.4.23 ids', () => {
  // startServer's flags: name "default", advertised peer http://127.0.0.1:2380, etcd's default token.
  let kv: StartedServer;
  let etcd: EtcdMember;

  beforeAll(async () => {
    kv = await startServer();
    etcd = spawnEtcd({
      name: 'default',
      clientPort: await freePort(),
      advertisePeer: 'http://127.0.0.1:2380',
      listenPeer: `http://127.0.0.1:${await freePort()}`,
      initialCluster: 'default=http://127.0.0.1:2380',
    });
    await healthy(etcd.clientUrl);
  }, 60_000);

  afterAll(async () => {
    await kv?.close();
    if (etcd) await stopEtcd(etcd);
  });

  it('the same flags give the same member id and cluster id as etcd (member list, endpoint status)', async () => {
    const want = await etcdctlJson(etcd.clientUrl, 'member', 'list');
    const got = await etcdctlJson(kv.endpoint, 'member', 'list');
    const wantHeader = want.header as Record<string, bigint>;
    const gotHeader = got.header as Record<string, bigint>;
    const memberId = computeMemberId(['http://127.0.0.1:2380'], 'etcd-cluster');
    expect(ids(want.members)).toEqual([memberId]);
    expect(ids(got.members)).toEqual([memberId]);
    expect(toId(gotHeader.cluster_id)).toBe(toId(wantHeader.cluster_id));
    expect(toId(gotHeader.cluster_id)).toBe(computeClusterId([memberId]));
    expect(toId(gotHeader.member_id)).toBe(memberId);
    // The id does not fit a double: it only survives when every layer keeps it exact.
    expect(memberId > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);

    const wantStatus = await etcdctlJson(etcd.clientUrl, 'endpoint', 'status');
    const gotStatus = await etcdctlJson(kv.endpoint, 'endpoint', 'status');
    const s = (x: Record<string, unknown>) => x.Status as { header: Record<string, bigint>; leader: bigint };
    expect(toId(s(gotStatus).leader)).toBe(toId(s(wantStatus).leader));
    expect(toId(s(gotStatus).header.member_id)).toBe(toId(s(wantStatus).header.member_id));
    expect(toId(s(gotStatus).header.cluster_id)).toBe(toId(s(wantStatus).header.cluster_id));
  });

  it('member add --learner names the new member as etcd does: (peer URLs, no token, unix second)', async () => {
    for (const endpoint of [etcd.clientUrl, kv.endpoint]) {
      const url = `http://127.0.0.1:${await freePort()}`;
      const before = Math.floor(Date.now() / 1000);
      const added = await etcdctlJson(endpoint, 'member', 'add', 'newbie', `--peer-urls=${url}`, '--learner');
      const after = Math.floor(Date.now() / 1000);
      const id = toId((added.member as { ID: bigint }).ID);
      const candidates: bigint[] = [];
      for (let sec = before; sec <= after; sec++) candidates.push(computeMemberId([url], '', sec));
      expect(candidates).toContain(id);
      // The simple output prints the id in hex, as etcdctl does.
      const { stdout } = await run('etcdctl', [`--endpoints=${endpoint}`, 'member', 'list'], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
      expect(stdout).toContain(`${id.toString(16)}, unstarted, , ${url}, , true`);
    }
  });
});

describe('a 3-member etcd cluster has the ids computed from its flags', () => {
  const members: EtcdMember[] = [];
  const peers: string[] = [];
  const TOKEN = 'kv-member-id-test';

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) peers.push(`http://127.0.0.1:${await freePort()}`);
    const initialCluster = peers.map((u, i) => `m${i}=${u}`).join(',');
    for (let i = 0; i < 3; i++) {
      members.push(
        spawnEtcd({
          name: `m${i}`,
          clientPort: await freePort(),
          advertisePeer: peers[i]!,
          listenPeer: peers[i]!,
          initialCluster,
          token: TOKEN,
        }),
      );
    }
    await Promise.all(members.map((m) => healthy(m.clientUrl)));
  }, 90_000);

  afterAll(async () => {
    await Promise.all(members.map(stopEtcd));
  });

  it('member ids, cluster id and the leader id match, exactly', async () => {
    const want = peers.map((u) => computeMemberId([u], TOKEN));
    const list = await etcdctlJson(members[0]!.clientUrl, 'member', 'list');
    expect(ids(list.members).sort()).toEqual([...want].sort());
    expect(toId((list.header as Record<string, unknown>).cluster_id)).toBe(computeClusterId(want));
    const status = await etcdctlJson(members[1]!.clientUrl, 'endpoint', 'status');
    const st = status.Status as { header: Record<string, unknown>; leader: unknown };
    expect(toId(st.header.member_id)).toBe(want[1]);
    expect(want).toContain(toId(st.leader));
  });
});

describe('exact JSON and id parsing helpers', () => {
  it('parseJsonExact keeps uint64s exact and other numbers as numbers; stringifyJsonExact writes them bare', () => {
    const text =
      '{"id":18446744073709551615,"n":12,"f":1.5,"s":"9007199254740993","a":[9007199254740993,-3]}';
    const j = parseJsonExact(text) as Record<string, unknown>;
    expect(j).toEqual({
      id: 18446744073709551615n,
      n: 12,
      f: 1.5,
      s: '9007199254740993',
      a: [9007199254740993n, -3],
    });
    expect(stringifyJsonExact(j)).toBe(text);
  });

  it('toId reads bigints, safe numbers, decimal and 0x strings, and refuses the rest', () => {
    expect(toId(10276657743932975437n)).toBe(10276657743932975437n);
    expect(toId(12345)).toBe(12345n);
    expect(toId('10276657743932975437')).toBe(10276657743932975437n);
    expect(toId('0x8e9e05c52164694d')).toBe(0x8e9e05c52164694dn);
    for (const bad of [2 ** 60, -1, '18446744073709551616', 'abc', 1.5, null])
      expect(() => toId(bad)).toThrow();
    expect(parseHexId('8e9e05c52164694d')).toBe(0x8e9e05c52164694dn);
    expect(parseHexId('xyz')).toBeUndefined();
  });

  it("etcd's well-known default member id: localhost:2380 with the default token", () => {
    // `etcd` with no flags reports member 8e9e05c52164694d in cluster cdf818194e3a8c32.
    const id = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
    expect(id.toString(16)).toBe('8e9e05c52164694d');
    expect(computeClusterId([id]).toString(16)).toBe('cdf818194e3a8c32');
  });

  it("reads etcd's member JSON (ConfChange context, peer /members) with the id exact, and writes it back bare", () => {
    // What etcd 3.4 puts in a ConfChange context / answers on /members (json.Marshal of membership.Member).
    const etcdJson =
      '{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"default","clientURLs":["http://localhost:2379"]}';
    const m = decodeMemberContext(new TextEncoder().encode(etcdJson))!;
    expect(m).toEqual({
      id: 10276657743932975437n,
      name: 'default',
      peerURLs: ['http://localhost:2380'],
      clientURLs: ['http://localhost:2379'],
      isLearner: false,
    });
    expect(new TextDecoder().decode(encodeMemberContext(m))).toContain('"id":10276657743932975437,');
    // A promotion carries etcd's ConfigChangeContext flag (etcd 3.4 applies AddNode as a promotion only
    // with it); a plain add does not.
    expect(JSON.parse(new TextDecoder().decode(encodeMemberContext(m, true))).isPromote).toBe(true);
    expect(new TextDecoder().decode(encodeMemberContext(m))).not.toContain('isPromote');
    expect(parseMembersJson(membersJson([m, { ...m, id: 2n ** 64n - 1n, isLearner: true }]))).toEqual([
      m,
      { ...m, id: 2n ** 64n - 1n, isLearner: true },
    ]);
    // kv versions before exact ids wrote the context as {requestId, member} with a numeric id.
    const old = decodeMemberContext(
      new TextEncoder().encode('{"requestId":5,"member":{"id":12345,"peerURLs":[]}}'),
    );
    expect(old?.id).toBe(12345n);
  });

  it('persists ids as decimal strings and still reads the numbers older data dirs hold', () => {
    const ms = new Membership(0xcdf818194e3a8c32n);
    ms.add({
      id: 0x8e9e05c52164694dn,
      name: 'a',
      peerURLs: ['http://a:2380'],
      clientURLs: [],
      isLearner: false,
    });
    ms.remove(0xffffffffffffffffn);
    const again = Membership.fromJSON(JSON.parse(JSON.stringify(ms.toJSON())));
    expect(again.clusterId).toBe(0xcdf818194e3a8c32n);
    expect(again.list().map((m) => m.id)).toEqual([0x8e9e05c52164694dn]);
    expect([...again.removed]).toEqual([0xffffffffffffffffn]);
    const old = Membership.fromJSON({
      clusterId: 4242,
      members: [{ id: 77, name: 'o', peerURLs: [], clientURLs: [], isLearner: false }],
      removed: [9],
    });
    expect([old.clusterId, old.list()[0]!.id, [...old.removed][0]]).toEqual([4242n, 77n, 9n]);
    expect(readWalMetadata(walMetadata(2n ** 64n - 1n, 1n))).toEqual({
      memberId: 2n ** 64n - 1n,
      clusterId: 1n,
    });
    expect(readWalMetadata(new TextEncoder().encode('{"memberId":123,"clusterId":456}'))).toEqual({
      memberId: 123n,
      clusterId: 456n,
    });
  });
});
