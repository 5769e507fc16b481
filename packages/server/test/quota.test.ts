/**
 * The backend quota and the NOSPACE alarm over real gRPC against an embedded server, following what
 * etcd 3.4.23 does with a tiny --quota-backend-bytes (checked against the real etcd; see
 * docs/operations.md): the write that would cross the quota fails with RESOURCE_EXHAUSTED and raises
 * NOSPACE through raft; while it is active only reads, deletes, compaction, defragment, lease revoke and
 * alarm list/disarm work; the alarm survives a restart; a disarm while still over quota lets the next
 * write re-raise it; after compact + defragment + disarm writes work again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendQuota, effectiveQuotaBytes, humanBytes, quotaCost } from '../src/etcdserver/quota.js';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect } from './helpers.js';

const QUOTA = 64 * 1024;
const VALUE = Buffer.alloc(2000, 'v');
const NOSPACE = 1;
const NO_SPACE_MSG = 'etcdserver: mvcc: database space exceeded';

// biome-ignore lint/suspicious/noExplicitAny: grpc-js errors and decoded responses
type Any = any;

const failure = (p: Promise<unknown>): Promise<Any> =>
  p.then(
    (r) => {
      throw new Error(`expected a failure, got ${JSON.stringify(r)}`);
    },
    (e: unknown) => e,
  );

describe('backend quota and the NOSPACE alarm', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'kv-quota-')), 'data');
  const args = ['--quota-backend-bytes', String(QUOTA), '--snapshot-count', '20'];
  let srv: StartedServer;
  let c: ReturnType<typeof connect>;
  let memberId: number;
  let leaseId: bigint;
  let accepted = 0;

  beforeAll(async () => {
    srv = await startServer({ dataDir, args, unsafeNoFsync: true });
    c = connect(srv.address);
    memberId = (await call(c.maintenance, 'status', {})).header.memberId;
  });
  afterAll(async () => {
    c.close();
    await srv.close();
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('refuses the put that would reach the quota with RESOURCE_EXHAUSTED and raises NOSPACE', async () => {
    leaseId = (await call(c.lease, 'leaseGrant', { TTL: 600 })).ID;
    await call(c.kv, 'put', { key: b('leased'), value: b('x'), lease: leaseId });
    let err: Any;
    for (let i = 0; i < 100 && !err; i++) {
      err = await call(c.kv, 'put', { key: b(`fill/${i}`), value: VALUE }).then(
        () => {
          accepted++;
          return undefined;
        },
        (e: unknown) => e,
      );
    }
    expect(err).toBeDefined();
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(NO_SPACE_MSG);
    // 64 KiB of quota holds about 30 such keys (2 KiB value + metadata each), never more.
    expect(accepted).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(QUOTA / VALUE.length);
    const st = await call(c.maintenance, 'status', {});
    expect(st.dbSize).toBeLessThan(QUOTA);
    const alarms = await call(c.maintenance, 'alarm', { action: 0 });
    expect(alarms.alarms).toEqual([{ memberID: memberId, alarm: NOSPACE }]);
  });

  it('exports the quota as etcd_server_quota_backend_bytes', async () => {
    const text = await (await fetch(`${srv.endpoint}/metrics`)).text();
    expect(text).toContain('# TYPE etcd_server_quota_backend_bytes gauge');
    expect(text).toMatch(new RegExp(`^etcd_server_quota_backend_bytes ${QUOTA}$`, 'm'));
  });

  it('lists the alarm in Status.errors the way etcd prints it', async () => {
    const st = await call(c.maintenance, 'status', {});
    expect(st.errors).toEqual([`memberID:${BigInt(memberId)} alarm:NOSPACE `]);
  });

  it('refuses puts, txns with puts and lease grants while the alarm is active', async () => {
    // Even a write that would fit is refused: the alarm caps the cluster until disarmed.
    // Settled together: each rejection has its handler before any of them arrives.
    const refused = await Promise.all(
      [
        call(c.kv, 'put', { key: b('small'), value: b('1') }),
        call(c.kv, 'txn', { success: [{ requestPut: { key: b('t'), value: b('1') } }] }),
        call(c.kv, 'txn', {
          compare: [{ key: b('fill/0'), target: 3, result: 0, value: b('nope') }],
          success: [{ requestRange: { key: b('fill/0') } }],
          failure: [{ requestPut: { key: b('t'), value: b('1') } }],
        }),
        call(c.lease, 'leaseGrant', { TTL: 60 }),
      ].map(failure),
    );
    for (const e of refused) expect([e.code, e.details]).toEqual([status.RESOURCE_EXHAUSTED, NO_SPACE_MSG]);
  });

  it("checks a request's own errors before the quota (etcd 3.4.23's order)", async () => {
    const big = Buffer.alloc(QUOTA, 'b');
    const empty = await failure(call(c.kv, 'put', { key: b(''), value: big }));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, 'etcdserver: key is not provided']);
    const ttl = await failure(call(c.lease, 'leaseGrant', { TTL: 99999999999 }));
    expect(ttl.details).toBe('etcdserver: too large lease TTL');
  });

  it('still serves reads, read-only txns, deletes, lease revoke, compaction and defragment', async () => {
    const got = await call(c.kv, 'range', { key: b('fill/0') });
    expect(Buffer.from(got.kvs[0].value).length).toBe(VALUE.length);
    const ro = await call(c.kv, 'txn', { success: [{ requestRange: { key: b('fill/1') } }] });
    expect(ro.succeeded).toBe(true);
    const del = await call(c.kv, 'txn', { success: [{ requestDeleteRange: { key: b('fill/0') } }] });
    expect(del.responses[0].responseDeleteRange.deleted).toBe(1);
    await call(c.lease, 'leaseRevoke', { ID: leaseId });
    expect((await call(c.kv, 'range', { key: b('leased') })).count).toBe(0);
    const rev = (await call(c.kv, 'range', { key: b('fill/1') })).header.revision;
    await call(c.kv, 'compact', { revision: rev });
    await call(c.maintenance, 'defragment', {});
  });

  it('a disarm while still over quota lets the next write fail and raise the alarm again', async () => {
    // Nearly full (only one key was deleted): disarm works, the next big put re-raises NOSPACE.
    const dis = await call(c.maintenance, 'alarm', { action: 2, memberID: memberId, alarm: NOSPACE });
    expect(dis.alarms).toEqual([{ memberID: memberId, alarm: NOSPACE }]);
    expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([]);
    const e = await failure(call(c.kv, 'put', { key: b('big'), value: Buffer.alloc(8000, 'b') }));
    expect(e.details).toBe(NO_SPACE_MSG);
    expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([
      { memberID: memberId, alarm: NOSPACE },
    ]);
  });

  it('keeps the alarm across a restart (raft log + snapshot)', async () => {
    c.close();
    await srv.close();
    srv = await startServer({ dataDir, args, unsafeNoFsync: true });
    c = connect(srv.address);
    expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([
      { memberID: memberId, alarm: NOSPACE },
    ]);
    const e = await failure(call(c.kv, 'put', { key: b('small'), value: b('1') }));
    expect(e.details).toBe(NO_SPACE_MSG);
  });

  it('after delete + compact + defragment, writes stay refused until the alarm is disarmed', async () => {
    await call(c.kv, 'deleteRange', { key: b('fill/'), rangeEnd: b('fill0') });
    const rev = (await call(c.kv, 'range', { key: b('x') })).header.revision;
    await call(c.kv, 'compact', { revision: rev, physical: true });
    await call(c.maintenance, 'defragment', {});
    const st = await call(c.maintenance, 'status', {});
    expect(st.dbSize).toBeLessThan(QUOTA / 4);
    const e = await failure(call(c.kv, 'put', { key: b('small'), value: b('1') }));
    expect(e.details).toBe(NO_SPACE_MSG);
    await call(c.maintenance, 'alarm', { action: 2, memberID: memberId, alarm: NOSPACE });
    await call(c.kv, 'put', { key: b('small'), value: b('1') });
    await call(c.lease, 'leaseGrant', { TTL: 60 });
    await call(c.kv, 'txn', { success: [{ requestPut: { key: b('t'), value: b('1') } }] });
    expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([]);
    expect((await call(c.maintenance, 'status', {})).errors).toEqual([]);
  });
});

describe("etcd's cost estimate (etcdserver/quota.go)", () => {
  it('charges 256 B + key + value per put, the larger txn branch, 64 B per lease grant', () => {
    expect(quotaCost({ put: { key: b('ab'), value: b('xyz') } })).toBe(261);
    const put = (k: string, v: string) => ({ requestPut: { key: b(k), value: b(v) } });
    expect(
      quotaCost({ txn: { success: [put('a', '1'), put('b', '22')], failure: [put('c', '4444')] } }),
    ).toBe(256 + 2 + 256 + 3);
    expect(quotaCost({ txn: { success: [{ requestPut: undefined }], failure: [] } })).toBe(0);
    expect(quotaCost({ leaseGrant: { TTL: 5 } })).toBe(64);
  });

  it('prints sizes the way etcd logs them (go-humanize)', () => {
    expect([humanBytes(2147483648), humanBytes(100_000), humanBytes(8589934592), humanBytes(5)]).toEqual([
      '2.1 GB',
      '100 kB',
      '8.6 GB',
      '5 B',
    ]);
  });

  it('reads 0 as the 2 GiB default and a negative quota as none', () => {
    expect(effectiveQuotaBytes(0)).toBe(2 * 1024 ** 3);
    expect(effectiveQuotaBytes(-1)).toBeUndefined();
    expect(effectiveQuotaBytes(12345)).toBe(12345);
  });
});

describe('how often the backend is measured (BackendQuota)', () => {
  /** A quota of 1000 bytes over a backend whose size the test sets, with a clock the test moves. */
  function setup(size: number) {
    const backend = { size, measurements: 0 };
    const clock = { ms: 1_000_000 };
    const quota = new BackendQuota(
      1000,
      async () => {
        backend.measurements++;
        return backend.size;
      },
      100,
      5_000,
      () => clock.ms,
    );
    return { backend, clock, quota };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('far below the quota, reuses a measurement for seconds and counts admitted writes on top', async () => {
    const { backend, clock, quota } = setup(100);
    expect(await quota.available(50)).toBe(true);
    expect(backend.measurements).toBe(1);
    clock.ms += 1_000;
    expect(quota.admitNow(50)).toBe(true);
    await settle();
    expect(backend.measurements).toBe(1);
    clock.ms += 5_000;
    expect(quota.admitNow(50)).toBe(true);
    await settle();
    expect(backend.measurements).toBe(2);
  });

  it('once the estimate reaches half the quota, re-measures every 100 ms again', async () => {
    const { backend, clock, quota } = setup(300);
    expect(await quota.available(250)).toBe(true); // estimate 550 of 1000
    clock.ms += 150;
    expect(quota.admitNow(10)).toBe(true);
    await settle();
    expect(backend.measurements).toBe(2);
  });

  it('a write past the estimate is confirmed with a fresh measurement, however recent the last', async () => {
    const { backend, quota } = setup(100);
    expect(await quota.available(10)).toBe(true);
    backend.size = 995; // grown by writes this member did not admit (e.g. proposed on another member)
    expect(quota.admitNow(900)).toBeUndefined();
    expect(await quota.available(900)).toBe(false);
    expect(backend.measurements).toBe(2);
  });
});

describe('quota flag values', () => {
  it('a negative --quota-backend-bytes disables the quota (etcd: "disabled backend quota")', async () => {
    const srv = await startServer({ args: ['--quota-backend-bytes', '-1'] });
    const c = connect(srv.address);
    try {
      for (let i = 0; i < 5; i++) await call(c.kv, 'put', { key: b(`k${i}`), value: VALUE });
      expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([]);
    } finally {
      c.close();
      await srv.close();
    }
  });
});
