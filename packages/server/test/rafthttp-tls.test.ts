/**
 * Peer TLS: members on https:// peer URLs with mutual TLS (a generated CA), and the listener's
 * --peer-cert-allowed-cn check refusing a peer whose client certificate carries another CN.
 */
import { readFileSync, rmSync } from 'node:fs';
import { MessageType } from '@kv/raft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Member, mesh, message, streamsUp, waitFor } from './rafthttp-harness.js';
import { generateTestPki, type TestPki } from './tls-certs.js';

describe('peer TLS', () => {
  let pki: TestPki;
  const running: Member[] = [];
  let server: { cert: Buffer; key: Buffer; ca: Buffer; requestCert: true; rejectUnauthorized: true };

  beforeAll(() => {
    pki = generateTestPki();
    server = {
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
      ca: readFileSync(pki.ca),
      requestCert: true,
      rejectUnauthorized: true,
    };
  });

  afterAll(async () => {
    await Promise.all(running.map((m) => m.stop()));
    rmSync(pki.dir, { recursive: true, force: true });
  });

  const start = async (id: bigint, opts: Parameters<typeof Member.start>[1]) => {
    const m = await Member.start(id, { scheme: 'https', tlsServer: server, ...opts });
    running.push(m);
    return m;
  };
  const dialAs = (pair: { cert: string; key: string }) => ({
    cert: readFileSync(pair.cert),
    key: readFileSync(pair.key),
    ca: readFileSync(pki.ca),
  });

  it('two members talk over https with client certificates: streams and pipeline', async () => {
    const a = await start(0xa1n, { dialTls: dialAs(pki.server) });
    const b = await start(0xb1n, { dialTls: dialAs(pki.server) });
    expect(a.url.startsWith('https://127.0.0.1:')).toBe(true);
    mesh([a, b]);
    await streamsUp(a, b);
    await streamsUp(b, a);
    a.transport.send([message({ type: MessageType.MsgVote, from: a.id, to: b.id, term: 2 })]);
    a.transport.send([message({ type: MessageType.MsgSnap, from: a.id, to: b.id, term: 2 })]); // pipeline
    await waitFor(() => b.sink.messages.length === 2, 'delivery over TLS');
    expect(b.sink.messages.map((m) => m.type).sort()).toEqual([MessageType.MsgVote, MessageType.MsgSnap]);
    await waitFor(() => a.sink.snapshotReports.length === 1, 'MsgSnap by pipeline reported');
    expect(a.sink.snapshotReports).toEqual([{ id: b.id, ok: true }]);
  });

  it('--peer-cert-allowed-cn refuses a peer whose certificate has another CN, accepts the right one', async () => {
    const b = await start(0xb2n, { dialTls: dialAs(pki.server), allowedCn: 'alice' });
    const wrong = await start(0xa2n, { dialTls: dialAs(pki.server) }); // CN=kv-server
    const right = await start(0xc2n, { dialTls: dialAs(pki.alice) }); // CN=alice
    wrong.transport.addPeer(b.id, [b.url]);
    right.transport.addPeer(b.id, [b.url]);
    // b does not dial `wrong` (allowed-cn guards incoming connections only): all of `wrong`'s traffic
    // has to come through b's listener.
    b.transport.addPeer(right.id, [right.url]);
    await streamsUp(b, right);
    await waitFor(
      () =>
        b.logs.lines.some(
          (l) => l.msg === 'rejected connection' && l.error === 'CommonName authentication failed',
        ),
      'refusal logged',
    );
    wrong.transport.send([message({ type: MessageType.MsgVote, from: wrong.id, to: b.id, term: 2 })]);
    right.transport.send([message({ type: MessageType.MsgVote, from: right.id, to: b.id, term: 2 })]);
    await waitFor(() => b.sink.messages.some((m) => m.from === right.id), 'delivery from the allowed CN');
    await waitFor(() => wrong.sink.unreachable.includes(b.id), 'refused sender reports b unreachable');
    expect(b.sink.messages.filter((m) => m.from === wrong.id)).toEqual([]);
    expect(wrong.transport.activeSince(b.id)).toBe(0);
  });

  it('a client certificate from an untrusted CA does not get through the handshake', async () => {
    const b = await start(0xb3n, { dialTls: dialAs(pki.server) });
    const stranger = await start(0xa3n, { dialTls: { ...dialAs(pki.wrongCa) } });
    stranger.transport.addPeer(b.id, [b.url]);
    // b does not dial the stranger: everything must pass b's listener.
    stranger.transport.send([message({ type: MessageType.MsgVote, from: stranger.id, to: b.id, term: 2 })]);
    await waitFor(() => stranger.sink.unreachable.includes(b.id), 'unreachable');
    expect(b.sink.messages).toEqual([]);
    expect(stranger.transport.activeSince(b.id)).toBe(0);
  });
});
