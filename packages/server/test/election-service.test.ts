/**
 * v3election semantics against a real MvccStore (memory backend) and its watch hub through the
 * in-process facade, and the grpc-js handlers (unary + the Observe stream) over a real connection.
 */
import * as grpc from '@grpc/grpc-js';
import { ElectionService, GATEWAY_ROUTES, type LeaderResponse } from '@kv/client/api';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GrpcServer } from '../src/transport/grpc/server.js';
import {
  campaign,
  createElectionService,
  electionUnaryHandlers,
  leader,
  observe,
  proclaim,
  resign,
} from '../src/v3election/index.js';
import {
  createMvccFacade,
  ElectionNoLeaderError,
  ElectionNotLeaderError,
  lockUnaryHandlers,
  type MvccFacade,
} from '../src/v3lock/index.js';

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const str = (u: Uint8Array | undefined) => Buffer.from(u ?? []).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let mvcc: MvccStore;
let kv: MvccFacade;

beforeEach(async () => {
  mvcc = await MvccStore.open(await openBackend({ engine: 'memory' }));
  kv = createMvccFacade(mvcc);
  for (const id of [0xa1n, 0xb2n, 0xc3n]) kv.grantLease(id);
});
afterEach(async () => {
  await mvcc.close();
});

async function state(p: Promise<unknown>): Promise<'pending' | 'done' | 'failed'> {
  let s: 'pending' | 'done' | 'failed' = 'pending';
  p.then(
    () => (s = 'done'),
    () => (s = 'failed'),
  );
  await sleep(30);
  return s;
}

/** Polls until `cond` holds (observers run asynchronously). */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

describe('v3election', () => {
  it('elects an uncontested candidate at once and reports it as leader', async () => {
    const c = await campaign(kv, { name: b('e'), lease: 0xa1n, value: b('p1') });
    expect(str(c.leader?.name)).toBe('e');
    expect(str(c.leader?.key)).toBe('e/a1');
    expect(c.leader?.lease).toBe(0xa1n);
    expect(c.leader?.rev).toBe(c.header?.revision);
    const l = await leader(kv, { name: b('e') });
    expect(str(l.kv?.key)).toBe('e/a1');
    expect(str(l.kv?.value)).toBe('p1');
    expect(l.kv?.createRevision).toBe(c.leader?.rev);
  });

  it('campaigns with a fresh session lease when the request has none', async () => {
    const c = await campaign(kv, { name: b('nl'), value: b('v') });
    expect(c.leader?.lease).toBeGreaterThan(0n);
    expect(str(c.leader?.key)).toBe(`nl/${c.leader!.lease.toString(16)}`);
    expect((await leader(kv, { name: b('nl') })).kv?.lease).toBe(c.leader?.lease);
  });

  it('has "election: no leader" without candidates, also after resignation', async () => {
    await expect(leader(kv, { name: b('none') })).rejects.toBeInstanceOf(ElectionNoLeaderError);
    await expect(leader(kv, { name: b('none') })).rejects.toThrow('election: no leader');
    const c = await campaign(kv, { name: b('none'), lease: 0xa1n, value: b('x') });
    await resign(kv, { leader: c.leader });
    await expect(leader(kv, { name: b('none') })).rejects.toThrow('election: no leader');
  });

  it('queues a second candidate until the leader resigns; proclaim/resign of a stale key', async () => {
    const c1 = await campaign(kv, { name: b('q'), lease: 0xa1n, value: b('one') });
    const p2 = campaign(kv, { name: b('q'), lease: 0xb2n, value: b('two') });
    expect(await state(p2)).toBe('pending');
    await proclaim(kv, { leader: c1.leader, value: b('one-b') });
    expect(str((await leader(kv, { name: b('q') })).kv?.value)).toBe('one-b');
    await resign(kv, { leader: c1.leader });
    const c2 = await p2;
    expect(str(c2.leader?.key)).toBe('q/b2');
    expect(str((await leader(kv, { name: b('q') })).kv?.value)).toBe('two');
    // The old leadership is gone: Proclaim fails with etcd's error, Resign is a silent no-op.
    await expect(proclaim(kv, { leader: c1.leader, value: b('late') })).rejects.toBeInstanceOf(
      ElectionNotLeaderError,
    );
    await expect(proclaim(kv, { leader: c1.leader, value: b('late') })).rejects.toThrow(
      'election: not leader',
    );
    const rs = await resign(kv, { leader: c1.leader });
    expect(rs.header?.revision).toBe(mvcc.rev());
    expect(str((await leader(kv, { name: b('q') })).kv?.value)).toBe('two');
    await expect(proclaim(kv, { value: b('x') })).rejects.toThrow('"leader" field must be provided');
  });

  it('a key re-created by the same lease is a different leadership (create_revision differs)', async () => {
    const c1 = await campaign(kv, { name: b('rc'), lease: 0xa1n, value: b('v') });
    await resign(kv, { leader: c1.leader });
    const c2 = await campaign(kv, { name: b('rc'), lease: 0xa1n, value: b('v') });
    expect(c2.leader?.rev).toBeGreaterThan(c1.leader!.rev);
    await expect(proclaim(kv, { leader: c1.leader, value: b('stale') })).rejects.toThrow(
      'election: not leader',
    );
    await proclaim(kv, { leader: c2.leader, value: b('fresh') });
    expect(str((await leader(kv, { name: b('rc') })).kv?.value)).toBe('fresh');
  });

  it('campaigning again with the same lease resumes and proclaims the new value', async () => {
    const c1 = await campaign(kv, { name: b('same'), lease: 0xa1n, value: b('a') });
    const c2 = await campaign(kv, { name: b('same'), lease: 0xa1n, value: b('b') });
    expect(c2.leader?.rev).toBe(c1.leader?.rev);
    expect(str((await leader(kv, { name: b('same') })).kv?.value)).toBe('b');
  });

  it("hands leadership over when the leader's lease is revoked", async () => {
    await campaign(kv, { name: b('lv'), lease: 0xa1n, value: b('first') });
    const p2 = campaign(kv, { name: b('lv'), lease: 0xb2n, value: b('second') });
    expect(await state(p2)).toBe('pending');
    await kv.revokeLease(0xa1n);
    expect(str((await p2).leader?.key)).toBe('lv/b2');
  });

  it('Observe streams the leader, each proclamation, then the next leader, in order', async () => {
    const seen: string[] = [];
    const revs: number[] = [];
    const ac = new AbortController();
    const obs = observe(
      kv,
      { name: b('ob') },
      (r: LeaderResponse) => {
        seen.push(`${str(r.kv?.key)}=${str(r.kv?.value)}`);
        revs.push(r.header?.revision ?? 0);
      },
      ac.signal,
    );
    await sleep(20); // no leader yet: the observer waits for the first put
    const c1 = await campaign(kv, { name: b('ob'), lease: 0xa1n, value: b('v1') });
    const p2 = campaign(kv, { name: b('ob'), lease: 0xb2n, value: b('w1') });
    await until(() => seen.length >= 1);
    await proclaim(kv, { leader: c1.leader, value: b('v2') });
    await proclaim(kv, { leader: c1.leader, value: b('v3') });
    await until(() => seen.length >= 3);
    await resign(kv, { leader: c1.leader });
    const c2 = await p2;
    await until(() => seen.length >= 4);
    await proclaim(kv, { leader: c2.leader, value: b('w2') });
    await until(() => seen.length >= 5);
    ac.abort();
    await obs;
    expect(seen).toEqual(['ob/a1=v1', 'ob/a1=v2', 'ob/a1=v3', 'ob/b2=w1', 'ob/b2=w2']);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
  });
});

describe('v3election gRPC handlers', () => {
  it('serve Campaign/Leader/Proclaim/Resign and stream Observe over a real gRPC connection', async () => {
    // kv-server's own gRPC transport, with a grpc-js client.
    const server = new GrpcServer({ maxReceiveMessageLength: 4 << 20 });
    // biome-ignore lint/suspicious/noExplicitAny: generated definitions are typed per method
    server.addService(ElectionService as any, createElectionService(kv));
    const port = await server.listen(0);
    const Client = grpc.makeGenericClientConstructor(ElectionService, 'Election');
    // biome-ignore lint/suspicious/noExplicitAny: generic client
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
    // biome-ignore lint/suspicious/noExplicitAny: generic client
    const rpc = (m: string, req: unknown): Promise<any> =>
      new Promise((res, rej) => c[m](req, (e: unknown, r: unknown) => (e ? rej(e) : res(r))));
    try {
      await expect(rpc('leader', { name: b('g') })).rejects.toMatchObject({
        code: grpc.status.UNKNOWN,
        details: 'election: no leader',
      });
      const c1 = await rpc('campaign', { name: b('g'), lease: 0xa1n, value: b('x') });
      const stream = c.observe({ name: b('g') });
      const got: string[] = [];
      stream.on('data', (r: LeaderResponse) => got.push(str(r.kv?.value)));
      stream.on('error', () => undefined); // the client cancels below
      await until(() => got.length === 1);
      await rpc('proclaim', { leader: c1.leader, value: b('y') });
      await until(() => got.length === 2);
      expect(got).toEqual(['x', 'y']);
      expect(str((await rpc('leader', { name: b('g') })).kv.value)).toBe('y');
      await rpc('resign', { leader: c1.leader });
      await expect(rpc('proclaim', { leader: c1.leader, value: b('z') })).rejects.toMatchObject({
        details: 'election: not leader',
      });
      stream.cancel();
    } finally {
      c.close();
      server.forceShutdown();
    }
  });
});

describe('gateway JSON routes', () => {
  it('serve /v3/lock/* and /v3/election/* through the route codecs and the unary handler table', async () => {
    const table = new Map([...lockUnaryHandlers(kv), ...electionUnaryHandlers(kv)]);
    // biome-ignore lint/suspicious/noExplicitAny: gateway JSON is untyped
    type Json = Record<string, any>;
    /** What the gateway does: JSON body -> fromJSON -> handler -> toJSON. */
    const post = async (path: string, body: unknown): Promise<Json> => {
      const route = GATEWAY_ROUTES[path]!;
      const fn = table.get(`${route.service}/${route.key}`)!;
      const resp = await fn(route.request.fromJSON(body) as never);
      return route.response.toJSON(resp as never) as Json;
    };
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const locked = await post('/v3/lock/lock', { name: b64('gw'), lease: String(0xa1) });
    expect(Buffer.from(locked.key, 'base64').toString()).toBe('gw/a1');
    expect(Number(locked.header.revision)).toBe(mvcc.rev());
    await post('/v3/lock/unlock', { key: locked.key });
    const c = await post('/v3/election/campaign', {
      name: b64('gwe'),
      lease: String(0xb2),
      value: b64('v1'),
    });
    expect(Buffer.from(c.leader.key, 'base64').toString()).toBe('gwe/b2');
    await post('/v3/election/proclaim', { leader: c.leader, value: b64('v2') });
    const l = await post('/v3/election/leader', { name: b64('gwe') });
    expect(Buffer.from(l.kv.value, 'base64').toString()).toBe('v2');
    await post('/v3/election/resign', { leader: c.leader });
    await expect(post('/v3/election/leader', { name: b64('gwe') })).rejects.toThrow('election: no leader');
    expect(GATEWAY_ROUTES['/v3/election/observe']?.responseStream).toBe(true); // served with observe()
  });
});
