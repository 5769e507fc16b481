/**
 * Interop with real etcd 3.4.23 (Debian's `etcd`), the behaviour oracle: a one-process etcd member "a"
 * whose --initial-cluster also names "b", and a PeerTransport playing b. Our transport must accept
 * etcd's stream dials, dial etcd's streams, decode what etcd sends (MsgVote, MsgApp over msgappv2,
 * MsgHeartbeat) and get our answers accepted: with b acking like a follower, etcd wins the election and
 * commits a client put, which needs b's MsgVoteResp and MsgAppResp.
 *
 * etcd's member ids are 64-bit SHA-1 prefixes of (peer URLs + token), mostly above 2^53; kv computes
 * the same ids (member-id.ts) and carries them exactly, so plain 127.0.0.1 URLs do.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Message, MessageType } from '@kv/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/test-ports.mjs';
import { computeClusterId, computeMemberId, idHex } from '../src/etcdserver/member-id.js';
import { Member, message, waitFor } from './rafthttp-harness.js';

const run = promisify(execFile);
const TOKEN = 'kv-rafthttp-interop';

interface Identity {
  url: string;
  id: bigint;
}

/** A Debian etcd member "a" and transports playing the other members ("b", "c", ...) of its cluster. */
interface Cluster {
  etcd: ChildProcess;
  log: () => string;
  /** Our transports, in member order after a. */
  fakes: Member[];
  aId: bigint;
  aUrl: string;
  clusterId: bigint;
  clientUrl: string;
  stop(): Promise<void>;
}

async function startCluster(fakeCount: number, extraEtcdArgs: string[]): Promise<Cluster> {
  const ports: number[] = [];
  for (let i = 0; i <= fakeCount + 1; i++) ports.push(await freePort());
  const clientPort = ports.pop()!;
  const members: Identity[] = ports.map((p) => {
    const url = `http://127.0.0.1:${p}`;
    return { url, id: computeMemberId([url], TOKEN) };
  });
  const cid = computeClusterId(members.map((m) => m.id));
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const names = members.map((_, i) => String.fromCharCode(97 + i));
  const fakes: Member[] = [];
  for (let i = 1; i < members.length; i++) {
    const u = new URL(members[i]!.url);
    const m = await Member.start(members[i]!.id, {
      host: u.hostname,
      port: Number(u.port),
      clusterId: cid,
    });
    // etcd asks its peers' /version to decide the cluster version.
    m.fallback = (req, res) => {
      if (req.url === '/version') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ etcdserver: '3.4.23', etcdcluster: '3.4.0' }));
        return;
      }
      res.writeHead(404);
      res.end();
    };
    fakes.push(m);
  }
  const a = members[0]!;
  const dataDir = mkdtempSync(join(tmpdir(), 'kv-interop-etcd-'));
  const etcd = spawn(
    'etcd',
    [
      '--name=a',
      `--data-dir=${dataDir}`,
      `--listen-peer-urls=${a.url}`,
      `--initial-advertise-peer-urls=${a.url}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--initial-cluster=${members.map((m, i) => `${names[i]}=${m.url}`).join(',')}`,
      `--initial-cluster-token=${TOKEN}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-outputs=stderr',
      ...extraEtcdArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  etcd.stderr!.setEncoding('utf8');
  etcd.stderr!.on('data', (s: string) => {
    log += s;
  });
  return {
    etcd,
    log: () => log,
    fakes,
    aId: a.id,
    aUrl: a.url,
    clusterId: cid,
    clientUrl,
    async stop() {
      // KV_INTEROP_LOG=<file> keeps etcd's log for a look at what it said about us.
      if (process.env.KV_INTEROP_LOG) writeFileSync(process.env.KV_INTEROP_LOG, log);
      if (etcd.exitCode === null) {
        const exited = new Promise((r) => etcd.once('exit', r));
        etcd.kill('SIGKILL');
        await exited;
      }
      await Promise.all(fakes.map((m) => m.stop()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('interop with etcd 3.4.23: etcd leads, our transport is its follower', () => {
  let pair: Cluster;
  let b: Member;
  let aId = 0n;
  let clusterId = 0n;
  let aUrl = '';
  let clientUrl = '';
  const fromEtcd: Message[] = [];

  beforeAll(async () => {
    pair = await startCluster(1, []);
    ({ aId, clusterId, aUrl, clientUrl } = pair);
    b = pair.fakes[0]!;
    const bId = b.id;
    // b behaves as a follower that accepts everything, so etcd can elect itself and commit.
    b.sink.process = (m: Message) => {
      fromEtcd.push(m);
      const reply = (over: Partial<Message>) =>
        b.transport.send([message({ from: bId, to: m.from, term: m.term, ...over })]);
      if (m.type === MessageType.MsgVote) reply({ type: MessageType.MsgVoteResp });
      else if (m.type === MessageType.MsgPreVote) reply({ type: MessageType.MsgPreVoteResp });
      else if (m.type === MessageType.MsgApp) {
        const last = m.entries[m.entries.length - 1];
        reply({ type: MessageType.MsgAppResp, index: last ? last.index : m.index });
      } else if (m.type === MessageType.MsgHeartbeat) {
        reply({ type: MessageType.MsgHeartbeatResp, context: m.context });
      }
    };
    b.transport.addPeer(aId, [aUrl]);
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('etcd computes the member and cluster ids we computed', async () => {
    await waitFor(
      () => pair.log().includes('"added member"') && pair.log().includes('starting remote peer'),
      'etcd started',
      20_000,
    );
    expect(pair.log()).toContain(`"local-member-id":"${idHex(aId)}"`);
    expect(pair.log()).toContain(`"remote-peer-id":"${idHex(b.id)}"`);
    expect(pair.log()).toContain(`"cluster-id":"${idHex(clusterId)}"`);
  });

  it("etcd's stream readers connect to our handler and ours to etcd's", async () => {
    await waitFor(
      () => {
        const s = b.transport.bufferStats(aId)?.streams;
        return !!s?.msgappv2 && !!s.message;
      },
      'etcd dialed both of our streams',
      20_000,
    );
    await waitFor(
      () => (pair.log().match(/established TCP streaming connection with remote peer/g) ?? []).length >= 4,
      'etcd logged its two readers and two writers connected',
      20_000,
    );
    expect(
      b.logs.lines.filter(
        (l) => l.msg === 'established TCP streaming connection with remote peer' && l['stream-reader-type'],
      ).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('etcd wins the election with our vote and commits a put with our acks (our messages reach etcd)', async () => {
    await waitFor(() => fromEtcd.some((m) => m.type === MessageType.MsgVote), 'MsgVote from etcd', 20_000);
    const vote = fromEtcd.find((m) => m.type === MessageType.MsgVote)!;
    expect(vote.from).toBe(aId);
    expect(vote.to).toBe(b.id);
    await waitFor(() => pair.log().includes('became leader at term'), 'etcd leader', 20_000);
    const put = await run('etcdctl', [`--endpoints=${clientUrl}`, 'put', 'interop', 'ok'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect(put.stdout.trim()).toBe('OK');
    const get = await run('etcdctl', [`--endpoints=${clientUrl}`, 'get', 'interop', '--print-value-only'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect(get.stdout.trim()).toBe('ok');
    // The put's entry came to us as a MsgApp (over msgappv2 once etcd's writer works) and decoded.
    const apps = fromEtcd.filter((m) => m.type === MessageType.MsgApp && m.entries.length > 0);
    expect(apps.length).toBeGreaterThan(0);
    const carried = apps
      .flatMap((m) => m.entries.map((e) => Buffer.from(e.data).toString('latin1')))
      .join('');
    expect(carried).toContain('interop');
    expect(fromEtcd.some((m) => m.type === MessageType.MsgHeartbeat)).toBe(true);
    const metrics = await (await fetch(`${clientUrl}/metrics`)).text();
    expect(metrics).toContain(`etcd_network_active_peers{Local="${idHex(aId)}",Remote="${idHex(b.id)}"} 1`);
    const received = metrics.match(
      new RegExp(`etcd_network_peer_received_bytes_total\\{From="${idHex(b.id)}"\\} (\\S+)`),
    );
    expect(Number(received?.[1])).toBeGreaterThan(0);
  });
  it("our snapshot sender and pipeline speak etcd's POST /raft/snapshot and POST /raft", async () => {
    // A stale-term MsgSnap: etcd saves the data (it does not look inside), steps the message (raft
    // ignores a lower term) and answers 204, so the transfer itself is what is checked.
    const size = 3 * 1024 * 1024 + 17;
    async function* data() {
      for (let sent = 0; sent < size; sent += 64 * 1024)
        yield Buffer.alloc(Math.min(64 * 1024, size - sent), 0x5a);
    }
    const snap = message({
      type: MessageType.MsgSnap,
      from: b.id,
      to: aId,
      term: 1,
      snapshot: {
        data: new Uint8Array(),
        metadata: {
          index: 1,
          term: 1,
          confState: {
            voters: [aId, b.id],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
      },
    });
    b.transport.sendSnapshot(snap, data);
    await waitFor(() => b.sink.snapshotReports.length === 1, 'snapshot answered', 20_000);
    expect(b.sink.snapshotReports).toEqual([{ id: aId, ok: true }]);
    await waitFor(() => pair.log().includes('received and saved database snapshot'), 'etcd saved it', 20_000);
    expect(pair.log()).toContain(`"incoming-snapshot-size-bytes":${size}`);
    expect(pair.log()).toContain(`"remote-snapshot-sender-id":"${idHex(b.id)}"`);
    // send() routes a MsgSnap through the pipeline (etcd's pick): POST /raft, answered 204.
    b.transport.send([{ ...snap }]);
    await waitFor(() => b.sink.snapshotReports.length === 2, 'pipeline MsgSnap answered', 20_000);
    expect(b.sink.snapshotReports[1]).toEqual({ id: aId, ok: true });
    // etcd logs each ignored MsgSnap as it processes it, which may be after it answered.
    await waitFor(
      () => (pair.log().match(/ignored a MsgSnap message with lower term/g) ?? []).length === 2,
      'etcd ignored both MsgSnaps (lower term)',
      20_000,
    );
  });
  it("etcd's 412 answers are understood: cluster-id mismatch and X-Raft-To mismatch", async () => {
    const imposter = await Member.start(b.id, { clusterId: 0x1234n });
    try {
      imposter.transport.addPeer(aId, [aUrl]);
      await waitFor(
        () => imposter.logs.has('request sent was ignored by remote peer due to cluster ID mismatch'),
        'mismatch understood',
        20_000,
      );
      expect(
        imposter.logs.find('request sent was ignored by remote peer due to cluster ID mismatch'),
      ).toMatchObject({
        'remote-peer-cluster-id': idHex(clusterId),
        'local-member-cluster-id': '1234',
      });
      await waitFor(
        () => pair.log().includes('"remote-peer-cluster-id":"1234"'),
        'etcd logged the mismatch',
        20_000,
      );
    } finally {
      await imposter.stop();
    }
    const res = await fetch(`${aUrl}/raft/stream/message/${idHex(b.id)}`, {
      headers: {
        'X-Etcd-Cluster-ID': idHex(clusterId),
        'X-Server-Version': '3.4.23',
        'X-Min-Cluster-Version': '3.0.0',
        'X-Server-From': idHex(b.id),
        'X-Raft-To': '99',
      },
    });
    expect(res.status).toBe(412);
    expect(await res.text()).toBe('to field mismatch\n');
  });
});

describe('interop with etcd 3.4.23: our transport leads, etcd follows', () => {
  let pair: Cluster;
  const fromEtcd: Message[] = [];

  beforeAll(async () => {
    // etcd waits a full (long) election timeout before campaigning, so b's campaign comes first.
    pair = await startCluster(1, [
      '--heartbeat-interval=500',
      '--election-timeout=10000',
      '--initial-election-tick-advance=false',
    ]);
    pair.fakes[0]!.sink.process = (m: Message) => {
      fromEtcd.push(m);
    };
    pair.fakes[0]!.transport.addPeer(pair.aId, [pair.aUrl]);
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('etcd votes for us and appends what our msgappv2 encoder sends, full frames and AppEntries shortcuts', async () => {
    const { aId } = pair;
    const b = pair.fakes[0]!;
    await waitFor(
      () => {
        const s = b.transport.bufferStats(aId)?.streams;
        return !!s?.msgappv2 && !!s.message;
      },
      'etcd dialed our streams',
      20_000,
    );
    const to = aId;
    const from = b.id;
    // etcd's bootstrap log holds the two ConfChange entries of the initial cluster at term 1.
    b.transport.send([message({ type: MessageType.MsgVote, from, to, term: 2, logTerm: 1, index: 2 })]);
    await waitFor(() => fromEtcd.some((m) => m.type === MessageType.MsgVoteResp), 'vote answer', 20_000);
    expect(fromEtcd.find((m) => m.type === MessageType.MsgVoteResp)).toMatchObject({
      term: 2,
      reject: false,
      from: aId,
    });
    const empty = (index: number) => ({ term: 2, index, type: 0, data: new Uint8Array() });
    const appResps = () => fromEtcd.filter((m) => m.type === MessageType.MsgAppResp);
    // Full frame (type 2): the new leader's empty entry at index 3.
    b.transport.send([
      message({
        type: MessageType.MsgApp,
        from,
        to,
        term: 2,
        logTerm: 1,
        index: 2,
        entries: [empty(3)],
        commit: 2,
      }),
    ]);
    await waitFor(() => appResps().length >= 1, 'first MsgAppResp', 20_000);
    expect(appResps()[0]).toMatchObject({ term: 2, index: 3, reject: false });
    // Continues at index 3 with term == logTerm == 2: the encoder sends AppEntries frames (type 1),
    // which etcd can only decode if its (term, index) tracking matches ours.
    b.transport.send([
      message({
        type: MessageType.MsgApp,
        from,
        to,
        term: 2,
        logTerm: 2,
        index: 3,
        entries: [empty(4), empty(5)],
        commit: 3,
      }),
    ]);
    b.transport.send([
      message({
        type: MessageType.MsgApp,
        from,
        to,
        term: 2,
        logTerm: 2,
        index: 5,
        entries: [empty(6)],
        commit: 6,
      }),
    ]);
    await waitFor(() => appResps().some((m) => m.index === 6), 'MsgAppResp for index 6', 20_000);
    expect(appResps().every((m) => !m.reject)).toBe(true);
    // etcd sends only the last MsgAppResp of a Ready (processMessages), so 5 may be folded into 6.
    expect(appResps().map((m) => m.index)).toEqual(expect.arrayContaining([3, 6]));
    expect(
      appResps()
        .map((m) => m.index)
        .every((i) => [3, 5, 6].includes(i)),
    ).toBe(true);
    // Heartbeats over the message stream come back with their context.
    b.transport.send([
      message({
        type: MessageType.MsgHeartbeat,
        from,
        to,
        term: 2,
        commit: 6,
        context: new Uint8Array([7, 7]),
      }),
    ]);
    await waitFor(
      () => fromEtcd.some((m) => m.type === MessageType.MsgHeartbeatResp),
      'heartbeat answer',
      20_000,
    );
    expect(fromEtcd.find((m) => m.type === MessageType.MsgHeartbeatResp)).toMatchObject({
      term: 2,
      from: aId,
    });
    await waitFor(
      () => pair.log().includes(`elected leader ${idHex(b.id)} at term 2`),
      'etcd follows b',
      20_000,
    );
    expect(pair.log()).not.toContain('failed to parse');
  });
});

describe('interop with etcd 3.4.23: etcd sends a database snapshot to our transport', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    // Three members: b acks everything (quorum with a), c rejects every append as if its log were
    // empty. After etcd's first snapshot (every 100 entries here) it compacts its raft log (keeping up
    // to 5000 entries but at least dropping index 1), so c can only be caught up by a snapshot.
    cluster = await startCluster(2, ['--snapshot-count=100']);
    const [b, c] = cluster.fakes as [Member, Member];
    b.sink.process = (m: Message) => {
      const reply = (over: Partial<Message>) =>
        b.transport.send([message({ from: b.id, to: m.from, term: m.term, ...over })]);
      if (m.type === MessageType.MsgVote) reply({ type: MessageType.MsgVoteResp });
      else if (m.type === MessageType.MsgApp) {
        const last = m.entries[m.entries.length - 1];
        reply({ type: MessageType.MsgAppResp, index: last ? last.index : m.index });
      } else if (m.type === MessageType.MsgHeartbeat) {
        reply({ type: MessageType.MsgHeartbeatResp, context: m.context });
      }
    };
    const cProcess = c.sink.process.bind(c.sink);
    let snapIndex = 0;
    c.sink.process = (m: Message) => {
      cProcess(m); // records it
      const reply = (over: Partial<Message>) =>
        c.transport.send([message({ from: c.id, to: m.from, term: m.term, ...over })]);
      // Until it has a snapshot, c's log is empty as far as the leader is told: every probe is
      // rejected with hint 0. After one, it acknowledges like a follower that installed it.
      if (m.type === MessageType.MsgSnap) {
        snapIndex = m.snapshot!.metadata.index;
        reply({ type: MessageType.MsgAppResp, index: snapIndex });
      } else if (m.type === MessageType.MsgApp && (snapIndex === 0 || m.index < snapIndex)) {
        reply({ type: MessageType.MsgAppResp, index: m.index, reject: true, rejectHint: snapIndex });
      } else if (m.type === MessageType.MsgApp) {
        const last = m.entries[m.entries.length - 1];
        reply({ type: MessageType.MsgAppResp, index: last ? last.index : m.index });
      } else if (m.type === MessageType.MsgHeartbeat) {
        reply({ type: MessageType.MsgHeartbeatResp, context: m.context });
      }
    };
    for (const f of cluster.fakes) f.transport.addPeer(cluster.aId, [cluster.aUrl]);
    for (const f of cluster.fakes)
      for (const g of cluster.fakes) if (f !== g) f.transport.addPeer(g.id, [g.url]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("receiveSnapshot gets etcd's bbolt database, then process(MsgSnap); etcd logs the send as done", async () => {
    const [, c] = cluster.fakes as [Member, Member];
    await waitFor(() => cluster.log().includes('became leader at term'), 'etcd leader', 20_000);
    // 300 puts through etcd's gateway (16 at a time) make etcd snapshot and compact.
    const put = (i: number) =>
      fetch(`${cluster.clientUrl}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: Buffer.from(`k${i}`).toString('base64'), value: 'dg==' }),
      }).then((r) => {
        if (r.status !== 200) throw new Error(`put ${i}: ${r.status}`);
        return r.text();
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 300) await put(next++);
      }),
    );
    await waitFor(() => c.sink.snapshots.length > 0, 'snapshot at c', 60_000);
    const snap = c.sink.snapshots[0]!;
    expect(snap.msg.type).toBe(MessageType.MsgSnap);
    expect(snap.msg.from).toBe(cluster.aId);
    expect(snap.msg.snapshot!.metadata.index).toBeGreaterThan(100);
    expect(snap.bytes).toBeGreaterThan(4096);
    // bbolt's meta page: a 16-byte page header, then the magic 0xED0CDAED (little-endian on disk).
    expect(snap.head.readUInt32LE(16)).toBe(0xed0cdaed);
    await waitFor(() => c.sink.calls.includes('process:MsgSnap'), 'MsgSnap stepped');
    expect(c.sink.calls.indexOf('receiveSnapshot')).toBeLessThan(c.sink.calls.indexOf('process:MsgSnap'));
    await waitFor(() => cluster.log().includes('"msg":"sent database snapshot"'), 'etcd saw our 204', 20_000);
    // One may already be on its way when c acknowledges the first: every one arrives whole.
    await waitFor(
      async () =>
        (await c.metrics.snapshotReceiveSuccess.get({ From: idHex(cluster.aId) })) ===
        c.sink.snapshots.length,
      'every snapshot answered',
    );
    expect(new Set(c.sink.snapshots.map((x) => x.head.readUInt32LE(16)))).toEqual(new Set([0xed0cdaed]));
  }, 120_000);
});
