/**
 * `GET /members/hashkv` on the peer URL, side by side on Debian's etcd 3.4.23 and on kv-server: the same
 * requests get the same statuses, headers and JSON shape, and the hash is the one `etcdctl endpoint
 * hashkv` reports for that server. The asking side (PeerUrlHashFetcher, what the corruption checks use)
 * reads both.
 *
 * etcd runs with `--logger=zap`: with 3.4's default logger (capnslog) its handler's logger is nil, and
 * every error answer (a future or compacted revision, bad JSON) panics on the log call, so etcd drops the
 * connection instead of answering; the answers here are the ones its handler was written to give.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdProcess, startEtcd } from '../../client/test/etcd-process.js';
import { Errors } from '../src/etcdserver/errors.js';
import { type StartedServer, startServer } from '../src/index.js';
import { PeerUrlHashFetcher } from '../src/peer/hashkv.js';
import { peerRequest } from '../src/peer/http-client.js';

const run = promisify(execFile);

interface Target {
  clientUrl: string;
  peerUrl: string;
  stop(): Promise<void>;
}

async function startTarget(kind: 'etcd' | 'kv'): Promise<Target> {
  if (kind === 'etcd') {
    const e: EtcdProcess = await startEtcd({ name: 'hashkv', args: ['--logger=zap'] });
    return { clientUrl: e.clientUrl, peerUrl: e.peerUrl, stop: () => e.stop() };
  }
  const s: StartedServer = await startServer();
  return { clientUrl: s.endpoint, peerUrl: s.server.peerUrls[0]!, stop: () => s.close() };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function gateway(t: Target, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${t.clientUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

async function etcdctlHashKV(t: Target, revision: number) {
  const { stdout } = await run('etcdctl', [
    `--endpoints=${t.clientUrl}`,
    'endpoint',
    'hashkv',
    `--rev=${revision}`,
    '-w',
    'json',
  ]);
  const [r] = JSON.parse(stdout) as Array<{
    HashKV: { header: { revision: number }; hash: number; compact_revision: number };
  }>;
  return r!.HashKV;
}

function hashkv(t: Target, body: string, method: 'GET' | 'POST' = 'GET') {
  return peerRequest(t.peerUrl, '/members/hashkv', {
    method,
    body: Buffer.from(body),
    contentType: 'application/json',
    timeoutMs: 5000,
  });
}

describe.each(['etcd', 'kv'] as const)('GET /members/hashkv on %s', (kind) => {
  let t: Target;
  beforeAll(async () => {
    t = await startTarget(kind);
    for (let i = 0; i < 5; i++) await gateway(t, '/v3/kv/put', { key: b64(`k${i}`), value: b64(`v${i}`) });
  });
  afterAll(() => t?.stop());

  it('answers the hash at a revision as JSON, with the cluster id', async () => {
    const res = await hashkv(t, '{"revision":4}');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-etcd-cluster-id']).toMatch(/^[0-9a-f]+$/);
    const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['header', 'hash', 'compact_revision']);
    const want = await etcdctlHashKV(t, 4);
    // The header carries only the member's current revision; -1: never compacted.
    expect(body).toEqual({ header: { revision: 6 }, hash: want.hash, compact_revision: -1 });
    // Revision 0 (a missing field, or null as Go reads it) is the current one; Go matches the field
    // name case-insensitively.
    const current = (await etcdctlHashKV(t, 0)).hash;
    for (const req of ['{}', 'null', '{"revision":null}']) {
      const now = JSON.parse((await hashkv(t, req)).body.toString()) as { hash: number };
      expect([req, now.hash]).toEqual([req, current]);
    }
    const upper = JSON.parse((await hashkv(t, '{"Revision":4}')).body.toString()) as { hash: number };
    expect(upper.hash).toBe(want.hash);
  });

  it("refuses a future revision, bad JSON and other methods with etcd's texts", async () => {
    const future = await hashkv(t, '{"revision":1000}');
    expect([future.status, future.body.toString()]).toEqual([
      400,
      'mvcc: required revision is a future revision\n',
    ]);
    expect(future.headers['content-type']).toBe('text/plain; charset=utf-8');
    for (const bad of ['', 'not json', '{"revision":"4"}', '{"revision":1.5}', '[1]']) {
      const res = await hashkv(t, bad);
      expect([bad, res.status, res.body.toString()]).toEqual([bad, 400, 'error unmarshalling request\n']);
    }
    const post = await hashkv(t, '{}', 'POST');
    expect([post.status, post.headers.allow, post.body.toString()]).toEqual([
      405,
      'GET',
      'Method Not Allowed\n',
    ]);
  });

  it('is read by the corruption checks’ fetcher, errors included', async () => {
    const fetcher = new PeerUrlHashFetcher(undefined);
    const peer = { id: 0x42n, peerURLs: ['http://127.0.0.1:1', t.peerUrl] }; // the first is down
    const got = await fetcher.fetch(peer, 5, 5000);
    const want = await etcdctlHashKV(t, 5);
    expect(got).toEqual({ memberId: 0x42n, revision: 6, hash: want.hash, compactRevision: -1 });
    await expect(fetcher.fetch(peer, 1000, 5000)).rejects.toThrow(Errors.futureRev().message);
    await gateway(t, '/v3/kv/compaction', { revision: 4, physical: true });
    const compacted = await hashkv(t, '{"revision":3}');
    expect([compacted.status, compacted.body.toString()]).toEqual([
      400,
      'mvcc: required revision has been compacted\n',
    ]);
    await expect(fetcher.fetch(peer, 3, 5000)).rejects.toThrow(Errors.compacted().message);
    const after = await fetcher.fetch(peer, 6, 5000);
    expect(after.compactRevision).toBe(4);
    expect(after.hash).toBe((await etcdctlHashKV(t, 6)).hash);
    await expect(fetcher.fetch({ id: 0x43n, peerURLs: ['http://127.0.0.1:1'] }, 5, 2000)).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
