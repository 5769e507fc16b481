/**
 * Auth wired into kv-server, exercised over real gRPC (and the JSON gateway) against embedded servers:
 * a permission matrix with etcd's exact codes and messages, admin-only APIs, Lock/Election as the
 * caller, simple-token expiry, JWT tokens, auth state across a restart, a role revoked and re-granted
 * under traffic, and the Authenticate rate limit.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  AuthService,
  ElectionService,
  LockService,
  Permission_Type,
  type WatchResponse,
} from '@kv/client/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityResolver } from '../src/api/identity.js';
import { parseArgs } from '../src/config/parse.js';
import { type StartedServer, startServer } from '../src/embed.js';
import { b, connect, sleep } from './helpers.js';

// biome-ignore lint/suspicious/noExplicitAny: generic grpc-js clients
type Any = any;

const S = grpc.status;
const DENIED = `${S.PERMISSION_DENIED} etcdserver: permission denied`;
const NO_USER = `${S.INVALID_ARGUMENT} etcdserver: user name is empty`;
/** A denied Watch create: etcd 3.4 puts the gRPC status error's text in cancel_reason. */
const WATCH_DENIED = `${S.PERMISSION_DENIED} rpc error: code = PermissionDenied desc = etcdserver: permission denied`;
const OK = 'ok';

/** All clients of one server, including Auth, Lock and Election. */
function clients(address: string) {
  const base = connect(address);
  const make = (def: Any, name: string) =>
    new (grpc.makeGenericClientConstructor(def, name))(address, grpc.credentials.createInsecure()) as Any;
  const auth = make(AuthService, 'Auth');
  const lock = make(LockService, 'Lock');
  const election = make(ElectionService, 'Election');
  return {
    ...base,
    auth,
    lock,
    election,
    close() {
      base.close();
      for (const c of [auth, lock, election]) c.close();
    },
  };
}

const md = (token?: string) => {
  const m = new grpc.Metadata();
  if (token) m.set('token', token);
  return m;
};

/** A unary call with an optional token. */
function rpc<T = Any>(client: Any, method: string, req: unknown, token?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](req, md(token), (err: grpc.ServiceError | null, resp: T) =>
      err ? reject(err) : resolve(resp),
    );
  });
}

/** 'ok', or "<code> <details>" of the failure. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return OK;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return `${e.code} ${e.details}`;
  }
}

/** Opens a watch on `key` and returns the first response (created, or created + canceled). */
function firstWatchResponse(watch: Any, key: string, token?: string): Promise<WatchResponse> {
  return new Promise((resolve, reject) => {
    const stream = watch.watch(md(token));
    const timer = setTimeout(() => reject(new Error('no watch response')), 5000);
    stream.on('data', (r: WatchResponse) => {
      clearTimeout(timer);
      stream.cancel();
      resolve(r);
    });
    stream.on('error', () => {});
    stream.write({ createRequest: { key: b(key) } });
  });
}

async function login(c: ReturnType<typeof clients>, name: string, password: string): Promise<string> {
  const r = await rpc<{ token: string }>(c.auth, 'authenticate', { name, password });
  return r.token;
}

const prefixEnd = (p: string) => b(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1));

/** root + roles/users of the matrix; returns nothing, leaves auth enabled. */
async function setUpRbac(c: ReturnType<typeof clients>): Promise<void> {
  const a = c.auth;
  await rpc(a, 'userAdd', { name: 'root', password: 'rootpw' });
  await rpc(a, 'userGrantRole', { user: 'root', role: 'root' });
  for (const [name, pw] of [
    ['alice', 'alicepw'],
    ['bob', 'bobpw'],
    ['carol', 'carolpw'],
  ]) {
    await rpc(a, 'userAdd', { name, password: pw });
  }
  await rpc(a, 'roleAdd', { name: 'app-rw' });
  await rpc(a, 'roleGrantPermission', {
    name: 'app-rw',
    perm: { permType: Permission_Type.READWRITE, key: b('/app/'), rangeEnd: prefixEnd('/app/') },
  });
  await rpc(a, 'roleAdd', { name: 'shared-r' });
  await rpc(a, 'roleGrantPermission', {
    name: 'shared-r',
    perm: { permType: Permission_Type.READ, key: b('/shared'), rangeEnd: new Uint8Array(0) },
  });
  await rpc(a, 'roleAdd', { name: 'logs-w' });
  await rpc(a, 'roleGrantPermission', {
    name: 'logs-w',
    perm: { permType: Permission_Type.WRITE, key: b('/logs/'), rangeEnd: prefixEnd('/logs/') },
  });
  await rpc(a, 'userGrantRole', { user: 'alice', role: 'app-rw' });
  await rpc(a, 'userGrantRole', { user: 'alice', role: 'shared-r' });
  await rpc(a, 'userGrantRole', { user: 'bob', role: 'shared-r' });
  await rpc(a, 'userGrantRole', { user: 'bob', role: 'logs-w' });
  for (const k of ['/app/a', '/shared', '/logs/l', '/other']) {
    await rpc(c.kv, 'put', { key: b(k), value: b('v0') });
  }
  await rpc(a, 'authEnable', {});
}

describe('auth over gRPC: permission matrix', () => {
  let srv: StartedServer;
  let c: ReturnType<typeof clients>;
  const tokens: Record<string, string | undefined> = {};

  beforeAll(async () => {
    srv = await startServer({ args: ['--bcrypt-cost', '4'] });
    c = clients(srv.address);
    await setUpRbac(c);
    tokens.root = await login(c, 'root', 'rootpw');
    tokens.alice = await login(c, 'alice', 'alicepw');
    tokens.bob = await login(c, 'bob', 'bobpw');
    tokens.carol = await login(c, 'carol', 'carolpw');
    tokens.anonymous = undefined;
  });
  afterAll(async () => {
    c.close();
    await srv.close();
  });

  // Written out by hand: r = may read, w = may write.
  const GRANTS: Record<string, Record<string, string>> = {
    root: { '/app/a': 'rw', '/shared': 'rw', '/logs/l': 'rw', '/other': 'rw' },
    alice: { '/app/a': 'rw', '/shared': 'r', '/logs/l': '', '/other': '' },
    bob: { '/app/a': '', '/shared': 'r', '/logs/l': 'w', '/other': '' },
    carol: { '/app/a': '', '/shared': '', '/logs/l': '', '/other': '' },
  };
  const expected = (user: string, key: string, needs: string) => {
    if (user === 'anonymous') return NO_USER;
    const has = GRANTS[user]![key]!;
    return [...needs].every((n) => has.includes(n)) ? OK : DENIED;
  };

  for (const user of ['root', 'alice', 'bob', 'carol', 'anonymous']) {
    for (const key of ['/app/a', '/shared', '/logs/l', '/other']) {
      it(`${user} × ${key}: Range, Put, DeleteRange, Txn and Watch`, async () => {
        const t = tokens[user];
        const got = {
          range: await outcome(rpc(c.kv, 'range', { key: b(key) }, t)),
          rangeSerializable: await outcome(rpc(c.kv, 'range', { key: b(key), serializable: true }, t)),
          put: await outcome(rpc(c.kv, 'put', { key: b(key), value: b(user) }, t)),
          putPrevKv: await outcome(rpc(c.kv, 'put', { key: b(key), value: b(user), prevKv: true }, t)),
          txnCompareAndPut: await outcome(
            rpc(
              c.kv,
              'txn',
              {
                compare: [{ key: b(key), target: 3, result: 0, value: b('nope') }],
                success: [],
                failure: [{ requestPut: { key: b(key), value: b('t') } }],
              },
              t,
            ),
          ),
          readOnlyTxn: await outcome(
            rpc(c.kv, 'txn', { compare: [], success: [{ requestRange: { key: b(key) } }], failure: [] }, t),
          ),
          nestedTxnDelete: await outcome(
            rpc(
              c.kv,
              'txn',
              {
                compare: [],
                success: [
                  {
                    requestTxn: {
                      compare: [],
                      success: [],
                      failure: [{ requestDeleteRange: { key: b('/nope-never-matches') } }],
                    },
                  },
                  { requestDeleteRange: { key: b(key) } },
                ],
                failure: [],
              },
              t,
            ),
          ),
          deleteRange: await outcome(rpc(c.kv, 'deleteRange', { key: b(key) }, t)),
          watch: await firstWatchResponse(c.watch, key, t).then((r) =>
            r.canceled && r.created ? `${S.PERMISSION_DENIED} ${r.cancelReason}` : OK,
          ),
        };
        expect(got).toEqual({
          range: expected(user, key, 'r'),
          rangeSerializable: expected(user, key, 'r'),
          put: expected(user, key, 'w'),
          putPrevKv: expected(user, key, 'rw'),
          txnCompareAndPut: expected(user, key, 'rw'),
          readOnlyTxn: expected(user, key, 'r'),
          // The nested txn deletes a key nobody may write except root: only root passes.
          nestedTxnDelete: user === 'root' ? OK : user === 'anonymous' ? NO_USER : DENIED,
          deleteRange: expected(user, key, 'w'),
          // etcd answers a denied Watch create with created + canceled and the reason (any failure).
          watch: user === 'anonymous' || expected(user, key, 'r') !== OK ? WATCH_DENIED : OK,
        });
      });
    }
  }

  it('ranges: a prefix inside the grant is allowed, one reaching outside is denied', async () => {
    const t = tokens.alice;
    expect(await outcome(rpc(c.kv, 'range', { key: b('/app/'), rangeEnd: prefixEnd('/app/') }, t))).toBe(OK);
    expect(await outcome(rpc(c.kv, 'range', { key: b('/app/x'), rangeEnd: b('/app/y') }, t))).toBe(OK);
    expect(await outcome(rpc(c.kv, 'range', { key: b('/'), rangeEnd: prefixEnd('/') }, t))).toBe(DENIED);
    expect(await outcome(rpc(c.kv, 'range', { key: b('/app/'), rangeEnd: b('\0') }, t))).toBe(DENIED);
  });

  it('LeaseRevoke needs write on every attached key; a Put may not join a lease holding foreign keys', async () => {
    const root = tokens.root;
    const mine = await rpc<{ ID: bigint }>(c.lease, 'leaseGrant', { TTL: 60 }, root);
    const foreign = await rpc<{ ID: bigint }>(c.lease, 'leaseGrant', { TTL: 60 }, root);
    const empty = await rpc<{ ID: bigint }>(c.lease, 'leaseGrant', { TTL: 60 }, root);
    await rpc(c.kv, 'put', { key: b('/app/leased'), value: b('x'), lease: mine.ID }, root);
    await rpc(c.kv, 'put', { key: b('/other/leased'), value: b('x'), lease: foreign.ID }, root);
    expect(await outcome(rpc(c.kv, 'put', { key: b('/app/j'), lease: foreign.ID }, tokens.alice))).toBe(
      DENIED,
    );
    expect(await outcome(rpc(c.lease, 'leaseRevoke', { ID: foreign.ID }, tokens.alice))).toBe(DENIED);
    expect(await outcome(rpc(c.lease, 'leaseRevoke', { ID: mine.ID }, tokens.carol))).toBe(DENIED);
    expect(await outcome(rpc(c.lease, 'leaseRevoke', { ID: mine.ID }, tokens.alice))).toBe(OK);
    // A lease without keys needs no permission (as in etcd).
    expect(await outcome(rpc(c.lease, 'leaseRevoke', { ID: empty.ID }, tokens.carol))).toBe(OK);
    expect(await outcome(rpc(c.lease, 'leaseRevoke', { ID: foreign.ID }))).toBe(NO_USER);
    const left = await rpc(c.kv, 'range', { key: b('/app/leased') }, root);
    expect(left.count).toBe(0);
  });

  it('Snapshot, Defragment, Hash, HashKV are root only, with etcd 3.4 maintenance errors', async () => {
    const maint = async (t?: string) => ({
      defragment: await outcome(rpc(c.maintenance, 'defragment', {}, t)),
      hash: await outcome(rpc(c.maintenance, 'hash', {}, t)),
      hashKV: await outcome(rpc(c.maintenance, 'hashKV', { revision: 0 }, t)),
      snapshot: await outcome(
        new Promise<void>((resolve, reject) => {
          const s = c.maintenance.snapshot({}, md(t));
          s.on('data', () => {});
          s.on('end', () => resolve());
          s.on('error', reject);
        }),
      ),
      status: await outcome(rpc(c.maintenance, 'status', {}, t)),
      alarm: await outcome(rpc(c.maintenance, 'alarm', { action: 0 }, t)),
    });
    const all = (v: string) => ({ defragment: v, hash: v, hashKV: v, snapshot: v, status: OK, alarm: OK });
    expect(await maint(tokens.root)).toEqual(all(OK));
    expect(await maint(tokens.alice)).toEqual(all(`${S.UNKNOWN} auth: permission denied`));
    expect(await maint(undefined)).toEqual(all(`${S.UNKNOWN} auth: user name is empty`));
  });

  it('member changes are root only; MemberList is open to every user', async () => {
    const bogus = { ID: 0x1234n, peerURLs: ['http://127.0.0.1:41999'] };
    expect(await outcome(rpc(c.cluster, 'memberList', {}, tokens.carol))).toBe(OK);
    expect(
      await outcome(rpc(c.cluster, 'memberAdd', { peerURLs: ['http://127.0.0.1:41998'] }, tokens.alice)),
    ).toBe(DENIED);
    expect(await outcome(rpc(c.cluster, 'memberRemove', { ID: 0x1234n }, tokens.alice))).toBe(DENIED);
    expect(await outcome(rpc(c.cluster, 'memberUpdate', bogus, tokens.bob))).toBe(DENIED);
    expect(await outcome(rpc(c.cluster, 'memberPromote', { ID: 0x1234n }))).toBe(NO_USER);
    // root passes the check and reaches the membership logic.
    expect(await outcome(rpc(c.cluster, 'memberUpdate', bogus, tokens.root))).toBe(
      `${S.NOT_FOUND} etcdserver: member not found`,
    );
  });

  it('auth management is root only, except reading oneself and one’s own roles', async () => {
    const t = tokens.alice;
    expect(await outcome(rpc(c.auth, 'userList', {}, t))).toBe(DENIED);
    expect(await outcome(rpc(c.auth, 'userAdd', { name: 'eve', password: 'x' }, t))).toBe(DENIED);
    expect(await outcome(rpc(c.auth, 'userGet', { name: 'bob' }, t))).toBe(DENIED);
    expect(await rpc(c.auth, 'userGet', { name: 'alice' }, t)).toMatchObject({
      roles: ['app-rw', 'shared-r'],
    });
    expect(await outcome(rpc(c.auth, 'roleGet', { role: 'app-rw' }, t))).toBe(OK);
    expect(await outcome(rpc(c.auth, 'roleGet', { role: 'logs-w' }, t))).toBe(DENIED);
    expect(await outcome(rpc(c.auth, 'authDisable', {}, t))).toBe(DENIED);
    expect(await outcome(rpc(c.auth, 'userList', {}))).toBe(NO_USER);
    expect(await rpc(c.auth, 'userList', {}, tokens.root)).toMatchObject({
      users: ['alice', 'bob', 'carol', 'root'],
    });
    expect(await rpc(c.auth, 'authStatus', {}, t)).toMatchObject({ enabled: true });
    // A user without password (for certificate CN auth) cannot log in with one (etcd 3.4.23's text).
    await rpc(c.auth, 'userAdd', { name: 'cn-only', options: { noPassword: true } }, tokens.root);
    expect(await outcome(login(c, 'cn-only', ''))).toBe(
      `${S.UNKNOWN} auth: authentication failed, password was given for no password user`,
    );
    await rpc(c.auth, 'userDelete', { name: 'cn-only' }, tokens.root);
  });

  it('Lock and Election act as the caller (errors as UNKNOWN with etcd’s text, like etcd’s servers)', async () => {
    const held = await rpc<{ key: Buffer }>(c.lock, 'lock', { name: b('/app/lock') }, tokens.alice);
    expect(Buffer.from(held.key).toString()).toMatch(/^\/app\/lock\/[0-9a-f]+$/);
    expect(await outcome(rpc(c.lock, 'unlock', { key: held.key }, tokens.carol))).toBe(
      `${S.UNKNOWN} etcdserver: permission denied`,
    );
    expect(await outcome(rpc(c.lock, 'unlock', { key: held.key }, tokens.alice))).toBe(OK);
    expect(await outcome(rpc(c.lock, 'lock', { name: b('/other/lock') }, tokens.alice))).toBe(
      `${S.UNKNOWN} etcdserver: permission denied`,
    );
    expect(await outcome(rpc(c.lock, 'lock', { name: b('/app/lock') }))).toBe(
      `${S.UNKNOWN} etcdserver: user name is empty`,
    );
    const lease = await rpc<{ ID: bigint }>(c.lease, 'leaseGrant', { TTL: 60 }, tokens.alice);
    const won = await rpc<Any>(
      c.election,
      'campaign',
      { name: b('/app/e'), lease: lease.ID, value: b('v1') },
      tokens.alice,
    );
    expect(Buffer.from(won.leader.key).toString()).toMatch(/^\/app\/e\//);
    const lead = await rpc<Any>(c.election, 'leader', { name: b('/app/e') }, tokens.alice);
    expect(Buffer.from(lead.kv.value).toString()).toBe('v1');
    expect(await outcome(rpc(c.election, 'leader', { name: b('/app/e') }, tokens.bob))).toBe(
      `${S.UNKNOWN} etcdserver: permission denied`,
    );
    expect(
      await outcome(
        rpc(c.election, 'campaign', { name: b('/logs/e'), lease: lease.ID, value: b('x') }, tokens.bob),
      ),
    ).toBe(`${S.UNKNOWN} etcdserver: permission denied`);
    expect(await outcome(rpc(c.election, 'resign', { leader: won.leader }, tokens.alice))).toBe(OK);
  });

  it('the gateway takes the token from Authorization and returns it from /v3/auth/authenticate', async () => {
    const post = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${srv.endpoint}${path}`, {
        method: 'POST',
        headers: token ? { Authorization: token } : {},
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Any };
    };
    const auth = await post('/v3/auth/authenticate', { name: 'alice', password: 'alicepw' });
    expect(auth.status).toBe(200);
    const token = auth.body.token as string;
    expect(token).toMatch(/^[A-Za-z]{16}\.\d+$/);
    const key = Buffer.from('/app/a').toString('base64');
    expect((await post('/v3/kv/range', { key }, token)).status).toBe(200);
    const other = await post('/v3/kv/range', { key: Buffer.from('/other').toString('base64') }, token);
    expect(other).toMatchObject({ status: 403, body: { message: 'etcdserver: permission denied', code: 7 } });
    expect(await post('/v3/kv/range', { key })).toMatchObject({
      status: 400,
      body: { message: 'etcdserver: user name is empty' },
    });
    expect(await post('/v3/kv/range', { key }, 'forged.1')).toMatchObject({
      status: 401,
      body: { message: 'etcdserver: invalid auth token' },
    });
    const locked = await post('/v3/lock/lock', { name: Buffer.from('/app/gw').toString('base64') }, token);
    expect(locked.status).toBe(200);
    expect(Buffer.from(locked.body.key, 'base64').toString()).toMatch(/^\/app\/gw\//);
    const denied = await post('/v3/lock/lock', { name: Buffer.from('/x/gw').toString('base64') }, token);
    expect(denied).toMatchObject({ status: 500, body: { message: 'etcdserver: permission denied' } });
    expect((await post('/v3/lock/unlock', { key: locked.body.key }, token)).status).toBe(200);
  });

  it('serves the election routes on the gateway as the caller, Observe streamed', async () => {
    const token = (
      await rpc<{ token: string }>(c.auth, 'authenticate', { name: 'alice', password: 'alicepw' })
    ).token;
    const post = (path: string, body: unknown, t?: string) =>
      fetch(`${srv.endpoint}${path}`, {
        method: 'POST',
        headers: t ? { Authorization: t } : {},
        body: JSON.stringify(body),
      });
    const name = Buffer.from('/app/gw-e').toString('base64');
    const lease = await rpc<{ ID: bigint }>(c.lease, 'leaseGrant', { TTL: 60 }, token);
    const camp = await post('/v3/election/campaign', { name, lease: String(lease.ID), value: 'YQ==' }, token);
    expect(camp.status).toBe(200);
    const leader = ((await camp.json()) as Any).leader;
    expect((await post('/v3/election/proclaim', { leader, value: 'Yg==' }, token)).status).toBe(200);
    const got = (await (await post('/v3/election/leader', { name }, token)).json()) as Any;
    expect(Buffer.from(got.kv.value, 'base64').toString()).toBe('b');
    // Observe: the first streamed line is the current leader.
    const ac = new AbortController();
    const obs = await fetch(`${srv.endpoint}/v3/election/observe`, {
      method: 'POST',
      headers: { Authorization: token },
      body: JSON.stringify({ name }),
      signal: ac.signal,
    });
    const reader = obs.body!.getReader();
    let text = '';
    while (!text.includes('\n')) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const first = JSON.parse(text.split('\n')[0]!).result;
    expect(Buffer.from(first.kv.value, 'base64').toString()).toBe('b');
    const denied = await post('/v3/election/leader', { name }, undefined);
    expect(denied.status).toBe(500);
    expect(((await denied.json()) as Any).message).toBe('etcdserver: user name is empty');
    expect((await post('/v3/election/resign', { leader }, token)).status).toBe(200);
  });

  it('resolves identities: a token wins, else a certificate CN at the current revision', async () => {
    const auth = srv.server.etcd.auth;
    const resolver = new IdentityResolver(auth);
    expect(resolver.resolve(tokens.alice, 'bob')).toEqual({ username: 'alice', revision: auth.revision() });
    expect(resolver.resolve(undefined, 'bob')).toEqual({ username: 'bob', revision: auth.revision() });
    expect(resolver.resolve('', undefined)).toBeUndefined();
    expect(() => resolver.resolve('forged.7', 'bob')).toThrow('etcdserver: invalid auth token');
    // Without TLS a gRPC call has no peer certificate: only the token counts.
    const m = md(tokens.bob);
    expect(resolver.fromGrpcCall({ metadata: m, getAuthContext: () => ({}) })).toEqual({
      authInfo: { username: 'bob', revision: auth.revision() },
    });
  });
});

describe('auth over gRPC: tokens', () => {
  it('a simple token expires after --auth-token-ttl without use (etcd: invalid auth token)', async () => {
    const srv = await startServer({ args: ['--bcrypt-cost', '4', '--auth-token-ttl', '1'] });
    const c = clients(srv.address);
    try {
      await setUpRbac(c);
      const t = await login(c, 'alice', 'alicepw');
      // Each use renews the TTL: 3 uses 600 ms apart outlive one TTL.
      for (let i = 0; i < 3; i++) {
        expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, t))).toBe(OK);
        await sleep(600);
      }
      await sleep(1300);
      expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, t))).toBe(
        `${S.UNAUTHENTICATED} etcdserver: invalid auth token`,
      );
      expect(await outcome(rpc(c.kv, 'put', { key: b('/app/a'), value: b('x') }, t))).toBe(
        `${S.UNAUTHENTICATED} etcdserver: invalid auth token`,
      );
      const again = await login(c, 'alice', 'alicepw');
      expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, again))).toBe(OK);
    } finally {
      c.close();
      await srv.close();
    }
  });

  it('a JWT server issues RS256 tokens that go stale with the auth revision', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-jwt-'));
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'priv.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const spec = `jwt,pub-key=${join(dir, 'pub.pem')},priv-key=${join(dir, 'priv.pem')},sign-method=RS256,ttl=5m`;
    const srv = await startServer({ args: ['--bcrypt-cost', '4', '--auth-token', spec] });
    const c = clients(srv.address);
    try {
      await setUpRbac(c);
      const t = await login(c, 'alice', 'alicepw');
      const [h, claims] = t
        .split('.')
        .slice(0, 2)
        .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
      expect(h).toMatchObject({ alg: 'RS256' });
      expect(claims).toMatchObject({ username: 'alice', revision: expect.any(Number) });
      expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, t))).toBe(OK);
      const tampered = `${t.split('.')[0]}.${Buffer.from(JSON.stringify({ ...claims, username: 'root' })).toString('base64url')}.${t.split('.')[2]}`;
      expect(await outcome(rpc(c.kv, 'range', { key: b('/other') }, tampered))).toBe(
        `${S.UNAUTHENTICATED} etcdserver: invalid auth token`,
      );
      const root = await login(c, 'root', 'rootpw');
      await rpc(c.auth, 'roleAdd', { name: 'extra' }, root);
      // The JWT carries the revision it was issued at: any auth change makes it stale (as in etcd).
      expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, t))).toBe(
        `${S.INVALID_ARGUMENT} etcdserver: revision of auth store is old`,
      );
      const fresh = await login(c, 'alice', 'alicepw');
      expect(await outcome(rpc(c.kv, 'put', { key: b('/app/a'), value: b('j') }, fresh))).toBe(OK);
    } finally {
      c.close();
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rate-limits failed passwords per user (etcdserver: too many requests), then recovers', async () => {
    const srv = await startServer({ args: ['--bcrypt-cost', '4'] });
    const c = clients(srv.address);
    try {
      await setUpRbac(c);
      const bad = () => outcome(rpc(c.auth, 'authenticate', { name: 'alice', password: 'wrong' }));
      const FAILED = `${S.INVALID_ARGUMENT} etcdserver: authentication failed, invalid user ID or password`;
      const LIMITED = `${S.RESOURCE_EXHAUSTED} etcdserver: too many requests`;
      const results = [];
      for (let i = 0; i < 7; i++) results.push(await bad());
      expect(results).toEqual([FAILED, FAILED, FAILED, FAILED, FAILED, LIMITED, LIMITED]);
      // Even the right password waits for the bucket; another user is not affected.
      expect(await outcome(login(c, 'alice', 'alicepw'))).toBe(LIMITED);
      expect(await outcome(login(c, 'bob', 'bobpw'))).toBe(OK);
      await sleep(1100);
      expect(await outcome(login(c, 'alice', 'alicepw'))).toBe(OK);
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe('auth over gRPC: durability and concurrency', () => {
  // level keeps the buckets on disk; memory rebuilds them from a snapshot's backend dump (then
  // auth.reload()) plus WAL replay, which --snapshot-count 5 forces.
  it.each([
    ['level', []],
    ['memory', ['--snapshot-count', '5']],
  ] as const)('auth state survives a restart (%s backend)', async (backend, extra) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kv-auth-restart-'));
    try {
      let srv = await startServer({ backend, dataDir, args: ['--bcrypt-cost', '4', ...extra] });
      let c = clients(srv.address);
      await setUpRbac(c);
      const rev = (await rpc(c.auth, 'authStatus', {}, await login(c, 'root', 'rootpw'))).authRevision;
      c.close();
      await srv.close();

      srv = await startServer({ backend, dataDir, args: ['--bcrypt-cost', '4', ...extra] });
      c = clients(srv.address);
      try {
        expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }))).toBe(NO_USER);
        const alice = await login(c, 'alice', 'alicepw');
        expect(await outcome(rpc(c.kv, 'range', { key: b('/app/a') }, alice))).toBe(OK);
        expect(await outcome(rpc(c.kv, 'range', { key: b('/other') }, alice))).toBe(DENIED);
        const root = await login(c, 'root', 'rootpw');
        expect(await rpc(c.auth, 'authStatus', {}, root)).toMatchObject({ enabled: true, authRevision: rev });
        expect(await rpc(c.auth, 'roleGet', { role: 'app-rw' }, root)).toMatchObject({
          perm: [{ permType: Permission_Type.READWRITE }],
        });
        expect(await outcome(login(c, 'alice', 'wrong'))).toBe(
          `${S.INVALID_ARGUMENT} etcdserver: authentication failed, invalid user ID or password`,
        );
      } finally {
        c.close();
        await srv.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a role revoked and re-granted during traffic: no write lands while it is revoked', async () => {
    const srv = await startServer({ args: ['--bcrypt-cost', '4'] });
    const c = clients(srv.address);
    try {
      await setUpRbac(c);
      const root = await login(c, 'root', 'rootpw');
      const alice = await login(c, 'alice', 'alicepw');
      // Windows (by wall clock) in which the role was certainly revoked / certainly granted.
      const revoked: Array<[number, number]> = [];
      const granted: Array<[number, number]> = [];
      let stop = false;
      const admin = (async () => {
        let grantedSince = performance.now();
        for (let i = 0; i < 15; i++) {
          await sleep(15);
          const beforeRevoke = performance.now();
          granted.push([grantedSince, beforeRevoke]);
          await rpc(c.auth, 'userRevokeRole', { name: 'alice', role: 'app-rw' }, root);
          const revokedAt = performance.now();
          await sleep(15);
          const beforeGrant = performance.now();
          revoked.push([revokedAt, beforeGrant]);
          await rpc(c.auth, 'userGrantRole', { user: 'alice', role: 'app-rw' }, root);
          grantedSince = performance.now();
        }
        stop = true;
      })();
      const ops: Array<{ key: string; sent: number; done: number; result: string }> = [];
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const key = `/app/w${w}-${i}`;
          const sent = performance.now();
          const result = await outcome(rpc(c.kv, 'put', { key: b(key), value: b('x') }, alice));
          ops.push({ key, sent, done: performance.now(), result });
        }
      };
      await Promise.all([admin, worker(1), worker(2), worker(3)]);
      const within = (o: { sent: number; done: number }, [from, to]: [number, number]) =>
        o.sent >= from && o.done <= to;
      const inRevoked = ops.filter((o) => revoked.some((win) => within(o, win)));
      const inGranted = ops.filter((o) => granted.some((win) => within(o, win)));
      expect(inRevoked.length).toBeGreaterThan(10);
      expect(inGranted.length).toBeGreaterThan(10);
      for (const o of inRevoked) expect(o.result).toBe(DENIED);
      for (const o of inGranted) expect(o.result).toBe(OK);
      // Only acknowledged writes exist in the store, and every acknowledged one does.
      const stored = await rpc<Any>(
        c.kv,
        'range',
        { key: b('/app/w'), rangeEnd: b('/app/x'), keysOnly: true },
        root,
      );
      const keys = new Set<string>(stored.kvs.map((kv: Any) => Buffer.from(kv.key).toString()));
      const mismatched = ops.filter((o) => keys.has(o.key) !== (o.result === OK));
      expect(mismatched).toEqual([]);
      // A denial in flight across a change may also read "revision of auth store is old".
      const other = ops.filter(
        (o) =>
          o.result !== OK &&
          o.result !== DENIED &&
          o.result !== `${S.INVALID_ARGUMENT} etcdserver: revision of auth store is old`,
      );
      expect(other).toEqual([]);
    } finally {
      c.close();
      await srv.close();
    }
  });
});

describe('auth flags', () => {
  const base = ['--name', 'n', '--initial-cluster', 'n=http://127.0.0.1:41380'];
  const config = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = parseArgs([...base, ...argv], env);
    if (r.action !== 'run') throw new Error('expected a run configuration');
    return r.config;
  };

  it("has etcd's defaults and reads flags and ETCD_* variables", () => {
    expect(config([])).toMatchObject({ authToken: 'simple', authTokenTtl: 300, bcryptCost: 10 });
    expect(config(['--auth-token-ttl', '5', '--bcrypt-cost=4'])).toMatchObject({
      authTokenTtl: 5,
      bcryptCost: 4,
    });
    const spec = 'jwt,pub-key=/k.pub,priv-key=/k,sign-method=RS256,ttl=10m';
    expect(config([], { ETCD_AUTH_TOKEN: spec, ETCD_AUTH_TOKEN_TTL: '60' })).toMatchObject({
      authToken: spec,
      authTokenTtl: 60,
    });
  });

  it('refuses a malformed --auth-token and a bcrypt cost outside 4..31', () => {
    expect(() => config(['--auth-token', 'magic'])).toThrow('invalid value "magic" for flag -auth-token');
    expect(() => config(['--auth-token', 'jwt,pub-key=/k'])).toThrow('sign-method is required');
    expect(() => config(['--bcrypt-cost', '3'])).toThrow('invalid bcrypt-cost 3');
    expect(() => config(['--bcrypt-cost', '32'])).toThrow('invalid bcrypt-cost 32');
  });
});
