/**
 * The auth store on a real MvccStore (server-owned buckets, batched commits): management semantics and
 * errors as etcd 3.4 answers them, the permission matrix, persistence across a reopen on disk, auth
 * revisions, tokens through Authenticate, and a role revoked while permission checks run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuthError,
  AuthFailedError,
  type AuthInfo,
  AuthNotEnabledError,
  AuthOldRevisionError,
  type AuthRequest,
  AuthStore,
  checkAdmin,
  checkDeleteRange,
  checkLeaseRevoke,
  checkPut,
  checkRange,
  checkTxn,
  checkWatchCreate,
  hashPassword,
  InvalidAuthMgmtError,
  InvalidAuthTokenError,
  PermissionDeniedError,
  PermissionNotGrantedError,
  PermType,
  RoleAlreadyExistError,
  RoleEmptyError,
  RoleNotFoundError,
  RoleNotGrantedError,
  RootRoleNotExistError,
  RootUserNotExistError,
  UserAlreadyExistError,
  UserEmptyError,
  UserNotFoundError,
} from '../src/auth/index.js';

const enc = new TextEncoder();
const b = (s: string) => enc.encode(s);
const FROM_KEY = new Uint8Array([0]);
const COST = 4; // bcrypt's minimum keeps the suite fast; the cost itself is covered in auth-tokens

let mvcc: MvccStore;
let auth: AuthStore;
let index: number;
let hashes: Record<string, string>;

beforeEach(async () => {
  mvcc = await MvccStore.open(await openBackend({ engine: 'memory' }));
  auth = await AuthStore.open(mvcc);
  index = 0;
  hashes = {};
});
afterEach(async () => {
  await mvcc.close();
});

/** Applies one entry like the server: next raft index, the requester's identity from the header. */
function apply(req: AuthRequest, as?: string) {
  const info: AuthInfo | undefined =
    as === undefined ? undefined : { username: as, revision: auth.revision() };
  return auth.apply(req, { index: ++index, authInfo: info });
}

/** Runs `fn` expecting the typed error with etcd's exact message and gRPC code. */
function expectAuthError(fn: () => unknown, cls: new () => AuthError, message: string, code: Status) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(cls);
  expect((caught as AuthError).message).toBe(message);
  expect((caught as AuthError).code).toBe(code);
}

async function addUser(name: string, password: string) {
  hashes[name] ??= await hashPassword(password, COST);
  return apply({ authUserAdd: { name, hashedPassword: hashes[name] } });
}

describe('auth management (etcd 3.4 semantics)', () => {
  it('refuses auth enable without a root user, or when root lacks the root role', async () => {
    expectAuthError(
      () => apply({ authEnable: {} }),
      RootUserNotExistError,
      'etcdserver: root user does not exist',
      Status.FAILED_PRECONDITION,
    );
    await addUser('root', 'rootpw');
    expectAuthError(
      () => apply({ authEnable: {} }),
      RootRoleNotExistError,
      'etcdserver: root user does not have root role',
      Status.FAILED_PRECONDITION,
    );
    // The root role can be granted without existing as a role, as in etcd ("role list" stays empty).
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
    expect(apply({ authRoleList: {} }).roles).toEqual([]);
    apply({ authEnable: {} });
    expect(auth.isEnabled()).toBe(true);
    expect(apply({ authEnable: {} }, 'root')).toEqual({}); // already enabled: a no-op
  });

  it("answers every management error with etcd's message and code", async () => {
    await addUser('u', 'p');
    expectAuthError(
      () => apply({ authUserAdd: { name: 'u', hashedPassword: hashes.u } }),
      UserAlreadyExistError,
      'etcdserver: user name already exists',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authUserAdd: { name: '', hashedPassword: hashes.u } }),
      UserEmptyError,
      'etcdserver: user name is empty',
      Status.INVALID_ARGUMENT,
    );
    apply({ authRoleAdd: { name: 'r' } });
    expectAuthError(
      () => apply({ authRoleAdd: { name: 'r' } }),
      RoleAlreadyExistError,
      'etcdserver: role name already exists',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authRoleAdd: { name: '' } }),
      RoleEmptyError,
      'etcdserver: role name is empty',
      Status.INVALID_ARGUMENT,
    );
    expectAuthError(
      () => apply({ authUserGrantRole: { user: 'u', role: 'nope' } }),
      RoleNotFoundError,
      'etcdserver: role name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authUserGrantRole: { user: 'nope', role: 'r' } }),
      UserNotFoundError,
      'etcdserver: user name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authUserRevokeRole: { name: 'u', role: 'r' } }),
      RoleNotGrantedError,
      'etcdserver: role is not granted to the user',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authRoleRevokePermission: { role: 'r', key: b('/x') } }),
      PermissionNotGrantedError,
      'etcdserver: permission is not granted to the role',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authRoleRevokePermission: { role: 'nope', key: b('/x') } }),
      RoleNotFoundError,
      'etcdserver: role name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authUserGet: { name: 'nobody' } }),
      UserNotFoundError,
      'etcdserver: user name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authUserDelete: { name: 'nobody' } }),
      UserNotFoundError,
      'etcdserver: user name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authRoleDelete: { role: 'nope' } }),
      RoleNotFoundError,
      'etcdserver: role name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authRoleGet: { role: 'root' } }),
      RoleNotFoundError,
      'etcdserver: role name not found',
      Status.FAILED_PRECONDITION,
    );
    expectAuthError(
      () => apply({ authenticate: { name: 'u', simpleToken: 'x' } }),
      AuthNotEnabledError,
      'etcdserver: authentication is not enabled',
      Status.FAILED_PRECONDITION,
    );
    // A user-add entry without a proposer-side hash is refused (no bcrypt in apply).
    expectAuthError(
      () => apply({ authUserAdd: { name: 'plain', password: 'pw' } }),
      InvalidAuthMgmtError,
      'etcdserver: invalid auth management',
      Status.INVALID_ARGUMENT,
    );
  });

  it('lists, gets, grants and revokes like etcd (sorted roles, idempotent grant, permission order)', async () => {
    await addUser('u', 'p');
    apply({ authUserAdd: { name: 'nopw', options: { noPassword: true } } });
    for (const r of ['zeta', 'alpha']) apply({ authRoleAdd: { name: r } });
    apply({ authUserGrantRole: { user: 'u', role: 'zeta' } });
    apply({ authUserGrantRole: { user: 'u', role: 'alpha' } });
    const rev = auth.revision();
    apply({ authUserGrantRole: { user: 'u', role: 'alpha' } }); // repeated grant: ignored
    expect(auth.revision()).toBe(rev);
    expect(apply({ authUserGet: { name: 'u' } }).roles).toEqual(['alpha', 'zeta']);
    expect(apply({ authUserList: {} }).users).toEqual(['nopw', 'u']);
    expect(apply({ authRoleList: {} }).roles).toEqual(['alpha', 'zeta']);
    // etcd's own example: read /a from-key, write [/a, z), readwrite prefix /b/, write /a.
    apply({
      authRoleGrantPermission: {
        name: 'alpha',
        perm: { permType: PermType.READ, key: b('/a'), rangeEnd: FROM_KEY },
      },
    });
    apply({
      authRoleGrantPermission: {
        name: 'alpha',
        perm: { permType: PermType.WRITE, key: b('/a'), rangeEnd: b('z') },
      },
    });
    apply({
      authRoleGrantPermission: {
        name: 'alpha',
        perm: { permType: PermType.READWRITE, key: b('/b/'), rangeEnd: b('/b0') },
      },
    });
    apply({ authRoleGrantPermission: { name: 'alpha', perm: { permType: PermType.WRITE, key: b('/a') } } });
    const perms = apply({ authRoleGet: { role: 'alpha' } }).perm!;
    const show = perms.map(
      (p) => `${p.permType}:${Buffer.from(p.key)}:${Buffer.from(p.rangeEnd).toString('hex')}`,
    );
    expect(show).toEqual([
      '0:/a:00',
      `1:/a:${Buffer.from('z').toString('hex')}`,
      '1:/a:',
      `2:/b/:${Buffer.from('/b0').toString('hex')}`,
    ]);
    // Granting the same (key, range_end) again updates the type in place.
    apply({
      authRoleGrantPermission: { name: 'alpha', perm: { permType: PermType.READWRITE, key: b('/a') } },
    });
    expect(
      apply({ authRoleGet: { role: 'alpha' } }).perm!.filter((p) => p.rangeEnd.length === 0)[0]!.permType,
    ).toBe(PermType.READWRITE);
    apply({ authRoleRevokePermission: { role: 'alpha', key: b('/a'), rangeEnd: b('z') } });
    expect(apply({ authRoleGet: { role: 'alpha' } }).perm).toHaveLength(3);
    // Deleting a role takes it away from its users.
    apply({ authRoleDelete: { role: 'zeta' } });
    expect(apply({ authUserGet: { name: 'u' } }).roles).toEqual(['alpha']);
    apply({ authUserRevokeRole: { name: 'u', role: 'alpha' } });
    expect(apply({ authUserGet: { name: 'u' } }).roles).toEqual([]);
  });

  it('protects root while enabled and requires the root role for management', async () => {
    await addUser('root', 'rootpw');
    await addUser('u', 'p');
    apply({ authRoleAdd: { name: 'root' } });
    apply({ authRoleAdd: { name: 'r' } });
    apply({ authRoleAdd: { name: 'r2' } });
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
    apply({ authUserGrantRole: { user: 'u', role: 'r' } });
    apply({ authEnable: {} });
    const IA = Status.INVALID_ARGUMENT;
    expectAuthError(
      () => apply({ authUserDelete: { name: 'root' } }, 'root'),
      InvalidAuthMgmtError,
      'etcdserver: invalid auth management',
      IA,
    );
    expectAuthError(
      () => apply({ authUserRevokeRole: { name: 'root', role: 'root' } }, 'root'),
      InvalidAuthMgmtError,
      'etcdserver: invalid auth management',
      IA,
    );
    expectAuthError(
      () => apply({ authRoleDelete: { role: 'root' } }, 'root'),
      InvalidAuthMgmtError,
      'etcdserver: invalid auth management',
      IA,
    );
    // Non-root users: management is denied; getting oneself and one's own roles is allowed (3.4.23).
    const PD = Status.PERMISSION_DENIED;
    expectAuthError(
      () => apply({ authUserList: {} }, 'u'),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    expectAuthError(
      () => apply({ authDisable: {} }, 'u'),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    expectAuthError(
      () => apply({ authUserChangePassword: { name: 'u', hashedPassword: hashes.u } }, 'u'),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    expectAuthError(
      () => apply({ authUserGet: { name: 'root' } }, 'u'),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    expectAuthError(
      () => apply({ authRoleGet: { role: 'r2' } }, 'u'),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    expect(apply({ authUserGet: { name: 'u' } }, 'u').roles).toEqual(['r']);
    expect(apply({ authRoleGet: { role: 'r' } }, 'u').perm).toEqual([]);
    expectAuthError(() => apply({ authUserList: {} }), UserEmptyError, 'etcdserver: user name is empty', IA);
    expectAuthError(
      () => apply({ authUserList: {} }, 'ghost'),
      UserNotFoundError,
      'etcdserver: user name not found',
      Status.FAILED_PRECONDITION,
    );
    expect(apply({ authStatus: {} })).toEqual({ enabled: true, authRevision: auth.revision() });
    expectAuthError(
      () => checkAdmin(auth, { username: 'u', revision: auth.revision() }),
      PermissionDeniedError,
      'etcdserver: permission denied',
      PD,
    );
    checkAdmin(auth, { username: 'root', revision: auth.revision() });
    // Root may disable; then the protections lift.
    apply({ authDisable: {} }, 'root');
    expect(auth.isEnabled()).toBe(false);
    checkAdmin(auth, undefined);
    apply({ authUserRevokeRole: { name: 'root', role: 'root' } });
    apply({ authUserDelete: { name: 'root' } });
  });

  it('counts the auth revision like etcd: every change +1, enable and no-ops +0, disable +1', async () => {
    expect(auth.revision()).toBe(1);
    const steps: [AuthRequest, number][] = [
      [{ authRoleAdd: { name: 'root' } }, 1],
      [{ authUserAdd: { name: 'root', options: { noPassword: true } } }, 1],
      [{ authUserGrantRole: { user: 'root', role: 'root' } }, 1],
      [{ authUserGrantRole: { user: 'root', role: 'root' } }, 0],
      [{ authUserList: {} }, 0],
      [{ authEnable: {} }, 0],
      [{ authRoleGrantPermission: { name: 'root', perm: { permType: PermType.READ, key: b('k') } } }, 1],
      [{ authDisable: {} }, 1],
      [{ authDisable: {} }, 0],
    ];
    for (const [req, delta] of steps) {
      const before = auth.revision();
      apply(req, 'root');
      expect(auth.revision() - before, JSON.stringify(Object.keys(req))).toBe(delta);
    }
  });
});

describe('permission matrix', () => {
  // users -> what they may do; the expectations are written out by hand, not derived from the code.
  const KEYS = ['/app/x', '/alice/key', '/w/b', '/w/z', '/zz', '/other'];
  const CAN: Record<string, { read: string[]; write: string[] }> = {
    root: { read: KEYS, write: KEYS },
    alice: { read: ['/app/x', '/alice/key'], write: ['/alice/key'] },
    bob: { read: [], write: ['/w/b'] },
    dave: { read: ['/zz'], write: ['/zz'] },
    eve: { read: [], write: [] },
  };

  beforeEach(async () => {
    for (const u of Object.keys(CAN)) await addUser(u, `${u}pw`);
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
    const role = (name: string, perms: [PermType, string, Uint8Array?][]) => {
      apply({ authRoleAdd: { name } });
      for (const [t, k, end] of perms)
        apply({ authRoleGrantPermission: { name, perm: { permType: t, key: b(k), rangeEnd: end } } });
    };
    role('app-reader', [[PermType.READ, '/app/', b('/app0')]]);
    role('alice-rw', [[PermType.READWRITE, '/alice/key']]);
    role('writer', [[PermType.WRITE, '/w/a', b('/w/m')]]);
    role('fromkey', [[PermType.READWRITE, '/z', FROM_KEY]]);
    apply({ authUserGrantRole: { user: 'alice', role: 'app-reader' } });
    apply({ authUserGrantRole: { user: 'alice', role: 'alice-rw' } });
    apply({ authUserGrantRole: { user: 'bob', role: 'writer' } });
    apply({ authUserGrantRole: { user: 'dave', role: 'fromkey' } });
    apply({ authEnable: {} });
  });

  const me = (u: string): AuthInfo => ({ username: u, revision: auth.revision() });

  /** Each operation on one key, and the permissions it needs. */
  const OPS: { name: string; needs: ('read' | 'write')[]; run: (u: string, k: Uint8Array) => void }[] = [
    { name: 'Range', needs: ['read'], run: (u, k) => checkRange(auth, me(u), { key: k }) },
    { name: 'Put', needs: ['write'], run: (u, k) => checkPut(auth, me(u), { key: k }) },
    {
      name: 'Put prev_kv',
      needs: ['read', 'write'],
      run: (u, k) => checkPut(auth, me(u), { key: k, prevKv: true }),
    },
    { name: 'DeleteRange', needs: ['write'], run: (u, k) => checkDeleteRange(auth, me(u), { key: k }) },
    {
      name: 'DeleteRange prev_kv',
      needs: ['read', 'write'],
      run: (u, k) => checkDeleteRange(auth, me(u), { key: k, prevKv: true }),
    },
    {
      name: 'Txn compare+put',
      needs: ['read', 'write'],
      run: (u, k) => checkTxn(auth, me(u), { compare: [{ key: k }], success: [{ requestPut: { key: k } }] }),
    },
    {
      name: 'Txn failure range',
      needs: ['read'],
      run: (u, k) => checkTxn(auth, me(u), { failure: [{ requestRange: { key: k } }] }),
    },
    {
      name: 'Txn nested delete',
      needs: ['write'],
      run: (u, k) =>
        checkTxn(auth, me(u), {
          success: [{ requestTxn: { failure: [{ requestDeleteRange: { key: k } }] } }],
        }),
    },
    { name: 'Watch create', needs: ['read'], run: (u, k) => checkWatchCreate(auth, me(u), { key: k }) },
    { name: 'LeaseRevoke', needs: ['write'], run: (u, k) => checkLeaseRevoke(auth, me(u), [k]) },
    {
      name: 'Put with lease',
      needs: ['write'],
      run: (u, k) => checkPut(auth, me(u), { key: b('/alice/key'), lease: 7 }, () => [k]),
    },
  ];

  it('allows exactly what each user\'s roles grant, with "etcdserver: permission denied" otherwise', () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const [user, can] of Object.entries(CAN)) {
      for (const key of KEYS) {
        for (const op of OPS) {
          // "Put with lease" writes /alice/key and needs write on the lease's key too.
          const needs = op.name === 'Put with lease' ? [key, '/alice/key'] : [key];
          const allowed = op.needs.every((n) => needs.every((k) => can[n].includes(k)));
          let got: string;
          try {
            op.run(user, b(key));
            got = 'allow';
          } catch (e) {
            got =
              e instanceof PermissionDeniedError &&
              e.message === 'etcdserver: permission denied' &&
              e.code === Status.PERMISSION_DENIED
                ? 'deny'
                : `error ${String(e)}`;
          }
          checked++;
          if (got !== (allowed ? 'allow' : 'deny')) mismatches.push(`${user} ${op.name} ${key}: got ${got}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(Object.keys(CAN).length * KEYS.length * OPS.length);
  });

  it('checks ranges as a whole: prefix, from-key, merged adjacent grants', () => {
    const range = (u: string, k: string, end: Uint8Array) => () =>
      checkRange(auth, me(u), { key: b(k), rangeEnd: end });
    const del = (u: string, k: string, end: Uint8Array) => () =>
      checkDeleteRange(auth, me(u), { key: b(k), rangeEnd: end });
    expect(range('alice', '/app/', b('/app0'))).not.toThrow();
    expect(range('alice', '/app/a', b('/app/b'))).not.toThrow();
    expect(range('alice', '/app/', b('/b'))).toThrow(PermissionDeniedError);
    expect(range('alice', '', FROM_KEY)).toThrow(PermissionDeniedError);
    expect(range('dave', '/z', FROM_KEY)).not.toThrow();
    expect(range('dave', '/zz', FROM_KEY)).not.toThrow();
    expect(range('dave', '/y', FROM_KEY)).toThrow(PermissionDeniedError);
    expect(range('root', '', FROM_KEY)).not.toThrow();
    expect(del('bob', '/w/a', b('/w/m'))).not.toThrow();
    expect(del('bob', '/w/a', b('/w/n'))).toThrow(PermissionDeniedError);
    apply(
      {
        authRoleGrantPermission: {
          name: 'writer',
          perm: { permType: PermType.WRITE, key: b('/w/m'), rangeEnd: b('/w/p') },
        },
      },
      'root',
    );
    expect(del('bob', '/w/a', b('/w/n'))).not.toThrow(); // [/w/a,/w/m) + [/w/m,/w/p) cover it together
    expect(del('bob', '/w/a', b('/w/q'))).toThrow(PermissionDeniedError);
    // An inverted range (range_end < key) is denied to non-root users.
    expect(range('alice', '/app/z', b('/app/a'))).toThrow(PermissionDeniedError);
    expect(range('root', '/app/z', b('/app/a'))).not.toThrow();
    // A single-key grant covers exactly that key.
    expect(range('alice', '/alice/key', b('/alice/key\0'))).not.toThrow();
    expect(range('alice', '/alice/key', b('/alice/kez'))).toThrow(PermissionDeniedError);
  });

  it('needs a user ("user name is empty") and a current auth revision ("revision of auth store is old")', () => {
    expectAuthError(
      () => checkRange(auth, undefined, { key: b('/app/x') }),
      UserEmptyError,
      'etcdserver: user name is empty',
      Status.INVALID_ARGUMENT,
    );
    const stale = me('alice');
    apply({ authRoleAdd: { name: 'unrelated' } }, 'root');
    expectAuthError(
      () => checkRange(auth, stale, { key: b('/app/x') }),
      AuthOldRevisionError,
      'etcdserver: revision of auth store is old',
      Status.INVALID_ARGUMENT,
    );
    expectAuthError(
      () => checkRange(auth, me('ghost'), { key: b('/app/x') }),
      PermissionDeniedError,
      'etcdserver: permission denied',
      Status.PERMISSION_DENIED,
    );
    // A lease without keys needs nothing, as in etcd.
    checkLeaseRevoke(auth, undefined, []);
  });

  it('allows everything once auth is disabled, and sees permission changes at once', () => {
    expect(() => checkPut(auth, me('alice'), { key: b('/app/x') })).toThrow(PermissionDeniedError);
    apply(
      {
        authRoleGrantPermission: {
          name: 'app-reader',
          perm: { permType: PermType.READWRITE, key: b('/app/'), rangeEnd: b('/app0') },
        },
      },
      'root',
    );
    checkPut(auth, me('alice'), { key: b('/app/x') });
    apply({ authUserRevokeRole: { name: 'alice', role: 'app-reader' } }, 'root');
    expect(() => checkRange(auth, me('alice'), { key: b('/app/x') })).toThrow(PermissionDeniedError);
    apply({ authDisable: {} }, 'root');
    checkPut(auth, undefined, { key: b('/anything') });
    checkTxn(auth, undefined, {
      compare: [{ key: b('/x') }],
      success: [{ requestDeleteRange: { key: b(''), rangeEnd: FROM_KEY } }],
    });
  });
});

describe('authentication', () => {
  beforeEach(async () => {
    await addUser('root', 'rootpw');
    await addUser('alice', 'alicepw');
    apply({ authUserAdd: { name: 'cert-only', options: { noPassword: true } } });
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
  });

  async function login(name: string, password: string): Promise<string> {
    await auth.checkPassword(name, password);
    return apply({ authenticate: { name, simpleToken: auth.genTokenPrefix() } }).token!;
  }

  it('checks passwords with bcrypt and issues etcd-shaped simple tokens', async () => {
    await expect(auth.checkPassword('alice', 'alicepw')).rejects.toBeInstanceOf(AuthNotEnabledError);
    apply({ authEnable: {} });
    expect(await auth.checkPassword('alice', 'alicepw')).toBe(auth.revision());
    for (const [u, p] of [
      ['alice', 'wrong'],
      ['nobody', 'x'],
      ['cert-only', ''],
    ]) {
      await expect(auth.checkPassword(u!, p!)).rejects.toMatchObject({
        message: 'etcdserver: authentication failed, invalid user ID or password',
        code: Status.INVALID_ARGUMENT,
      });
    }
    const token = await login('alice', 'alicepw');
    expect(token).toMatch(new RegExp(`^[a-zA-Z]{16}\\.${index}$`));
    expect(auth.authInfoFromToken(token)).toEqual({ username: 'alice', revision: auth.revision() });
    expect(auth.authInfoFromToken(undefined)).toBeUndefined();
    expect(() => auth.authInfoFromToken('forged.1')).toThrow(InvalidAuthTokenError);
    expect(() => auth.authInfoFromToken('forged.1')).toThrow('etcdserver: invalid auth token');
    expectAuthError(
      () => apply({ authenticate: { name: 'cert-only', simpleToken: 'x' } }),
      AuthFailedError,
      'etcdserver: authentication failed, invalid user ID or password',
      Status.INVALID_ARGUMENT,
    );
  });

  it('drops tokens when the user is deleted, the password changes, or auth is disabled', async () => {
    apply({ authEnable: {} });
    const t1 = await login('alice', 'alicepw');
    const rootTok = await login('root', 'rootpw');
    const newHash = await hashPassword('alicepw2', COST);
    apply({ authUserChangePassword: { name: 'alice', hashedPassword: newHash } }, 'root');
    expect(() => auth.authInfoFromToken(t1)).toThrow(InvalidAuthTokenError);
    await expect(auth.checkPassword('alice', 'alicepw')).rejects.toBeInstanceOf(AuthFailedError);
    const t2 = await login('alice', 'alicepw2');
    expect(auth.authInfoFromToken(t2)?.username).toBe('alice');
    apply({ authUserDelete: { name: 'alice' } }, 'root');
    expect(() => auth.authInfoFromToken(t2)).toThrow(InvalidAuthTokenError);
    expect(auth.authInfoFromToken(rootTok)?.username).toBe('root');
    apply({ authDisable: {} }, 'root');
    apply({ authEnable: {} });
    expect(() => auth.authInfoFromToken(rootTok)).toThrow(InvalidAuthTokenError);
  });

  it('fails Authenticate in apply when the user vanished after the password check', async () => {
    apply({ authEnable: {} });
    const checkedAt = await auth.checkPassword('alice', 'alicepw');
    apply({ authUserDelete: { name: 'alice' } }, 'root');
    expect(auth.revision()).toBeGreaterThan(checkedAt); // the server retries on this, as etcd does
    expect(() => apply({ authenticate: { name: 'alice', simpleToken: 'abc' } })).toThrow(AuthFailedError);
  });
});

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kv-auth-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rebuilds users, roles, permissions, enabled flag and revision from the buckets after a reopen on disk', async () => {
    const open = async () => MvccStore.open(await openBackend({ engine: 'level', path: dir }));
    let store = await open();
    let a = await AuthStore.open(store);
    let i = 0;
    const ap = (req: AuthRequest) =>
      a.apply(req, { index: ++i, authInfo: { username: 'root', revision: a.revision() } });
    ap({ authUserAdd: { name: 'root', hashedPassword: await hashPassword('rootpw', COST) } });
    ap({ authUserAdd: { name: 'alice', hashedPassword: await hashPassword('alicepw', COST) } });
    ap({ authUserAdd: { name: 'gone', options: { noPassword: true } } });
    ap({ authRoleAdd: { name: 'reader' } });
    ap({ authRoleAdd: { name: 'tmp' } });
    ap({
      authRoleGrantPermission: {
        name: 'reader',
        perm: { permType: PermType.READ, key: b('/app/'), rangeEnd: b('/app0') },
      },
    });
    ap({
      authRoleGrantPermission: {
        name: 'reader',
        perm: { permType: PermType.READWRITE, key: b('/alice/key') },
      },
    });
    ap({ authUserGrantRole: { user: 'alice', role: 'reader' } });
    ap({ authUserGrantRole: { user: 'root', role: 'root' } });
    ap({ authUserDelete: { name: 'gone' } });
    ap({ authRoleDelete: { role: 'tmp' } });
    ap({ authEnable: {} });
    const rev = a.revision();
    await store.close(); // flushes the batched commit
    store = await open();
    expect(store.consistentIndex()).toBe(i); // auth writes carried their raft index
    a = await AuthStore.open(store);
    expect(a.isEnabled()).toBe(true);
    expect(a.revision()).toBe(rev);
    const info = (u: string) => ({ authInfo: { username: u, revision: a.revision() }, index: ++i });
    expect(a.apply({ authUserList: {} }, info('root')).users).toEqual(['alice', 'root']);
    expect(a.apply({ authRoleList: {} }, info('root')).roles).toEqual(['reader']);
    expect(a.apply({ authUserGet: { name: 'alice' } }, info('root')).roles).toEqual(['reader']);
    expect(a.apply({ authRoleGet: { role: 'reader' } }, info('root')).perm).toHaveLength(2);
    expect(a.isRangePermitted('alice', b('/app/x'), undefined, 'read')).toBe(true);
    expect(a.isRangePermitted('alice', b('/app/x'), undefined, 'write')).toBe(false);
    expect(a.isRangePermitted('alice', b('/alice/key'), undefined, 'write')).toBe(true);
    expect(await a.checkPassword('alice', 'alicepw')).toBe(rev);
    await store.close();
  });
});

describe('reload (raft snapshot restored into the backend)', () => {
  it("picks up the backend's state and drops tokens of users that no longer exist", async () => {
    await addUser('root', 'rootpw');
    await addUser('alice', 'alicepw');
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
    apply({ authEnable: {} });
    // A second store on the same backend stands for "the state in the snapshot".
    const other = await AuthStore.open(mvcc);
    await auth.checkPassword('alice', 'alicepw');
    const aliceTok = apply({ authenticate: { name: 'alice', simpleToken: auth.genTokenPrefix() } }).token!;
    const rootTok = apply({ authenticate: { name: 'root', simpleToken: auth.genTokenPrefix() } }).token!;
    other.apply(
      { authUserDelete: { name: 'alice' } },
      { index: ++index, authInfo: { username: 'root', revision: other.revision() } },
    );
    other.apply(
      { authRoleAdd: { name: 'fresh' } },
      { index: ++index, authInfo: { username: 'root', revision: other.revision() } },
    );
    await auth.reload();
    expect(auth.revision()).toBe(other.revision());
    expect(apply({ authRoleList: {} }, 'root').roles).toEqual(['fresh']);
    expect(() => auth.authInfoFromToken(aliceTok)).toThrow(InvalidAuthTokenError);
    expect(auth.authInfoFromToken(rootTok)?.username).toBe('root');
    other.apply(
      { authDisable: {} },
      { index: ++index, authInfo: { username: 'root', revision: other.revision() } },
    );
    await auth.reload();
    expect(auth.isEnabled()).toBe(false);
    apply({ authEnable: {} });
    expect(() => auth.authInfoFromToken(rootTok)).toThrow(InvalidAuthTokenError);
  });
});

describe('concurrency', () => {
  it('never lets a check pass after the role is revoked, while revokes and grants race with traffic', async () => {
    await addUser('root', 'rootpw');
    await addUser('worker', 'pw');
    apply({ authUserGrantRole: { user: 'root', role: 'root' } });
    apply({ authRoleAdd: { name: 'jobs' } });
    apply({
      authRoleGrantPermission: {
        name: 'jobs',
        perm: { permType: PermType.READWRITE, key: b('/jobs/'), rangeEnd: b('/jobs0') },
      },
    });
    apply({ authUserGrantRole: { user: 'worker', role: 'jobs' } });
    apply({ authEnable: {} });

    let granted = true; // the truth, updated synchronously with each apply
    let stop = false;
    const wrong: string[] = [];
    let allowed = 0;
    let denied = 0;
    let stale = 0;
    const worker = async (n: number) => {
      let info: AuthInfo = { username: 'worker', revision: auth.revision() };
      let k = 0;
      while (!stop) {
        const key = b(`/jobs/${n}/${k++}`);
        try {
          checkTxn(auth, info, {
            compare: [{ key }],
            success: [{ requestPut: { key } }],
            failure: [{ requestRange: { key } }],
          });
          if (!granted) wrong.push(`allowed after revoke at rev ${info.revision}`);
          allowed++;
        } catch (e) {
          if (e instanceof AuthOldRevisionError) {
            stale++; // like a client: re-resolve the token at the new revision and retry
            info = { username: 'worker', revision: auth.revision() };
          } else if (e instanceof PermissionDeniedError) {
            if (granted) wrong.push('denied while granted');
            denied++;
          } else {
            wrong.push(String(e));
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    };
    const admin = async () => {
      for (let round = 0; round < 60; round++) {
        apply({ authUserRevokeRole: { name: 'worker', role: 'jobs' } }, 'root');
        granted = false;
        await new Promise((r) => setTimeout(r, 1));
        apply({ authUserGrantRole: { user: 'worker', role: 'jobs' } }, 'root');
        granted = true;
        await new Promise((r) => setTimeout(r, 1));
      }
      stop = true;
    };
    await Promise.all([worker(1), worker(2), worker(3), admin()]);
    expect(wrong).toEqual([]);
    expect(allowed).toBeGreaterThan(0);
    expect(denied).toBeGreaterThan(0);
    expect(stale).toBeGreaterThan(0);
  });
});
