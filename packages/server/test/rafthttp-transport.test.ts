/**
 * Peer transports over real loopback sockets: delivery over streams and pipeline, reconnects, etcd's
 * refusals (cluster id, X-Raft-To, removed, unknown sender, version), back-pressure with a peer that
 * never reads, snapshot streaming, probing.
 */
import * as net from 'node:net';
import { encodeMessage, type Message, MessageType } from '@kv/raft';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerTransport, STREAM_BUF_SIZE } from '../src/rafthttp/index.js';
import { Member, mesh, message, streamsUp, waitFor } from './rafthttp-harness.js';

const running: Member[] = [];
async function member(id: bigint, opts?: Parameters<typeof Member.start>[1]): Promise<Member> {
  const m = await Member.start(id, opts);
  running.push(m);
  return m;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.stop()));
});

const entry = (term: number, index: number, data: string) => ({
  term,
  index,
  type: 0,
  data: new TextEncoder().encode(data),
});

/** Messages of every kind raft sends between members. */
function everyKind(from: bigint, to: bigint): Message[] {
  const kinds = [
    MessageType.MsgProp,
    MessageType.MsgAppResp,
    MessageType.MsgVote,
    MessageType.MsgVoteResp,
    MessageType.MsgHeartbeat,
    MessageType.MsgHeartbeatResp,
    MessageType.MsgTransferLeader,
    MessageType.MsgTimeoutNow,
    MessageType.MsgReadIndex,
    MessageType.MsgReadIndexResp,
    MessageType.MsgPreVote,
    MessageType.MsgPreVoteResp,
  ];
  const out: Message[] = kinds.map((type, i) =>
    message({ type, from, to, term: 3, logTerm: 2, index: 10 + i, commit: 7, context: new Uint8Array([i]) }),
  );
  // Consecutive appends: the second and third ride the msgappv2 AppEntries shortcut.
  out.push(
    message({
      type: MessageType.MsgApp,
      from,
      to,
      term: 3,
      logTerm: 2,
      index: 20,
      entries: [entry(3, 21, 'a')],
      commit: 20,
    }),
  );
  out.push(
    message({
      type: MessageType.MsgApp,
      from,
      to,
      term: 3,
      logTerm: 3,
      index: 21,
      entries: [entry(3, 22, 'b'), entry(3, 23, 'c')],
      commit: 21,
    }),
  );
  out.push(
    message({ type: MessageType.MsgApp, from, to, term: 3, logTerm: 3, index: 23, entries: [], commit: 23 }),
  );
  out.push(
    message({ type: MessageType.MsgAppResp, from, to, term: 3, index: 23, reject: true, rejectHint: 19 }),
  );
  return out;
}

const byType = (msgs: Message[], type: MessageType) => msgs.filter((m) => m.type === type);

describe('PeerTransport between members', () => {
  it('delivers messages of every kind over the two streams, in order per stream', async () => {
    const a = await member(0x1an);
    const b = await member(0x2bn);
    mesh([a, b]);
    await streamsUp(a, b);
    await streamsUp(b, a);
    const sent = everyKind(a.id, b.id);
    a.transport.send(sent);
    await waitFor(() => b.sink.messages.length === sent.length, 'all messages at b');
    // MsgApp travels on msgappv2, the rest on the message stream: order is kept per stream.
    const notApp = (m: Message) => m.type !== MessageType.MsgApp;
    expect(b.sink.messages.filter(notApp)).toEqual(sent.filter(notApp));
    expect(byType(b.sink.messages, MessageType.MsgApp)).toEqual(byType(sent, MessageType.MsgApp));
    // Nothing went by pipeline: a's pipeline requests would have made b add a as a "remote".
    expect(b.logs.has('added new remote peer')).toBe(false);
    expect(await a.metrics.peerSentBytes.get({ To: '2b' })).toBeGreaterThan(0);
    expect(await b.metrics.peerReceivedBytes.get({ From: '1a' })).toBeGreaterThan(0);
    expect(await a.metrics.peerActive.get({ Local: '1a', Remote: '2b' })).toBe(1);
    expect(a.transport.activeSince(b.id)).toBeGreaterThan(0);
    expect(a.transport.activeSince(0x999n)).toBe(0);
    // And back.
    b.transport.send([message({ type: MessageType.MsgHeartbeatResp, from: b.id, to: a.id, term: 3 })]);
    await waitFor(() => a.sink.messages.length === 1, 'reply at a');
  });

  it('three members: everyone reaches everyone', async () => {
    const ms = [await member(0x11n), await member(0x22n), await member(0x33n)];
    mesh(ms);
    for (const x of ms) for (const y of ms) if (x !== y) await streamsUp(x, y);
    for (const x of ms) {
      x.transport.send(
        ms
          .filter((y) => y !== x)
          .map((y) => message({ type: MessageType.MsgVote, from: x.id, to: y.id, term: 2 })),
      );
    }
    for (const y of ms) {
      await waitFor(() => y.sink.messages.length === 2, `votes at ${y.id}`);
      expect(new Set(y.sink.messages.map((m) => m.from))).toEqual(
        new Set(ms.filter((x) => x !== y).map((x) => x.id)),
      );
    }
  });

  it('uses the pipeline when no stream is up; an unknown sender gets 404 and becomes a remote that can be answered', async () => {
    const a = await member(0xa1n);
    const b = await member(0xb2n);
    a.transport.addPeer(b.id, [b.url]); // b does not know a: it never dials a's streams
    await waitFor(
      () => b.logs.has('failed to find remote peer in cluster'),
      'b refuses a stream from unknown a',
    );
    await waitFor(
      () => a.logs.lines.some((l) => String(l.error ?? '').includes(`peer b2 failed to find local node a1`)),
      'a logs the 404 as etcd words it',
    );
    const sent = everyKind(a.id, b.id);
    a.transport.send(sent.slice(0, 20));
    await waitFor(() => b.sink.messages.length === sent.length, 'pipeline delivery');
    expect(new Set(b.sink.messages.map((m) => m.index))).toEqual(new Set(sent.map((m) => m.index)));
    // b learned a's URLs from X-PeerURLs and answers through a remote pipeline.
    expect(b.logs.has('added new remote peer')).toBe(true);
    b.transport.send([message({ type: MessageType.MsgAppResp, from: b.id, to: a.id, term: 3, index: 23 })]);
    await waitFor(() => a.sink.messages.length === 1, 'answer through the remote pipeline');
  });

  it('reconnects the streams after the remote restarts on the same port', async () => {
    const a = await member(0x1n);
    let b = await member(0x2n);
    mesh([a, b]);
    await streamsUp(a, b);
    await streamsUp(b, a);
    const port = b.port;
    await b.stop();
    running.splice(running.indexOf(b), 1);
    await waitFor(() => a.transport.activeSince(b.id) === 0, 'a sees b down');
    expect(a.logs.has('lost TCP streaming connection with remote peer')).toBe(true);
    b = await member(0x2n, { port });
    b.transport.addPeer(a.id, [a.url]);
    await streamsUp(a, b);
    await streamsUp(b, a);
    a.transport.send([
      message({
        type: MessageType.MsgApp,
        from: a.id,
        to: b.id,
        term: 5,
        logTerm: 5,
        index: 1,
        entries: [entry(5, 2, 'x')],
      }),
    ]);
    a.transport.send([message({ type: MessageType.MsgHeartbeat, from: a.id, to: b.id, term: 5 })]);
    await waitFor(() => b.sink.messages.length === 2, 'delivery after restart');
  });

  it('moves on from an unreachable URL to the next one, and updatePeer points a peer elsewhere', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    // b does not know a, so nothing arrives unless a's own requests find b's second URL.
    a.transport.addPeer(b.id, ['http://127.0.0.1:1', b.url]); // the first URL refuses connections
    await waitFor(() => {
      a.transport.send([message({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 2 })]);
      return b.sink.messages.length > 0;
    }, 'a reaches b through its second URL');
    const c = await member(0x3n);
    c.transport.addPeer(a.id, [a.url]);
    a.transport.addPeer(c.id, ['http://127.0.0.1:1']);
    a.transport.send([message({ type: MessageType.MsgVote, from: a.id, to: c.id, term: 2 })]);
    await waitFor(() => a.sink.unreachable.includes(c.id), 'c unreachable at its old URL');
    a.transport.updatePeer(c.id, [c.url]);
    expect(a.logs.find('updated remote peer')).toMatchObject({ 'updated-remote-peer-id': '3' });
    await streamsUp(c, a);
    a.transport.send([message({ type: MessageType.MsgVote, from: a.id, to: c.id, term: 2 })]);
    await waitFor(() => c.sink.messages.length === 1, 'delivery after the update');
  });

  it('refuses a member of another cluster: 412 "cluster ID mismatch", logged, nothing delivered, retried', async () => {
    const a = await member(0x1n, { clusterId: 0xaaan });
    const b = await member(0x2n, { clusterId: 0xbbbn });
    mesh([a, b]);
    await waitFor(
      () =>
        a.logs.lines.filter(
          (l) => l.msg === 'request sent was ignored by remote peer due to cluster ID mismatch',
        ).length >= 2,
      'a retried and logged the mismatch',
    );
    const line = a.logs.find('request sent was ignored by remote peer due to cluster ID mismatch')!;
    expect(line).toMatchObject({
      'remote-peer-id': '2',
      'remote-peer-cluster-id': 'bbb',
      'local-member-cluster-id': 'aaa',
      level: 'warn',
    });
    expect(b.logs.find('request cluster ID mismatch')).toMatchObject({
      'remote-peer-cluster-id': 'aaa',
      'local-member-cluster-id': 'bbb',
    });
    a.transport.send([message({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 9 })]);
    await waitFor(() => a.sink.unreachable.includes(b.id), 'pipeline refusal reported unreachable');
    expect(b.sink.messages).toEqual([]);
    const res = await fetch(`${b.url}/raft/stream/message/1`, {
      headers: {
        'X-Etcd-Cluster-ID': 'aaa',
        'X-Server-Version': '3.4.23',
        'X-Raft-To': '2',
        'X-Server-From': '1',
      },
    });
    expect(res.status).toBe(412);
    expect(res.headers.get('x-etcd-cluster-id')).toBe('bbb');
    expect(await res.text()).toBe('cluster ID mismatch\n');
    // setClusterId fixes it: the retries now get through.
    a.transport.setClusterId(0xbbbn);
    b.transport.send([message({ type: MessageType.MsgHeartbeat, from: b.id, to: a.id, term: 1 })]);
    await streamsUp(b, a);
  });

  it("answers etcd's statuses to raw requests (X-Raft-To, unknown sender, versions, paths, methods)", async () => {
    const b = await member(0x2bn);
    b.transport.addPeer(0x1an, ['http://127.0.0.1:1']);
    const h = {
      'X-Etcd-Cluster-ID': 'c1',
      'X-Server-Version': '3.4.23',
      'X-Min-Cluster-Version': '3.0.0',
      'X-Server-From': '1a',
    };
    const get = async (path: string, extra: Record<string, string> = {}, init: RequestInit = {}) => {
      const r = await fetch(`${b.url}${path}`, { headers: { ...h, ...extra }, ...init });
      return { status: r.status, body: await r.text(), headers: r.headers };
    };
    expect(await get('/raft/stream/message/1a', { 'X-Raft-To': '3' })).toMatchObject({
      status: 412,
      body: 'to field mismatch\n',
    });
    expect(b.logs.find('ignored streaming request; ID mismatch')).toMatchObject({
      'remote-peer-id-header': '3',
    });
    expect(await get('/raft/stream/message/77', { 'X-Raft-To': '2b' })).toMatchObject({
      status: 404,
      body: 'error sender not found\n',
    });
    expect(await get('/raft/stream/msgappv2/1a', { 'X-Raft-To': '2b' })).toMatchObject({
      status: 404,
      body: 'invalid path\n',
    });
    expect(await get('/raft/stream/message/xyz', { 'X-Raft-To': '2b' })).toMatchObject({
      status: 404,
      body: 'invalid from\n',
    });
    const old = await get('/raft/stream/message/1a', {
      'X-Raft-To': '2b',
      'X-Server-Version': '2.0.0',
      'X-Min-Cluster-Version': '2.0.0',
    });
    expect(old).toMatchObject({ status: 412, body: 'incompatible version\n' });
    expect(b.logs.find('failed to check version compatibility')).toMatchObject({
      error: 'remote version is too low: remote[1a]=2.0.0, local=3.4.23',
    });
    const future = await get(
      '/raft',
      { 'X-Min-Cluster-Version': '3.5.0' },
      { method: 'POST', body: new Uint8Array() },
    );
    expect(future).toMatchObject({ status: 412, body: 'incompatible version\n' });
    const wrong = await get('/raft', {}, { method: 'GET' });
    expect(wrong).toMatchObject({ status: 405, body: 'Method Not Allowed\n' });
    expect(wrong.headers.get('allow')).toBe('POST');
    const garbage = await get('/raft', {}, { method: 'POST', body: new Uint8Array([0xff, 0xff, 0xff]) });
    expect(garbage).toMatchObject({ status: 400, body: 'error unmarshalling raft message\n' });
    const probe = await get('/raft/probing');
    expect(probe.status).toBe(200);
    const health = JSON.parse(probe.body);
    expect(health.OK).toBe(true);
    expect(Number.isNaN(Date.parse(health.Now))).toBe(false);
    expect((await get('/members')).status).toBe(404); // not ours: handle() returned false
  });

  it('a removed member gets 410 on its streams and 403 on the pipeline; onRemoved is called once', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    b.sink.removedIds.add(a.id);
    mesh([a, b]);
    await waitFor(() => b.logs.has('rejected stream from remote peer because it was removed'), 'b refuses a');
    await waitFor(() => a.sink.removedCalls === 1, 'a told it was removed');
    a.transport.send([message({ type: MessageType.MsgHeartbeatResp, from: a.id, to: b.id })]);
    const res = await fetch(`${b.url}/raft/stream/message/1`, {
      headers: { 'X-Etcd-Cluster-ID': 'c1', 'X-Server-Version': '3.4.23', 'X-Raft-To': '2' },
    });
    expect(res.status).toBe(410);
    expect(await res.text()).toBe('removed member\n');
    await waitFor(() => b.logs.has('rejected Raft message from removed member'), 'stream message refused');
    expect(b.sink.messages).toEqual([]);
    const post = await fetch(`${b.url}/raft`, {
      method: 'POST',
      headers: { 'X-Etcd-Cluster-ID': 'c1', 'X-Server-Version': '3.4.23', 'X-Server-From': '1' },
      body: encodeMessage(message({ type: MessageType.MsgAppResp, from: a.id, to: b.id })),
    });
    expect(post.status).toBe(403);
    expect(await post.json()).toEqual({ message: 'cannot process message from removed member' });
    expect(b.sink.messages).toEqual([]);
    // Several more refusals later, still one call.
    await waitFor(
      () =>
        b.logs.lines.filter((l) => l.msg === 'rejected stream from remote peer because it was removed')
          .length >= 4,
      'more retries',
    );
    expect(a.sink.removedCalls).toBe(1);
  });

  it('drops and reports unreachable against a peer that takes the stream but never reads; memory stays bounded', async () => {
    const a = await member(0xan, { timing: { connWriteTimeoutMs: 60_000 } });
    const peerId = 0xbn;
    a.transport.addPeer(peerId, ['http://127.0.0.1:1']); // its own URL is dead: only the stream it dials exists
    const sock = net.connect(a.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(
      `GET /raft/stream/message/b HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Etcd-Cluster-ID: c1\r\nX-Server-Version: 3.4.23\r\nX-Min-Cluster-Version: 3.0.0\r\nX-Server-From: b\r\nX-Raft-To: a\r\n\r\n`,
    );
    sock.pause(); // never reads: the kernel buffers fill, then Node's, then the queue
    try {
      await waitFor(() => !!a.transport.bufferStats(peerId)?.streams.message, 'stream attached');
      const payload = 'x'.repeat(1024);
      const total = 30_000;
      for (let i = 0; i < total; i += 500) {
        const batch: Message[] = [];
        for (let j = i; j < i + 500; j++) {
          batch.push(
            message({
              type: MessageType.MsgApp,
              from: a.id,
              to: peerId,
              term: 2,
              index: j,
              entries: [entry(2, j + 1, payload)],
            }),
          );
        }
        a.transport.send(batch);
        await new Promise((r) => setImmediate(r)); // let the writer run, as raft's Ready loop would
      }
      const stats = a.transport.bufferStats(peerId)!;
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.queuedMessages).toBeLessThanOrEqual(STREAM_BUF_SIZE);
      // One batch (<= 1 MiB) beyond the socket's high-water mark at most, whatever was sent.
      expect(stats.bufferedBytes).toBeLessThan(2 * 1024 * 1024);
      expect(a.sink.unreachable.filter((id) => id === peerId).length).toBe(stats.dropped);
      expect(await a.metrics.peerSentFailures.get({ To: 'b' })).toBe(stats.dropped);
      expect(
        a.logs.has('dropped internal Raft message since sending buffer is full (overloaded network)'),
      ).toBe(true);
    } finally {
      sock.destroy();
    }
  });

  it('the pipeline holds 4 requests in flight and 64 queued; beyond that MsgSnap drops report failure', async () => {
    // A peer that accepts connections and never answers: requests hang, the queue fills.
    const held: net.Socket[] = [];
    const silent = net.createServer((sock) => held.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const a = await member(0xan);
      a.transport.addPeer(0xbn, [`http://127.0.0.1:${port}`]);
      const snap = message({ type: MessageType.MsgSnap, from: 0xan, to: 0xbn, term: 1 });
      a.transport.send(Array.from({ length: 100 }, () => ({ ...snap })));
      const stats = a.transport.bufferStats(0xbn)!;
      expect(stats.queuedMessages).toBe(64);
      expect(stats.dropped).toBe(100 - 64 - 4);
      expect(a.sink.snapshotReports).toEqual(Array.from({ length: 32 }, () => ({ id: 0xbn, ok: false })));
      expect(a.sink.unreachable).toEqual(Array.from({ length: 32 }, () => 0xbn));
    } finally {
      for (const sock of held) sock.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a stream that cannot drain within the write timeout is closed and its queue dropped', async () => {
    const a = await member(0xan, { timing: { connWriteTimeoutMs: 300 } });
    a.transport.addPeer(0xbn, ['http://127.0.0.1:1']);
    const sock = net.connect(a.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(
      `GET /raft/stream/message/b HTTP/1.1\r\nHost: x\r\nX-Etcd-Cluster-ID: c1\r\nX-Server-Version: 3.4.23\r\nX-Raft-To: a\r\n\r\n`,
    );
    sock.pause();
    try {
      await waitFor(() => !!a.transport.bufferStats(0xbn)?.streams.message, 'stream attached');
      const big = 'y'.repeat(64 * 1024);
      for (let i = 0; i < 400; i++)
        a.transport.send([
          message({
            type: MessageType.MsgApp,
            from: 0xan,
            to: 0xbn,
            index: i,
            entries: [entry(1, i + 1, big)],
          }),
        ]);
      await waitFor(
        () => !a.transport.bufferStats(0xbn)!.streams.message,
        'stream closed by the write deadline',
      );
      expect(a.logs.has('lost TCP streaming connection with remote peer')).toBe(true);
      expect(a.sink.unreachable).toContain(0xbn);
      expect(a.transport.bufferStats(0xbn)!.queuedMessages).toBe(0);
    } finally {
      sock.destroy();
    }
  });

  it('streams a multi-MiB snapshot: receiveSnapshot gets every byte, then process(MsgSnap); reportSnapshot(true)', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    mesh([a, b]);
    const chunk = Buffer.alloc(64 * 1024);
    const chunks = 96; // 6 MiB
    async function* data() {
      for (let i = 0; i < chunks; i++) {
        chunk.fill(i & 0xff);
        yield Buffer.from(chunk);
      }
    }
    const { createHash } = await import('node:crypto');
    const h = createHash('sha256');
    for await (const c of data()) h.update(c);
    const snap = message({
      type: MessageType.MsgSnap,
      from: a.id,
      to: b.id,
      term: 4,
      snapshot: {
        data: new Uint8Array([1, 2, 3]),
        metadata: {
          index: 77,
          term: 4,
          confState: {
            voters: [1n, 2n],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
      },
    });
    a.transport.sendSnapshot(snap, data);
    await waitFor(() => a.sink.snapshotReports.length === 1, 'snapshot report');
    expect(a.sink.snapshotReports).toEqual([{ id: b.id, ok: true }]);
    expect(b.sink.snapshots).toHaveLength(1);
    expect(b.sink.snapshots[0]!.bytes).toBe(chunks * chunk.length);
    expect(b.sink.snapshots[0]!.sha256).toBe(h.digest('hex'));
    expect(b.sink.snapshots[0]!.msg.snapshot?.metadata.index).toBe(77);
    expect(b.sink.calls.filter((c) => c !== 'process:MsgHeartbeat')).toEqual([
      'receiveSnapshot',
      'process:MsgSnap',
    ]);
    expect(await a.metrics.snapshotSendSuccess.get({ To: '2' })).toBe(1);
    expect(await b.metrics.snapshotReceiveSuccess.get({ From: '1' })).toBe(1);
    expect(await a.metrics.peerSentBytes.get({ To: '2' })).toBeGreaterThan(chunks * chunk.length);
  });

  it('snapshot data is streamed: a receiver that stops reading stalls the sender instead of buffering it', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    mesh([a, b]);
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let receivedFirst = false;
    b.sink.receiveSnapshot = async (_m, data) => {
      for await (const _chunk of data) {
        if (!receivedFirst) {
          receivedFirst = true;
          await released; // a slow disk: nothing more is read until released
        }
      }
    };
    const chunkSize = 64 * 1024;
    const chunks = 1024; // 64 MiB offered
    let produced = 0;
    async function* data() {
      for (let i = 0; i < chunks; i++) {
        produced++;
        yield Buffer.alloc(chunkSize, i & 0xff);
      }
    }
    a.transport.sendSnapshot(
      message({
        type: MessageType.MsgSnap,
        from: a.id,
        to: b.id,
        term: 1,
        snapshot: {
          data: new Uint8Array(),
          metadata: {
            index: 3,
            term: 1,
            confState: {
              voters: [1n, 2n],
              learners: [],
              votersOutgoing: [],
              learnersNext: [],
              autoLeave: false,
            },
          },
        },
      }),
      data,
    );
    await waitFor(() => receivedFirst, 'first chunk at the receiver');
    // Wait until the sender stalls (no progress for 300 ms), then check how far it got.
    let last = -1;
    while (produced !== last) {
      last = produced;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(produced).toBeLessThan(chunks / 2); // socket buffers only: far from the 64 MiB offered
    release();
    await waitFor(() => a.sink.snapshotReports.length === 1, 'snapshot done');
    expect(a.sink.snapshotReports).toEqual([{ id: b.id, ok: true }]);
    expect(produced).toBe(chunks);
  });

  it('a snapshot the receiver fails to save, or whose data fails, reports reportSnapshot(false)', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    mesh([a, b]);
    b.sink.failSnapshot = new Error('disk full');
    const snap = message({
      type: MessageType.MsgSnap,
      from: a.id,
      to: b.id,
      term: 4,
      snapshot: {
        data: new Uint8Array(),
        metadata: {
          index: 5,
          term: 4,
          confState: { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
        },
      },
    });
    async function* mib() {
      for (let i = 0; i < 16; i++) yield Buffer.alloc(64 * 1024, 1);
    }
    a.transport.sendSnapshot(snap, mib);
    await waitFor(() => a.sink.snapshotReports.length === 1, 'first report');
    expect(a.sink.snapshotReports[0]).toEqual({ id: b.id, ok: false });
    expect(a.sink.unreachable).toContain(b.id);
    expect(b.logs.find('failed to save incoming database snapshot')).toMatchObject({ error: 'disk full' });
    expect(b.sink.messages.filter((m) => m.type === MessageType.MsgSnap)).toEqual([]);
    // The sender's own data source failing.
    b.sink.failSnapshot = undefined;
    async function* broken() {
      yield Buffer.alloc(1000);
      throw new Error('snapshot file vanished');
    }
    a.transport.sendSnapshot(snap, broken);
    await waitFor(() => a.sink.snapshotReports.length === 2, 'second report');
    expect(a.sink.snapshotReports[1]).toEqual({ id: b.id, ok: false });
    expect(await a.metrics.snapshotSendFailures.get({ To: '2' })).toBe(2);
    // Unknown target.
    a.transport.sendSnapshot({ ...snap, to: 0x99n }, mib);
    expect(a.sink.snapshotReports[2]).toEqual({ id: 0x99n, ok: false });
  });

  it('probes /raft/probing and records the round-trip time histogram', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    a.transport.addPeer(b.id, [b.url]);
    await waitFor(
      async () => (await a.metrics.peerRoundTripTime.count({ To: '2' })) >= 2,
      'rtt observations',
    );
    const text = await a.metrics.registry.render();
    expect(text).toContain('# TYPE etcd_network_peer_round_trip_time_seconds histogram');
    // Label order within a series is not significant in the text format (prom-client writes `le` first).
    expect(text).toMatch(
      /etcd_network_peer_round_trip_time_seconds_bucket\{(To="2",le="0.0001"|le="0.0001",To="2")\}/,
    );
  });

  it('stop() is prompt with streams open and requests in flight, and removePeer closes the streams', async () => {
    const a = await member(0x1n);
    const b = await member(0x2n);
    const c = await member(0x3n);
    mesh([a, b, c]);
    await streamsUp(a, b);
    await streamsUp(a, c);
    a.transport.removePeer(c.id);
    await waitFor(
      () => c.transport.activeSince(a.id) === 0 || !c.transport.bufferStats(a.id)?.streams.message,
      'c loses a',
    );
    expect(a.transport.bufferStats(c.id)).toBeUndefined();
    a.transport.send([message({ type: MessageType.MsgVote, from: 1n, to: 2n })]);
    await a.transport.stop();
    await waitFor(() => !b.transport.bufferStats(a.id)!.streams.message, 'b sees a gone');
  });
  it('refuses malformed options and peer URLs with TypeError', async () => {
    const a = await member(0x1n);
    expect(() => a.transport.addPeer(0x2n, ['unix:///tmp/x'])).toThrow(TypeError);
    expect(() => a.transport.addPeer(0x2n, ['http://127.0.0.1'])).toThrow(/host:port/);
    expect(() => a.transport.addPeer(0x2n, [])).toThrow(TypeError);
    const base = {
      memberId: 1n,
      clusterId: 1n,
      peerUrls: [],
      serverVersion: '3.4.23',
      minClusterVersion: '3.0.0',
      logger: a.logs.logger,
      metrics: a.metrics,
      sink: a.sink,
    };
    expect(() => new PeerTransport({ ...base, serverVersion: 'v3.4' })).toThrow(/serverVersion/);
    expect(() => new PeerTransport({ ...base, memberId: 2n ** 64n })).toThrow(/memberId/);
    expect(() => new PeerTransport({ ...base, memberId: 0n })).toThrow(/memberId/);
  });
});
