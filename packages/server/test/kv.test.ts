import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect, s } from './helpers.js';

describe.each(['memory', 'level'] as const)('KV over gRPC (%s engine)', (backend) => {
  let srv: StartedServer;
  let c: ReturnType<typeof connect>;
  beforeAll(async () => {
    srv = await startServer({ backend });
    c = connect(srv.address);
  });
  afterAll(async () => {
    c.close();
    await srv.close();
  });

  it('puts and gets with etcd revisions and headers', async () => {
    const put = await call(c.kv, 'put', { key: b('foo'), value: b('bar') });
    expect(put.header.revision).toBe(2);
    expect(put.header.clusterId).toBeGreaterThan(0);
    expect(put.header.memberId).toBeGreaterThan(0);
    expect(put.header.raftTerm).toBeGreaterThan(0);
    const got = await call(c.kv, 'range', { key: b('foo') });
    expect(got.count).toBe(1);
    expect(s(got.kvs[0].value)).toBe('bar');
    expect(got.kvs[0]).toMatchObject({ createRevision: 2, modRevision: 2, version: 1 });
    const prev = await call(c.kv, 'put', { key: b('foo'), value: b('baz'), prevKv: true });
    expect(s(prev.prevKv.value)).toBe('bar');
    const ser = await call(c.kv, 'range', { key: b('foo'), serializable: true });
    expect(s(ser.kvs[0].value)).toBe('baz');
  });

  it('ranges, deletes and reads history', async () => {
    for (const k of ['p1', 'p2', 'p3']) await call(c.kv, 'put', { key: b(k), value: b(`v-${k}`) });
    const r = await call(c.kv, 'range', { key: b('p'), rangeEnd: b('q'), limit: 2 });
    expect(r.kvs.map((kv: { key: Uint8Array }) => s(kv.key))).toEqual(['p1', 'p2']);
    expect(r.more).toBe(true);
    expect(r.count).toBe(3);
    const before = r.header.revision;
    const del = await call(c.kv, 'deleteRange', { key: b('p'), rangeEnd: b('q'), prevKv: true });
    expect(del.deleted).toBe(3);
    expect(del.prevKvs).toHaveLength(3);
    const old = await call(c.kv, 'range', { key: b('p1'), revision: before });
    expect(s(old.kvs[0].value)).toBe('v-p1');
  });

  it('runs txns (write and read-only) with etcd compare semantics', async () => {
    await call(c.kv, 'put', { key: b('t'), value: b('1') });
    const ok = await call(c.kv, 'txn', {
      compare: [{ key: b('t'), target: 3, result: 0, value: b('1') }],
      success: [{ requestPut: { key: b('t'), value: b('2') } }, { requestRange: { key: b('t') } }],
      failure: [],
    });
    expect(ok.succeeded).toBe(true);
    expect(s(ok.responses[1].responseRange.kvs[0].value)).toBe('2');
    const ro = await call(c.kv, 'txn', {
      compare: [{ key: b('missing'), target: 0, result: 0, version: 0 }],
      success: [{ requestRange: { key: b('t') } }],
    });
    expect(ro.succeeded).toBe(true);
    expect(ro.header.revision).toBe(ok.header.revision);
    const fail = await call(c.kv, 'txn', {
      compare: [{ key: b('missing'), target: 3, result: 0, value: b('') }],
      success: [],
      failure: [{ requestDeleteRange: { key: b('t') } }],
    });
    expect(fail.succeeded).toBe(false);
    expect(fail.responses[0].responseDeleteRange.deleted).toBe(1);
  });

  it("rejects bad requests with etcd's codes and messages", async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ['put', { key: b(''), value: b('v') }, status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
      ['range', { key: b('') }, status.INVALID_ARGUMENT, 'etcdserver: key is not provided'],
      [
        'txn',
        { success: [{ requestPut: { key: b('a') } }, { requestPut: { key: b('a') } }] },
        status.INVALID_ARGUMENT,
        'etcdserver: duplicate key given in txn request',
      ],
      [
        'txn',
        { success: Array.from({ length: 129 }, (_, i) => ({ requestPut: { key: b(`k${i}`) } })) },
        status.INVALID_ARGUMENT,
        'etcdserver: too many operations in txn request',
      ],
      [
        'range',
        { key: b('foo'), revision: 100000 },
        status.OUT_OF_RANGE,
        'etcdserver: mvcc: required revision is a future revision',
      ],
      [
        'put',
        { key: b('x'), value: b('v'), lease: 12345n },
        status.NOT_FOUND,
        'etcdserver: requested lease not found',
      ],
      ['put', { key: b('nokey'), ignoreValue: true }, status.INVALID_ARGUMENT, 'etcdserver: key not found'],
    ];
    for (const [method, req, code, msg] of cases) {
      const err = await call(c.kv, method, req).catch((e) => e);
      expect(err.code, `${method} ${msg}`).toBe(code);
      expect(err.details).toBe(msg);
    }
  });

  it('rejects requests over --max-request-bytes', async () => {
    const err = await call(c.kv, 'put', { key: b('big'), value: Buffer.alloc(1_700_000, 1) }).catch((e) => e);
    expect(err.details).toBe('etcdserver: request is too large');
    const ok = await call(c.kv, 'put', { key: b('ok'), value: Buffer.alloc(1_000_000, 1) });
    expect(ok.header.revision).toBeGreaterThan(0);
  });

  it('compacts and refuses compacted revisions', async () => {
    await call(c.kv, 'put', { key: b('c'), value: b('1') });
    const r2 = await call(c.kv, 'put', { key: b('c'), value: b('2') });
    const rev = r2.header.revision;
    await call(c.kv, 'compact', { revision: rev, physical: true });
    const err = await call(c.kv, 'range', { key: b('c'), revision: rev - 1 }).catch((e) => e);
    expect(err.code).toBe(status.OUT_OF_RANGE);
    expect(err.details).toBe('etcdserver: mvcc: required revision has been compacted');
    const again = await call(c.kv, 'compact', { revision: rev }).catch((e) => e);
    expect(again.details).toBe('etcdserver: mvcc: required revision has been compacted');
    const at = await call(c.kv, 'range', { key: b('c'), revision: rev });
    expect(s(at.kvs[0].value)).toBe('2');
  });

  it('serves many concurrent writes in order (batched proposals)', async () => {
    const before = (await call(c.kv, 'range', { key: b('x') })).header.revision;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(c.kv, 'put', { key: b(`batch/${i}`), value: b(String(i)) })),
    );
    const revs = results.map((r) => r.header.revision).sort((x, y) => x - y);
    expect(revs[0]).toBe(before + 1);
    expect(revs[199]).toBe(before + 200);
    expect(new Set(revs).size).toBe(200);
    const all = await call(c.kv, 'range', { key: b('batch/'), rangeEnd: b('batch0'), countOnly: true });
    expect(all.count).toBe(200);
  });
});
