/**
 * How the auth state is laid out in the server's backend. Same bucket and key names as etcd
 * (auth: authEnabled, authRevision; authUsers: name -> authpb.User; authRoles: name -> authpb.Role) so a
 * backend dump reads like etcd's. Writes carry the raft index so the server's store records them in
 * the same batched commit as the consistent index (a crash never separates the two).
 */
import { Role as RoleCodec, User as UserCodec } from '@kv/client/api';

/**
 * The persistence the auth store needs; the server's `KvStore` (and `MvccStore`) satisfy it
 * structurally. Writes are buffered by the implementation and must be visible to `rangeMeta` at once.
 */
export interface AuthBackend {
  putMeta(bucket: string, key: Uint8Array, value: Uint8Array, ctx?: { index: number }): void;
  deleteMeta(bucket: string, key: Uint8Array, ctx?: { index: number }): void;
  rangeMeta(bucket: string): Promise<Array<[Uint8Array, Uint8Array]>>;
}

/** Bucket with the enabled flag and the auth revision. */
export const AUTH_BUCKET = 'auth';
/** Bucket of users by name. */
export const USERS_BUCKET = 'authUsers';
/** Bucket of roles by name. */
export const ROLES_BUCKET = 'authRoles';

const enc = new TextEncoder();
const dec = new TextDecoder();
/** etcd's keys in the auth bucket. */
export const ENABLED_KEY = enc.encode('authEnabled');
export const REVISION_KEY = enc.encode('authRevision');

/** Permission kinds, numbered like authpb.Permission.Type. */
export const PermType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export type PermType = (typeof PermType)[keyof typeof PermType];

/** One key-range permission of a role. */
export interface KeyPermission {
  permType: PermType;
  key: Uint8Array;
  /** Empty: the single key; "\0": every key >= key; otherwise [key, rangeEnd). */
  rangeEnd: Uint8Array;
}

/** A user as the store holds it. */
export interface UserRecord {
  name: string;
  /** bcrypt hash (empty for users without password). */
  passwordHash: string;
  /** Sorted role names. */
  roles: string[];
  noPassword: boolean;
}

/** A role as the store holds it. */
export interface RoleRecord {
  name: string;
  /** Stable-sorted by key (etcd's order: insertion order among equal keys). */
  perms: KeyPermission[];
}

export const nameBytes = (s: string): Uint8Array => enc.encode(s);

export function encodeUser(u: UserRecord): Uint8Array {
  return UserCodec.encode({
    name: enc.encode(u.name),
    password: enc.encode(u.passwordHash),
    roles: u.roles,
    options: { noPassword: u.noPassword },
  });
}

export function decodeUser(b: Uint8Array): UserRecord {
  const u = UserCodec.decode(b);
  return {
    name: dec.decode(u.name),
    passwordHash: dec.decode(u.password),
    roles: [...u.roles].sort(),
    noPassword: u.options?.noPassword ?? false,
  };
}

export function encodeRole(r: RoleRecord): Uint8Array {
  return RoleCodec.encode({ name: enc.encode(r.name), keyPermission: r.perms });
}

export function decodeRole(b: Uint8Array): RoleRecord {
  const r = RoleCodec.decode(b);
  return {
    name: dec.decode(r.name),
    perms: r.keyPermission.map((p) => ({
      permType: p.permType as PermType,
      key: new Uint8Array(p.key),
      rangeEnd: new Uint8Array(p.rangeEnd),
    })),
  };
}

/** Big-endian uint64, like etcd's encoding of the auth revision. */
export function encodeRevision(rev: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(rev));
  return new Uint8Array(b);
}

export function decodeRevision(b: Uint8Array): number {
  if (b.length !== 8) return 0;
  return Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64BE());
}
