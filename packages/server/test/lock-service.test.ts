/**
 * v3lock semantics against a real MvccStore (memory backend) and its watch hub, through the in-process
 * facade; plus the grpc-js handlers end to end over a real gRPC connection.
 */
import * as grpc from '@grpc/grpc-js';
import { LockService } from '@kv/client/api';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GrpcServer } from '../src/transport/grpc/server.js';
import {
  createLockService,
  createMvccFacade,
  LockSessionExpiredError,
  lock,
  type MvccFacade,
  unlock,
} from '../src/v3lock/index.js';

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const str = (u: Uint8Array) => Buffer.from(u).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let mvcc: MvccStore;
let kv: MvccFacade;

beforeEach(async () => {
  mvcc = await MvccStore.open(await openBackend({ engine: 'memory' }));
  kv = createMvccFacade(mvcc);
  for (const id of [0x1an, 0x2bn, 0x3cn, 0x4dn, 0x5en, 0x6fn, 0x70n, 0x81n]) kv.grantLease(id);
});
afterEach(async () => {
  await mvcc.close();
});

/** Resolves to 'pending' if `p` has not settled after a few event-loop turns. */
async function state(p: Promise<unknown>): Promise<'pending' | 'done' | 'failed'> {
  let s: 'pending' | 'done' | 'failed' = 'pending';
  p.then(
    () => (s = 'done'),
    () => (s = 'failed'),
  );
  await sleep(30);
  return s;
}

describe('v3lock', () => {
  it('creates <name>/<lease hex> with the lease and answers with the key and header', async () => {
    const r = await lock(kv, { name: b('mylock'), lease: 0x1an });
    expect(str(r.key)).toBe('mylock/1a');
    expect(r.header?.revision).toBe(mvcc.rev());
    const got = await kv.range({ key: r.key });
    expect(got.kvs[0]?.lease).toBe(0x1an);
    expect(got.kvs[0]?.value.length).toBe(0);
    const u = await unlock(kv, { key: r.key });
    expect(u.header?.revision).toBe(mvcc.rev());
    expect((await kv.range({ key: r.key })).kvs).toHaveLength(0);
  });

  it("fails with etcd's error for an unknown lease and leaves no key", async () => {
    await expect(lock(kv, { name: b('l'), lease: 0x999n })).rejects.toMatchObject({
      message: 'etcdserver: requested lease not found',
      code: grpc.status.NOT_FOUND,
    });
    expect((await kv.range({ key: b('l/'), rangeEnd: b('l0') })).count).toBe(0);
  });

  it('grants a fresh 60 s session lease when the request has none, like etcd', async () => {
    const granted: Array<number | bigint> = [];
    const spy = {
      ...kv,
      leaseGrant: async (ttl: number) => {
        const r = await kv.leaseGrant(ttl);
        granted.push(ttl, r.ID);
        return r;
      },
    };
    const r = await lock(spy, { name: b('nolease') });
    expect(granted[0]).toBe(60);
    expect(str(r.key)).toBe(`nolease/${granted[1]!.toString(16)}`);
    expect((await kv.range({ key: r.key })).kvs[0]?.lease).toBe(granted[1]);
  });

  it('is re-entrant for the same lease (keeps its place)', async () => {
    const a = await lock(kv, { name: b('re'), lease: 0x1an });
    const again = await lock(kv, { name: b('re'), lease: 0x1an });
    expect(str(again.key)).toBe(str(a.key));
  });

  it('gives mutual exclusion to many contenders, in create_revision (FIFO) order', async () => {
    const leases = [0x2bn, 0x3cn, 0x4dn, 0x5en, 0x6fn, 0x70n];
    let holder: string | undefined;
    const acquired: { key: string; createRev: number }[] = [];
    const overlaps: string[] = [];
    await Promise.all(
      leases.map(async (lease, i) => {
        await sleep(i * 2); // staggered arrivals; the order is what the store decides
        const r = await lock(kv, { name: b('mx'), lease });
        const key = str(r.key);
        if (holder !== undefined) overlaps.push(`${key} entered while ${holder} held the lock`);
        holder = key;
        const kvs = (await kv.range({ key: r.key })).kvs;
        acquired.push({ key, createRev: kvs[0]!.createRevision });
        // Critical section spanning several store round trips and timer turns.
        for (let n = 0; n < 3; n++) {
          await kv.put({ key: b('mx-counter'), value: b(`${key}:${n}`) });
          await sleep(3);
        }
        holder = undefined;
        await unlock(kv, { key: r.key });
      }),
    );
    expect(overlaps).toEqual([]);
    expect(acquired).toHaveLength(leases.length);
    const revs = acquired.map((a) => a.createRev);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
  });

  it("waits on its predecessor and gets the lock when the holder's lease is revoked", async () => {
    const a = await lock(kv, { name: b('lr'), lease: 0x1an });
    const pb = lock(kv, { name: b('lr'), lease: 0x2bn });
    expect(await state(pb)).toBe('pending');
    await kv.revokeLease(0x1an); // the lessor deletes the holder's key
    const got = await pb;
    expect(str(got.key)).toBe('lr/2b');
    expect((await kv.range({ key: a.key })).kvs).toHaveLength(0);
  });

  it('fails with "mutex: session is expired" when the waiter\'s own key vanished', async () => {
    const a = await lock(kv, { name: b('se'), lease: 0x1an });
    const pb = lock(kv, { name: b('se'), lease: 0x2bn });
    expect(await state(pb)).toBe('pending');
    await kv.revokeLease(0x2bn);
    await unlock(kv, { key: a.key });
    await expect(pb).rejects.toBeInstanceOf(LockSessionExpiredError);
    await expect(pb).rejects.toThrow('mutex: session is expired');
  });

  it('withdraws a cancelled waiter so later ones do not queue behind it', async () => {
    const a = await lock(kv, { name: b('cx'), lease: 0x1an });
    const ac = new AbortController();
    const pb = lock(kv, { name: b('cx'), lease: 0x2bn }, ac.signal);
    const pc = lock(kv, { name: b('cx'), lease: 0x3cn });
    expect(await state(pb)).toBe('pending');
    ac.abort();
    await expect(pb).rejects.toThrow('context canceled');
    expect((await kv.range({ key: b('cx/2b') })).kvs).toHaveLength(0);
    expect(await state(pc)).toBe('pending');
    await unlock(kv, { key: a.key });
    expect(str((await pc).key)).toBe('cx/3c');
  });
});

describe('v3lock gRPC handlers', () => {
  it('serve Lock and Unlock over a real gRPC connection, including blocking and errors', async () => {
    // kv-server's own gRPC transport, with a grpc-js client.
    const server = new GrpcServer({ maxReceiveMessageLength: 4 << 20 });
    // biome-ignore lint/suspicious/noExplicitAny: generated definitions are typed per method
    server.addService(LockService as any, createLockService(kv));
    const port = await server.listen(0);
    const Client = grpc.makeGenericClientConstructor(LockService, 'Lock');
    // biome-ignore lint/suspicious/noExplicitAny: generic client
    const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as any;
    // biome-ignore lint/suspicious/noExplicitAny: generic client
    const rpc = (m: string, req: unknown): Promise<any> =>
      new Promise((res, rej) => c[m](req, (e: unknown, r: unknown) => (e ? rej(e) : res(r))));
    try {
      const first = await rpc('lock', { name: b('g'), lease: 0x1an });
      expect(str(first.key)).toBe('g/1a');
      const second = rpc('lock', { name: b('g'), lease: 0x2bn });
      expect(await state(second)).toBe('pending');
      await rpc('unlock', { key: first.key });
      expect(str((await second).key)).toBe('g/2b');
      // etcd 3.4.23 answers KV-layer failures from the Lock service with status UNKNOWN.
      await expect(rpc('lock', { name: b('g'), lease: 0x777n })).rejects.toMatchObject({
        code: grpc.status.UNKNOWN,
        details: 'etcdserver: requested lease not found',
      });
    } finally {
      c.close();
      server.forceShutdown();
    }
  });
});
