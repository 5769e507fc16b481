import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect, readSnapshot } from './helpers.js';

describe('Cluster and Maintenance over gRPC', () => {
  let srv: StartedServer;
  let c: ReturnType<typeof connect>;
  beforeAll(async () => {
    srv = await startServer({ backend: 'level' });
    c = connect(srv.address);
  });
  afterAll(async () => {
    c.close();
    await srv.close();
  });

  it('lists the single member and reports status', async () => {
    const list = await call(c.cluster, 'memberList', {});
    expect(list.members).toHaveLength(1);
    expect(list.members[0]).toMatchObject({ name: 'default', isLearner: false });
    expect(list.members[0].clientURLs).toEqual([srv.endpoint]);
    const st = await call(c.maintenance, 'status', {});
    expect(st.version).toBe('3.4.23');
    expect(st.leader).toBe(list.members[0].ID);
    expect(st.raftAppliedIndex).toBeGreaterThan(0);
    expect(st.dbSize).toBeGreaterThan(0);
  });

  it('adds, updates and removes a learner; refuses promotion of an unsynced learner', async () => {
    const add = await call(c.cluster, 'memberAdd', { peerURLs: ['http://127.0.0.1:1'], isLearner: true });
    expect(add.member.isLearner).toBe(true);
    expect(add.members).toHaveLength(2);
    const promote = await call(c.cluster, 'memberPromote', { ID: add.member.ID }).catch((e) => e);
    expect(promote.details).toBe(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );
    await call(c.cluster, 'memberUpdate', { ID: add.member.ID, peerURLs: ['http://127.0.0.1:2'] });
    const dupe = await call(c.cluster, 'memberAdd', { peerURLs: ['http://127.0.0.1:2'] }).catch((e) => e);
    expect(dupe.details).toBe('etcdserver: Peer URLs already exists');
    await call(c.cluster, 'memberRemove', { ID: add.member.ID });
    const gone = await call(c.cluster, 'memberRemove', { ID: add.member.ID }).catch((e) => e);
    expect(gone.details).toBe('etcdserver: member not found');
    expect((await call(c.cluster, 'memberList', {})).members).toHaveLength(1);
    const bad = await call(c.cluster, 'memberAdd', { peerURLs: ['not a url'] }).catch((e) => e);
    expect(bad.details).toBe('etcdserver: given member URLs are invalid');
  });

  it('hashes, defragments, lists alarms and moves leadership to itself', async () => {
    await call(c.kv, 'put', { key: b('h'), value: b('1') });
    const h1 = await call(c.maintenance, 'hashKV', { revision: 0 });
    const h2 = await call(c.maintenance, 'hashKV', { revision: 0 });
    expect(h1.hash).toBe(h2.hash);
    expect(h1.compactRevision).toBe(-1);
    await call(c.kv, 'put', { key: b('h'), value: b('2') });
    expect((await call(c.maintenance, 'hashKV', { revision: 0 })).hash).not.toBe(h1.hash);
    expect((await call(c.maintenance, 'hash', {})).hash).toBeGreaterThan(0);
    await call(c.maintenance, 'defragment', {});
    expect((await call(c.maintenance, 'alarm', { action: 0 })).alarms).toEqual([]);
    const st = await call(c.maintenance, 'status', {});
    await call(c.maintenance, 'moveLeader', { targetID: st.leader });
    const bad = await call(c.maintenance, 'moveLeader', { targetID: 99n }).catch((e) => e);
    expect(bad.details).toBe('etcdserver: bad leader transferee');
  });

  it('streams a snapshot that ends with the SHA-256 of the (512-aligned) body', async () => {
    const all = await readSnapshot(c.maintenance);
    expect(all.length % 512).toBe(32);
    const body = all.subarray(0, all.length - 32);
    expect(
      createHash('sha256')
        .update(body)
        .digest()
        .equals(all.subarray(all.length - 32)),
    ).toBe(true);
  });

  it('answers grpc.health.v1 Check with SERVING', async () => {
    const grpc = await import('@grpc/grpc-js');
    const def = {
      check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (v: Buffer) => v,
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (v: Buffer) => v,
      },
    };
    const Ctor = grpc.makeGenericClientConstructor(def as never, 'Health');
    const health = new Ctor(srv.address, grpc.credentials.createInsecure());
    const resp: Buffer = await call(health, 'check', Buffer.alloc(0));
    expect([...resp]).toEqual([0x08, 1]);
    health.close();
  });

  it('answers Auth calls with auth disabled (the RBAC matrix is in auth-server.test.ts)', async () => {
    const { AuthService } = await import('@kv/client/api');
    const grpc = await import('@grpc/grpc-js');
    const Ctor = grpc.makeGenericClientConstructor(AuthService as never, 'Auth');
    const auth = new Ctor(srv.address, grpc.credentials.createInsecure());
    expect((await call(auth, 'authStatus', {})).enabled).toBe(false);
    const e = await call(auth, 'authenticate', { name: 'root', password: 'x' }).catch((err) => err);
    expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(e.details).toBe('etcdserver: authentication is not enabled');
    auth.close();
    expect((await call(c.kv, 'range', { key: b('h') })).count).toBe(1);
  });
});
