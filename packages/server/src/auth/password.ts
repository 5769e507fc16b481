/**
 * Password hashing with bcrypt (bcryptjs: pure JS, no native build). etcd hashes on the member that
 * receives the request and replicates the hash (AuthUserAddRequest.hashed_password), so hashing never
 * runs in the apply path; callers use {@link hashPassword} before proposing.
 *
 * bcryptjs's async functions work in chunks on the event loop, yielding between them (setImmediate),
 * so one hash or verification does not block other requests for its whole duration (~50-100 ms at
 * cost 10 here).
 */
import { compare, getRounds, hash } from 'bcryptjs';

/** etcd's default (Go's bcrypt.DefaultCost). */
export const DEFAULT_BCRYPT_COST = 10;
/** bcrypt's bounds for the cost parameter. */
export const MIN_BCRYPT_COST = 4;
export const MAX_BCRYPT_COST = 31;

/** Hashes `password` with bcrypt at `cost` (4..31, default 10). */
export async function hashPassword(password: string, cost: number = DEFAULT_BCRYPT_COST): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    throw new RangeError(`bcrypt cost must be an integer in [${MIN_BCRYPT_COST}, ${MAX_BCRYPT_COST}]`);
  }
  return await hash(password, cost);
}

/** True when `password` matches the bcrypt `passwordHash` (false for a malformed hash). */
export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  if (!passwordHash.startsWith('$2')) return false;
  try {
    return await compare(password, passwordHash);
  } catch {
    return false;
  }
}

/** The cost a hash was made with (for diagnostics). */
export function hashCost(passwordHash: string): number {
  return getRounds(passwordHash);
}

/**
 * Normalises AuthUserAddRequest/AuthUserChangePasswordRequest.hashed_password: a bcrypt string as
 * kv-server proposes it, or base64 of it as etcd 3.5 members propose it. Returns undefined if neither.
 */
export function normaliseHashedPassword(h: string): string | undefined {
  if (h.startsWith('$2')) return h;
  const decoded = Buffer.from(h, 'base64').toString('latin1');
  return decoded.startsWith('$2') ? decoded : undefined;
}
