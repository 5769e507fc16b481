/**
 * The auth store: etcd's users, roles and key-range permissions as a deterministic state machine.
 *
 * Every member applies the same auth entries in raft order through {@link AuthStore.apply}, which is
 * synchronous, reads no clock and draws no randomness (the Authenticate token prefix and password hashes
 * arrive in the request, fixed by the proposer). Each change is written through {@link AuthBackend} with
 * the entry's raft index, so it lands in the same backend commit as the consistent index, and
 * {@link AuthStore.open} rebuilds the state from those buckets.
 *
 * Reads (permission checks, token lookups) are synchronous too, so in Node's single thread a check never
 * sees half an update: a check either runs before an apply or after it.
 */
import type {
  AuthDisableRequest,
  AuthEnableRequest,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGrantPermissionRequest,
  AuthRoleListRequest,
  AuthRoleRevokePermissionRequest,
  AuthStatusRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGrantRoleRequest,
  AuthUserListRequest,
  AuthUserRevokeRoleRequest,
  DeepPartial,
  InternalAuthenticateRequest,
} from '@kv/client/api';
import { bytesToKey } from '@kv/mvcc';
import {
  AuthFailedError,
  AuthNotEnabledError,
  AuthOldRevisionError,
  AuthRateLimitedError,
  InvalidAuthMgmtError,
  InvalidAuthTokenError,
  PermissionDeniedError,
  PermissionNotGivenError,
  PermissionNotGrantedError,
  RoleAlreadyExistError,
  RoleEmptyError,
  RoleNotFoundError,
  RoleNotGrantedError,
  RootRoleNotExistError,
  RootUserNotExistError,
  UserAlreadyExistError,
  UserEmptyError,
  UserNotFoundError,
} from './errors.js';
import { normaliseHashedPassword, verifyPassword } from './password.js';
import {
  AUTH_BUCKET,
  type AuthBackend,
  decodeRevision,
  decodeRole,
  decodeUser,
  ENABLED_KEY,
  encodeRevision,
  encodeRole,
  encodeUser,
  type KeyPermission,
  nameBytes,
  PermType,
  REVISION_KEY,
  ROLES_BUCKET,
  type RoleRecord,
  USERS_BUCKET,
  type UserRecord,
} from './persistence.js';
import { IntervalSet, toInterval } from './ranges.js';
import { AuthRateLimiter, type RateLimiterOptions } from './rate-limit.js';
import type { TokenProvider } from './tokens/provider.js';
import { SimpleTokenProvider } from './tokens/simple.js';

/** The user and role with every permission. */
export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** The identity a request carries (etcd's AuthInfo; RequestHeader.username / auth_revision). */
export interface AuthInfo {
  username: string;
  /** Auth revision the token was resolved at; 0 means "no user". */
  revision: number;
}

/** Read or write access. */
export type AccessKind = 'read' | 'write';

/**
 * One auth request as it travels in raft (the auth fields of etcdserverpb.InternalRaftRequest);
 * exactly one field is set.
 */
export interface AuthRequest {
  authEnable?: DeepPartial<AuthEnableRequest>;
  authDisable?: DeepPartial<AuthDisableRequest>;
  authStatus?: DeepPartial<AuthStatusRequest>;
  authenticate?: DeepPartial<InternalAuthenticateRequest>;
  authUserAdd?: DeepPartial<AuthUserAddRequest>;
  authUserDelete?: DeepPartial<AuthUserDeleteRequest>;
  authUserGet?: DeepPartial<AuthUserGetRequest>;
  authUserChangePassword?: DeepPartial<AuthUserChangePasswordRequest>;
  authUserGrantRole?: DeepPartial<AuthUserGrantRoleRequest>;
  authUserRevokeRole?: DeepPartial<AuthUserRevokeRoleRequest>;
  authUserList?: DeepPartial<AuthUserListRequest>;
  authRoleList?: DeepPartial<AuthRoleListRequest>;
  authRoleAdd?: DeepPartial<AuthRoleAddRequest>;
  authRoleDelete?: DeepPartial<AuthRoleDeleteRequest>;
  authRoleGet?: DeepPartial<AuthRoleGetRequest>;
  authRoleGrantPermission?: DeepPartial<AuthRoleGrantPermissionRequest>;
  authRoleRevokePermission?: DeepPartial<AuthRoleRevokePermissionRequest>;
}

/** Names of the fields of {@link AuthRequest}. */
export const AUTH_REQUEST_FIELDS = [
  'authEnable',
  'authDisable',
  'authStatus',
  'authenticate',
  'authUserAdd',
  'authUserDelete',
  'authUserGet',
  'authUserChangePassword',
  'authUserGrantRole',
  'authUserRevokeRole',
  'authUserList',
  'authRoleList',
  'authRoleAdd',
  'authRoleDelete',
  'authRoleGet',
  'authRoleGrantPermission',
  'authRoleRevokePermission',
] as const satisfies readonly (keyof AuthRequest)[];

/** The body of the response (the server adds the header); fields as in the etcd response messages. */
export interface AuthResponseBody {
  /** AuthStatus. */
  enabled?: boolean;
  authRevision?: number;
  /** Authenticate. */
  token?: string;
  /** UserGet, RoleList. */
  roles?: string[];
  /** UserList. */
  users?: string[];
  /** RoleGet. */
  perm?: KeyPermission[];
}

/** Where an entry comes from. */
export interface AuthApplyContext {
  /** Raft index of the entry (persisted with the change as the consistent index). */
  index: number;
  /** The requester (RequestHeader.username/auth_revision); undefined when the request carried none. */
  authInfo?: AuthInfo;
}

/** Options of {@link AuthStore.open}. */
export interface AuthStoreOptions {
  /** Token provider (default: simple tokens, TTL 300 s). */
  tokenProvider?: TokenProvider;
  /** Authenticate rate limiting; false disables it. */
  rateLimit?: RateLimiterOptions | false;
}

/** Per-user union of permissions. */
interface MergedPerms {
  read: IntervalSet;
  write: IntervalSet;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const str = (s: string | undefined) => s ?? '';

/** etcd's auth store. */
export class AuthStore {
  private enabled = false;
  private rev = 0;
  private users = new Map<string, UserRecord>();
  private roles = new Map<string, RoleRecord>();
  /** Merged permissions per user, valid for `cacheRev` only (cleared on any revision change). */
  private cache = new Map<string, MergedPerms>();
  private cacheRev = -1;
  /** The token provider in use. */
  readonly tokens: TokenProvider;
  private readonly limiter?: AuthRateLimiter;

  private constructor(
    private readonly backend: AuthBackend,
    opts: AuthStoreOptions,
  ) {
    this.tokens = opts.tokenProvider ?? new SimpleTokenProvider();
    if (opts.rateLimit !== false) this.limiter = new AuthRateLimiter(opts.rateLimit ?? {});
  }

  /** Loads the auth state from `backend` (empty buckets: auth disabled, revision 1 like etcd). */
  static async open(backend: AuthBackend, opts: AuthStoreOptions = {}): Promise<AuthStore> {
    const s = new AuthStore(backend, opts);
    await s.load();
    return s;
  }

  /**
   * Re-reads everything from the backend (after the server restored a raft snapshot into it, like
   * etcd's authStore.Recover). Tokens stay valid only if auth is still enabled and their user still
   * exists.
   */
  async reload(): Promise<void> {
    const wasEnabled = this.enabled;
    const before = [...this.users.keys()];
    await this.load();
    if (wasEnabled && !this.enabled) this.tokens.disable();
    for (const name of before) if (!this.users.has(name)) this.tokens.invalidateUser(name);
  }

  /** Reads the buckets into fresh maps, then swaps them in at once: no check sees a half-loaded state. */
  private async load(): Promise<void> {
    let enabled = false;
    let rev = 0;
    const users = new Map<string, UserRecord>();
    const roles = new Map<string, RoleRecord>();
    for (const [k, v] of await this.backend.rangeMeta(AUTH_BUCKET)) {
      if (bytesEqual(k, ENABLED_KEY)) enabled = v.length === 1 && v[0] === 1;
      else if (bytesEqual(k, REVISION_KEY)) rev = decodeRevision(v);
    }
    for (const [, v] of await this.backend.rangeMeta(USERS_BUCKET)) {
      const u = decodeUser(v);
      users.set(u.name, u);
    }
    for (const [, v] of await this.backend.rangeMeta(ROLES_BUCKET)) {
      const r = decodeRole(v);
      roles.set(r.name, r);
    }
    // etcd starts the auth revision at 1 (0 would read as "no user" in permission checks). Written
    // without an index: it is not a raft entry, and every member derives the same value.
    if (rev === 0) {
      rev = 1;
      this.backend.putMeta(AUTH_BUCKET, REVISION_KEY, encodeRevision(1));
    }
    this.enabled = enabled;
    this.rev = rev;
    this.users = users;
    this.roles = roles;
    this.cacheRev = -1;
    if (enabled) this.tokens.enable();
  }

  // ---- state -------------------------------------------------------------------------------------

  /** Whether auth is enabled. */
  isEnabled(): boolean {
    return this.enabled;
  }

  /** The auth revision: bumped by every change of users, roles, permissions, and by AuthDisable. */
  revision(): number {
    return this.rev;
  }

  /** A copy of a user, or undefined. */
  getUser(name: string): UserRecord | undefined {
    const u = this.users.get(name);
    return u && { ...u, roles: [...u.roles] };
  }

  /** True when `name` exists and holds the root role. */
  hasRootRole(name: string): boolean {
    return this.users.get(name)?.roles.includes(ROOT_ROLE) ?? false;
  }

  // ---- authentication (API layer, before proposing) ------------------------------------------------

  /** A random token prefix for InternalAuthenticateRequest.simple_token (chosen by the proposer). */
  genTokenPrefix(): string {
    return this.tokens.genTokenPrefix();
  }

  /**
   * Checks a password off the apply path (etcd's CheckPassword): failed attempts are rate-limited per
   * user ({@link AuthRateLimitedError} before any bcrypt work), bcrypt compare runs in async chunks. Returns the auth revision the check was made at; the server proposes Authenticate
   * and, like etcd, retries when the revision changed meanwhile.
   */
  async checkPassword(name: string, password: string): Promise<number> {
    if (!this.enabled) throw new AuthNotEnabledError();
    if (this.limiter && !this.limiter.take(name)) throw new AuthRateLimitedError();
    const rev = this.rev;
    const user = this.users.get(name);
    if (!user || user.noPassword) throw new AuthFailedError();
    if (!(await verifyPassword(password, user.passwordHash))) throw new AuthFailedError();
    this.limiter?.refund(name); // only failed attempts count
    return rev;
  }

  /**
   * Resolves a request's token (gRPC metadata "token" / gateway "Authorization") to its identity
   * (etcd's AuthInfoFromCtx). Undefined when auth is disabled or no token was sent.
   */
  authInfoFromToken(token: string | undefined): AuthInfo | undefined {
    if (!this.enabled || token === undefined || token === '') return undefined;
    const info = this.tokens.info(token, this.rev);
    if (!info) throw new InvalidAuthTokenError();
    return info;
  }

  // ---- permission checks ---------------------------------------------------------------------------

  /**
   * Raw range check, ignoring whether auth is enabled: may `user` read/write every key of
   * (key, rangeEnd)? Root-role users may do anything; unknown users nothing.
   */
  isRangePermitted(
    user: string,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined | null,
    kind: AccessKind,
  ): boolean {
    const u = this.users.get(user);
    if (!u) return false;
    if (u.roles.includes(ROOT_ROLE)) return true;
    const iv = toInterval(key, rangeEnd);
    if (!iv) return false; // range_end <= key: nothing a grant can cover; deny rather than guess
    const perms = this.merged(u);
    return (kind === 'read' ? perms.read : perms.write).contains(iv);
  }

  /**
   * etcd's isOpPermitted: no-op with auth disabled; otherwise the request must carry a user (else
   * "user name is empty"), be checked at the current auth revision (else "revision of auth store is
   * old"), and the user must hold the permission (else "permission denied").
   */
  checkOp(
    info: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined | null,
    kind: AccessKind,
  ): void {
    if (!this.enabled) return;
    if (!info || info.revision === 0) throw new UserEmptyError();
    if (info.revision < this.rev) throw new AuthOldRevisionError();
    if (!this.isRangePermitted(info.username, key, rangeEnd, kind)) throw new PermissionDeniedError();
  }

  /**
   * etcd's IsAdminPermitted (Snapshot, Defragment, member APIs, alarms, auth management): with auth
   * enabled the user must exist and hold the root role.
   */
  checkAdmin(info: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (!info || info.username === '') throw new UserEmptyError();
    const u = this.users.get(info.username);
    if (!u) throw new UserNotFoundError();
    if (!u.roles.includes(ROOT_ROLE)) throw new PermissionDeniedError();
  }

  private merged(u: UserRecord): MergedPerms {
    if (this.cacheRev !== this.rev) {
      this.cache = new Map();
      this.cacheRev = this.rev;
    }
    let m = this.cache.get(u.name);
    if (!m) {
      const read = [];
      const write = [];
      for (const roleName of u.roles) {
        for (const p of this.roles.get(roleName)?.perms ?? []) {
          const iv = toInterval(p.key, p.rangeEnd);
          if (!iv) continue;
          if (p.permType === PermType.READ || p.permType === PermType.READWRITE) read.push(iv);
          if (p.permType === PermType.WRITE || p.permType === PermType.READWRITE) write.push(iv);
        }
      }
      m = { read: new IntervalSet(read), write: new IntervalSet(write) };
      this.cache.set(u.name, m);
    }
    return m;
  }

  // ---- apply ---------------------------------------------------------------------------------------

  /**
   * Applies one auth entry and returns the response body, or throws a typed {@link AuthError}. With
   * auth enabled, management requests need the root role (etcd's needAdminPermission); UserGet of
   * oneself and RoleGet of one's own role are allowed to anyone (etcd 3.4.23 behaviour).
   */
  apply(req: AuthRequest, ctx: AuthApplyContext): AuthResponseBody {
    this.checkApplyPermission(req, ctx.authInfo);
    if (req.authEnable) return this.authEnable(ctx);
    if (req.authDisable) return this.authDisable(ctx);
    if (req.authStatus) return { enabled: this.enabled, authRevision: this.rev };
    if (req.authenticate) return this.authenticate(req.authenticate, ctx);
    if (req.authUserAdd) return this.userAdd(req.authUserAdd, ctx);
    if (req.authUserDelete) return this.userDelete(str(req.authUserDelete.name), ctx);
    if (req.authUserGet) return { roles: [...this.mustUser(str(req.authUserGet.name)).roles] };
    if (req.authUserChangePassword) return this.userChangePassword(req.authUserChangePassword, ctx);
    if (req.authUserGrantRole)
      return this.userGrantRole(str(req.authUserGrantRole.user), str(req.authUserGrantRole.role), ctx);
    if (req.authUserRevokeRole)
      return this.userRevokeRole(str(req.authUserRevokeRole.name), str(req.authUserRevokeRole.role), ctx);
    if (req.authUserList) return { users: [...this.users.keys()].sort() };
    if (req.authRoleList) return { roles: [...this.roles.keys()].sort() };
    if (req.authRoleAdd) return this.roleAdd(str(req.authRoleAdd.name), ctx);
    if (req.authRoleDelete) return this.roleDelete(str(req.authRoleDelete.role), ctx);
    if (req.authRoleGet) return { perm: this.mustRole(str(req.authRoleGet.role)).perms.map(copyPerm) };
    if (req.authRoleGrantPermission) return this.roleGrantPermission(req.authRoleGrantPermission, ctx);
    if (req.authRoleRevokePermission) return this.roleRevokePermission(req.authRoleRevokePermission, ctx);
    throw new InvalidAuthMgmtError();
  }

  private checkApplyPermission(req: AuthRequest, info: AuthInfo | undefined): void {
    if (!this.enabled || req.authenticate || req.authStatus) return;
    if (
      req.authUserGet &&
      info &&
      str(req.authUserGet.name) === info.username &&
      this.users.has(info.username)
    )
      return;
    if (req.authRoleGet && info && this.users.get(info.username)?.roles.includes(str(req.authRoleGet.role)))
      return;
    this.checkAdmin(info);
  }

  private authEnable(ctx: AuthApplyContext): AuthResponseBody {
    if (this.enabled) {
      this.backend.putMeta(AUTH_BUCKET, ENABLED_KEY, new Uint8Array([1]), ctx); // idempotent, records the index
      return {};
    }
    const root = this.users.get(ROOT_USER);
    if (!root) throw new RootUserNotExistError();
    if (!root.roles.includes(ROOT_ROLE)) throw new RootRoleNotExistError();
    this.backend.putMeta(AUTH_BUCKET, ENABLED_KEY, new Uint8Array([1]), ctx);
    this.enabled = true;
    this.tokens.enable();
    return {};
  }

  private authDisable(ctx: AuthApplyContext): AuthResponseBody {
    if (!this.enabled) return {};
    this.backend.putMeta(AUTH_BUCKET, ENABLED_KEY, new Uint8Array([0]), ctx);
    this.commitRevision(ctx);
    this.enabled = false;
    this.tokens.disable();
    return {};
  }

  private authenticate(r: DeepPartial<InternalAuthenticateRequest>, ctx: AuthApplyContext): AuthResponseBody {
    if (!this.enabled) throw new AuthNotEnabledError();
    const name = str(r.name);
    const user = this.users.get(name);
    // The password itself was checked by the proposer (checkPassword); a user deleted or switched to
    // no-password in between fails here, on every member alike.
    if (!user || user.noPassword) throw new AuthFailedError();
    const token = this.tokens.assign(name, this.rev, { index: ctx.index, simpleToken: str(r.simpleToken) });
    return { token };
  }

  private userAdd(r: DeepPartial<AuthUserAddRequest>, ctx: AuthApplyContext): AuthResponseBody {
    const name = str(r.name);
    if (name === '') throw new UserEmptyError();
    if (this.users.has(name)) throw new UserAlreadyExistError();
    const noPassword = r.options?.noPassword ?? false;
    let passwordHash = '';
    if (!noPassword) {
      // Hashing is the proposer's job (hashPassword); an entry without a usable hash would make every
      // member do bcrypt in apply, so it is refused instead.
      passwordHash = normaliseHashedPassword(str(r.hashedPassword)) ?? '';
      if (passwordHash === '') throw new InvalidAuthMgmtError();
    }
    this.putUser({ name, passwordHash, roles: [], noPassword }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  private userDelete(name: string, ctx: AuthApplyContext): AuthResponseBody {
    if (this.enabled && name === ROOT_USER) throw new InvalidAuthMgmtError();
    if (!this.users.has(name)) throw new UserNotFoundError();
    this.users.delete(name);
    this.backend.deleteMeta(USERS_BUCKET, nameBytes(name), ctx);
    this.commitRevision(ctx);
    this.tokens.invalidateUser(name);
    return {};
  }

  private userChangePassword(
    r: DeepPartial<AuthUserChangePasswordRequest>,
    ctx: AuthApplyContext,
  ): AuthResponseBody {
    const user = this.mustUser(str(r.name));
    const passwordHash = normaliseHashedPassword(str(r.hashedPassword));
    if (!passwordHash) throw new InvalidAuthMgmtError(); // the proposer must hash (hashPassword)
    this.putUser({ ...user, passwordHash, noPassword: false }, ctx);
    this.commitRevision(ctx);
    this.tokens.invalidateUser(user.name);
    return {};
  }

  private userGrantRole(userName: string, role: string, ctx: AuthApplyContext): AuthResponseBody {
    const user = this.mustUser(userName);
    // The root role may be granted before it exists as a role (etcd: it is implicit).
    if (role !== ROOT_ROLE) this.mustRole(role);
    if (user.roles.includes(role)) return {}; // etcd ignores a repeated grant
    this.putUser({ ...user, roles: [...user.roles, role].sort() }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  private userRevokeRole(userName: string, role: string, ctx: AuthApplyContext): AuthResponseBody {
    if (this.enabled && userName === ROOT_USER && role === ROOT_ROLE) throw new InvalidAuthMgmtError();
    const user = this.mustUser(userName);
    if (!user.roles.includes(role)) throw new RoleNotGrantedError();
    this.putUser({ ...user, roles: user.roles.filter((r) => r !== role) }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  private roleAdd(name: string, ctx: AuthApplyContext): AuthResponseBody {
    if (name === '') throw new RoleEmptyError();
    if (this.roles.has(name)) throw new RoleAlreadyExistError();
    this.putRole({ name, perms: [] }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  private roleDelete(name: string, ctx: AuthApplyContext): AuthResponseBody {
    if (this.enabled && name === ROOT_ROLE) throw new InvalidAuthMgmtError();
    this.mustRole(name);
    this.roles.delete(name);
    this.backend.deleteMeta(ROLES_BUCKET, nameBytes(name), ctx);
    // Users lose the role (etcd rewrites every user that held it in the same transaction).
    for (const u of [...this.users.values()]) {
      if (u.roles.includes(name)) this.putUser({ ...u, roles: u.roles.filter((r) => r !== name) }, ctx);
    }
    this.commitRevision(ctx);
    return {};
  }

  private roleGrantPermission(
    r: DeepPartial<AuthRoleGrantPermissionRequest>,
    ctx: AuthApplyContext,
  ): AuthResponseBody {
    const role = this.mustRole(str(r.name));
    if (!r.perm) throw new PermissionNotGivenError();
    const perm: KeyPermission = {
      permType: (r.perm.permType ?? PermType.READ) as PermType,
      key: new Uint8Array(r.perm.key ?? []),
      rangeEnd: new Uint8Array(r.perm.rangeEnd ?? []),
    };
    const perms = role.perms.map(copyPerm);
    const same = perms.find((p) => bytesEqual(p.key, perm.key) && bytesEqual(p.rangeEnd, perm.rangeEnd));
    if (same) {
      same.permType = perm.permType;
    } else {
      perms.push(perm);
      // Stable sort by key only: equal keys keep grant order, as etcd lists them.
      perms.sort((a, b) => {
        const ka = bytesToKey(a.key);
        const kb = bytesToKey(b.key);
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      });
    }
    this.putRole({ name: role.name, perms }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  private roleRevokePermission(
    r: DeepPartial<AuthRoleRevokePermissionRequest>,
    ctx: AuthApplyContext,
  ): AuthResponseBody {
    const role = this.mustRole(str(r.role));
    const key = r.key ?? new Uint8Array(0);
    const rangeEnd = r.rangeEnd ?? new Uint8Array(0);
    const perms = role.perms.filter((p) => !(bytesEqual(p.key, key) && bytesEqual(p.rangeEnd, rangeEnd)));
    if (perms.length === role.perms.length) throw new PermissionNotGrantedError();
    this.putRole({ name: role.name, perms }, ctx);
    this.commitRevision(ctx);
    return {};
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private mustUser(name: string): UserRecord {
    const u = this.users.get(name);
    if (!u) throw new UserNotFoundError();
    return u;
  }

  private mustRole(name: string): RoleRecord {
    const r = this.roles.get(name);
    if (!r) throw new RoleNotFoundError();
    return r;
  }

  private putUser(u: UserRecord, ctx: AuthApplyContext): void {
    this.users.set(u.name, u);
    this.backend.putMeta(USERS_BUCKET, nameBytes(u.name), encodeUser(u), ctx);
  }

  private putRole(r: RoleRecord, ctx: AuthApplyContext): void {
    this.roles.set(r.name, r);
    this.backend.putMeta(ROLES_BUCKET, nameBytes(r.name), encodeRole(r), ctx);
  }

  /** Bumps and persists the auth revision; cached permissions become stale with it. */
  private commitRevision(ctx: AuthApplyContext): void {
    this.rev += 1;
    this.backend.putMeta(AUTH_BUCKET, REVISION_KEY, encodeRevision(this.rev), ctx);
  }
}

function copyPerm(p: KeyPermission): KeyPermission {
  return { permType: p.permType, key: p.key, rangeEnd: p.rangeEnd };
}
