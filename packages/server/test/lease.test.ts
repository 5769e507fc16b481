import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect, s, sleep } from './helpers.js';

describe('Lease over gRPC', () => {
  let srv: StartedServer;
  let c: ReturnType<typeof connect>;
  beforeAll(async () => {
    // Short election timeout so the minimum TTL rule allows a 1 s lease (min = 1.5 × election).
    srv = await startServer({ args: ['--heartbeat-interval', '20', '--election-timeout', '200'] });
    c = connect(srv.address);
  });
  afterAll(async () => {
    c.close();
    await srv.close();
  });

  it('grants with the minimum TTL rule, lists, and reports TimeToLive with keys', async () => {
    const g = await call(c.lease, 'leaseGrant', { TTL: 0 });
    expect(g.TTL).toBe(1); // ceil(1.5 × 200 ms) = 1 s
    const big = await call(c.lease, 'leaseGrant', { TTL: 100 });
    // etcd's layout: the member id's low 16 bits, then 48 bits of start time (ms) << 8 + counter,
    // masked to a positive int63.
    const memberId = BigInt(srv.server.etcd.memberId);
    expect(big.ID >> 48n).toBe(memberId & 0x7fffn);
    expect(big.ID).toBeLessThan(2n ** 63n);
    const startMs = (big.ID & (2n ** 48n - 1n)) >> 8n;
    expect(Number(startMs)).toBeLessThanOrEqual(Date.now() % 2 ** 40);
    await call(c.kv, 'put', { key: b('lk1'), value: b('v'), lease: big.ID });
    await call(c.kv, 'put', { key: b('lk2'), value: b('v'), lease: big.ID });
    await call(c.kv, 'put', { key: b('lk2'), value: b('moved') }); // detaches lk2
    const ttl = await call(c.lease, 'leaseTimeToLive', { ID: big.ID, keys: true });
    expect(ttl.grantedTTL).toBe(100);
    expect(ttl.TTL).toBeGreaterThan(95);
    expect(ttl.keys.map(s)).toEqual(['lk1']);
    const list = await call(c.lease, 'leaseLeases', {});
    expect(list.leases.map((l: { ID: bigint }) => l.ID)).toContain(big.ID);
    const missing = await call(c.lease, 'leaseTimeToLive', { ID: 42n });
    expect(missing.TTL).toBe(-1);
    const dup = await call(c.lease, 'leaseGrant', { TTL: 10, ID: big.ID }).catch((e) => e);
    expect(dup.details).toBe('etcdserver: lease already exists');
  });

  it('keeps alive over the stream; unknown leases get TTL 0', async () => {
    const g = await call(c.lease, 'leaseGrant', { TTL: 30 });
    const stream = c.lease.leaseKeepAlive();
    const replies: Array<{ ID: bigint; TTL: number }> = [];
    const two = new Promise<void>((resolve) =>
      stream.on('data', (r: { ID: bigint; TTL: number }) => {
        replies.push(r);
        if (replies.length === 2) resolve();
      }),
    );
    stream.write({ ID: g.ID });
    stream.write({ ID: 777n });
    await two;
    expect(replies).toContainEqual(expect.objectContaining({ ID: g.ID, TTL: 30 }));
    expect(replies).toContainEqual(expect.objectContaining({ ID: 777n, TTL: 0 }));
    stream.end();
  });

  it('expires leases on the leader and deletes their keys through raft', async () => {
    const g = await call(c.lease, 'leaseGrant', { TTL: 1 });
    await call(c.kv, 'put', { key: b('ephemeral'), value: b('x'), lease: g.ID });
    expect((await call(c.kv, 'range', { key: b('ephemeral') })).count).toBe(1);
    let count = 1;
    for (let i = 0; i < 40 && count > 0; i++) {
      await sleep(100);
      count = (await call(c.kv, 'range', { key: b('ephemeral') })).count;
    }
    expect(count).toBe(0);
    expect((await call(c.lease, 'leaseTimeToLive', { ID: g.ID })).TTL).toBe(-1);
  });

  it('revokes: keys go in one revision; a second revoke is not found', async () => {
    const g = await call(c.lease, 'leaseGrant', { TTL: 60 });
    await call(c.kv, 'put', { key: b('ra'), value: b('1'), lease: g.ID });
    const last = await call(c.kv, 'put', { key: b('rb'), value: b('2'), lease: g.ID });
    const rev = await call(c.lease, 'leaseRevoke', { ID: g.ID });
    expect(rev.header.revision).toBe(last.header.revision + 1);
    expect((await call(c.kv, 'range', { key: b('ra'), rangeEnd: b('rc') })).count).toBe(0);
    const again = await call(c.lease, 'leaseRevoke', { ID: g.ID }).catch((e) => e);
    expect(again.details).toBe('etcdserver: requested lease not found');
  });

  it('keeps a client-chosen id above 2^53 exact through grant, put, get, ttl, leases and revoke', async () => {
    // 3182763892645462267 and its neighbour are the same JS number: a rounded id would merge them.
    const ID = 3182763892645462267n;
    const g = await call(c.lease, 'leaseGrant', { TTL: 60, ID });
    expect(g.ID).toBe(ID);
    await call(c.lease, 'leaseGrant', { TTL: 60, ID: ID + 1n });
    await call(c.kv, 'put', { key: b('exact'), value: b('v'), lease: ID });
    const got = await call(c.kv, 'range', { key: b('exact') });
    expect(got.kvs[0].lease).toBe(ID);
    const cmp = await call(c.kv, 'txn', {
      compare: [{ key: b('exact'), target: 4, result: 0, lease: ID + 1n }],
      success: [],
      failure: [],
    });
    expect(cmp.succeeded).toBe(false);
    const ttl = await call(c.lease, 'leaseTimeToLive', { ID, keys: true });
    expect([ttl.ID, ttl.grantedTTL, ttl.keys.map(s)]).toEqual([ID, 60, ['exact']]);
    const list = await call(c.lease, 'leaseLeases', {});
    expect(list.leases.map((l: { ID: bigint }) => l.ID)).toEqual(expect.arrayContaining([ID, ID + 1n]));
    await call(c.lease, 'leaseRevoke', { ID });
    expect((await call(c.kv, 'range', { key: b('exact') })).count).toBe(0);
    expect((await call(c.lease, 'leaseTimeToLive', { ID: ID + 1n })).TTL).toBeGreaterThan(0);
    await call(c.lease, 'leaseRevoke', { ID: ID + 1n });
  });
});
