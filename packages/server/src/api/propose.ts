/** Puts the caller's identity into a proposal's header, where apply reads it for the permission checks. */
import type { InternalRequest } from '../etcdserver/envelope.js';
import type { CallContext } from './identity.js';

/**
 * Returns `req` with RequestHeader.username/auth_revision set from `ctx` (etcd's
 * processInternalRaftRequestOnce). Anonymous calls (and every call while auth is disabled) pass `req`
 * through untouched.
 */
export function withIdentity<T extends InternalRequest>(req: T, ctx: CallContext | undefined): T {
  const info = ctx?.authInfo;
  if (info) req.header = { ...req.header, username: info.username, authRevision: info.revision };
  return req;
}
