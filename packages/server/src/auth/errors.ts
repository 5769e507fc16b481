/**
 * Typed errors of the auth store, with etcd's exact client-visible messages and gRPC status codes
 * (etcdserver/api/v3rpc/rpctypes): etcdctl, clientv3 and the npm etcd3 client match on the text.
 */
import { Status } from '../transport/grpc/status.js';

/** Base class of every auth failure; `code` is the gRPC status the server must answer with. */
export class AuthError extends Error {
  override readonly name: string = 'AuthError';
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/** Defines one error class per etcd error so callers can `instanceof` a specific failure. */
function authError(code: Status, message: string) {
  return class extends AuthError {
    constructor() {
      super(code, message);
    }
  };
}

const IA = Status.INVALID_ARGUMENT;
const FP = Status.FAILED_PRECONDITION;

/** "etcdserver: root user does not exist" (auth enable without a root user). */
export class RootUserNotExistError extends authError(FP, 'etcdserver: root user does not exist') {}
/** "etcdserver: root user does not have root role" (auth enable while root lacks the root role). */
export class RootRoleNotExistError extends authError(FP, 'etcdserver: root user does not have root role') {}
/** "etcdserver: user name already exists". */
export class UserAlreadyExistError extends authError(FP, 'etcdserver: user name already exists') {}
/** "etcdserver: user name is empty" (also: a request without a user while auth is enabled). */
export class UserEmptyError extends authError(IA, 'etcdserver: user name is empty') {}
/** "etcdserver: user name not found". */
export class UserNotFoundError extends authError(FP, 'etcdserver: user name not found') {}
/** "etcdserver: role name already exists". */
export class RoleAlreadyExistError extends authError(FP, 'etcdserver: role name already exists') {}
/** "etcdserver: role name not found". */
export class RoleNotFoundError extends authError(FP, 'etcdserver: role name not found') {}
/** "etcdserver: role name is empty". */
export class RoleEmptyError extends authError(IA, 'etcdserver: role name is empty') {}
/** "etcdserver: authentication failed, invalid user ID or password". */
export class AuthFailedError extends authError(
  IA,
  'etcdserver: authentication failed, invalid user ID or password',
) {}
/** "etcdserver: permission denied". */
export class PermissionDeniedError extends authError(
  Status.PERMISSION_DENIED,
  'etcdserver: permission denied',
) {}
/** "etcdserver: role is not granted to the user". */
export class RoleNotGrantedError extends authError(FP, 'etcdserver: role is not granted to the user') {}
/** "etcdserver: permission is not granted to the role". */
export class PermissionNotGrantedError extends authError(
  FP,
  'etcdserver: permission is not granted to the role',
) {}
/** "etcdserver: authentication is not enabled" (Authenticate while auth is disabled). */
export class AuthNotEnabledError extends authError(FP, 'etcdserver: authentication is not enabled') {}
/** "etcdserver: invalid auth token" (unknown, expired or badly signed token). */
export class InvalidAuthTokenError extends authError(
  Status.UNAUTHENTICATED,
  'etcdserver: invalid auth token',
) {}
/** "etcdserver: invalid auth management" (deleting root / revoking root's root role while enabled, bad range). */
export class InvalidAuthMgmtError extends authError(IA, 'etcdserver: invalid auth management') {}
/** "etcdserver: revision of auth store is old": the request was checked against an older auth state. */
export class AuthOldRevisionError extends authError(IA, 'etcdserver: revision of auth store is old') {}
/** "etcdserver: permission not given" (RoleGrantPermission without a permission). */
export class PermissionNotGivenError extends authError(IA, 'etcdserver: permission not given') {}
/**
 * "etcdserver: too many requests": the per-user Authenticate rate limit was hit. etcd has no such
 * limiter; this is etcd's generic overload error, which clients already treat as retryable later.
 */
export class AuthRateLimitedError extends authError(
  Status.RESOURCE_EXHAUSTED,
  'etcdserver: too many requests',
) {}
