/**
 * Typed errors for etcd v3 / kv-server failures.
 *
 * etcd reports failures as gRPC statuses whose message is a fixed string (its `rpctypes` table, for
 * example `etcdserver: requested lease not found`). We map the well-known strings to classes so callers
 * can use `instanceof` instead of comparing text; anything else becomes a plain {@link KvError} that
 * still carries the gRPC code and the server's message.
 */
import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';

/**
 * Base class of every error this client throws for a failed request.
 *
 * @example
 * ```ts
 * try {
 *   await client.revoke(12345);
 * } catch (e) {
 *   if (e instanceof KvError) console.log(e.name, e.code, e.message);
 * }
 * ```
 */
export class KvError extends Error {
  /** gRPC status code (see `@grpc/grpc-js` `status`); `GrpcStatus.UNKNOWN` when not from gRPC. */
  readonly code: number;
  constructor(message: string, code: number = GrpcStatus.UNKNOWN) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The requested revision was compacted away (`etcdserver: mvcc: required revision has been compacted`).
 *
 * @example
 * ```ts
 * try {
 *   for await (const ev of client.watch('config/', { prefix: true, startRevision: 1 })) console.log(ev);
 * } catch (e) {
 *   if (e instanceof CompactedError) console.log('history gone up to', e.compactRevision);
 * }
 * ```
 */
export class CompactedError extends KvError {
  /** The store's compact revision, when known (watch cancellations report it). */
  compactRevision = 0;
}
/**
 * The requested revision is newer than the store's (`... required revision is a future revision`).
 *
 * @example
 * ```ts
 * await client.get('k', { revision: 1e9 }).catch((e) => e instanceof FutureRevisionError);
 * ```
 */
export class FutureRevisionError extends KvError {}
/**
 * `etcdserver: requested lease not found`.
 *
 * @example
 * ```ts
 * await client.revoke(12345).catch((e) => e instanceof LeaseNotFoundError); // true
 * ```
 */
export class LeaseNotFoundError extends KvError {}
/**
 * `etcdserver: lease already exists`.
 *
 * @example
 * ```ts
 * await client.grant(60, 42);
 * await client.grant(60, 42).catch((e) => e instanceof LeaseExistsError); // true
 * ```
 */
export class LeaseExistsError extends KvError {}
/**
 * `etcdserver: key is not provided`.
 *
 * @example
 * ```ts
 * await client.put('', 'v').catch((e) => e instanceof EmptyKeyError); // true
 * ```
 */
export class EmptyKeyError extends KvError {}
/**
 * `etcdserver: duplicate key given in txn request`.
 *
 * @example
 * ```ts
 * await client.txn().then(Op.put('k', '1'), Op.put('k', '2')).commit().catch((e) => e instanceof DuplicateKeyError);
 * ```
 */
export class DuplicateKeyError extends KvError {}
/**
 * `etcdserver: too many operations in txn request`.
 *
 * @example
 * ```ts
 * const ops = Array.from({ length: 200 }, (_, i) => Op.put(`k${i}`, 'v'));
 * await client.txn().then(...ops).commit().catch((e) => e instanceof TooManyOpsError);
 * ```
 */
export class TooManyOpsError extends KvError {}
/**
 * `etcdserver: request is too large` (or grpc's RESOURCE_EXHAUSTED for an oversize message).
 *
 * @example
 * ```ts
 * await client.put('big', 'x'.repeat(2 << 20)).catch((e) => e instanceof RequestTooLargeError);
 * ```
 */
export class RequestTooLargeError extends KvError {}
/**
 * Wrong user name or password.
 *
 * @example
 * ```ts
 * const c = new KvClient({ endpoints, username: 'alice', password: 'wrong' });
 * await c.get('k').catch((e) => e instanceof AuthFailedError); // true
 * ```
 */
export class AuthFailedError extends KvError {}
/**
 * The auth token expired or is unknown; the client re-authenticates once on its own.
 *
 * @example
 * ```ts
 * // Handled inside the client: it authenticates again once and repeats the call.
 * await client.get('k').catch((e) => e instanceof InvalidAuthTokenError);
 * ```
 */
export class InvalidAuthTokenError extends KvError {}
/**
 * The user lacks the permission for this request.
 *
 * @example
 * ```ts
 * await readOnlyClient.put('k', 'v').catch((e) => e instanceof PermissionDeniedError);
 * ```
 */
export class PermissionDeniedError extends KvError {}
/**
 * `etcdserver: user name not found`.
 *
 * @example
 * ```ts
 * await client.userGet('nobody').catch((e) => e instanceof UserNotFoundError); // true
 * ```
 */
export class UserNotFoundError extends KvError {}
/**
 * `etcdserver: role name not found`.
 *
 * @example
 * ```ts
 * await client.roleGet('nobody').catch((e) => e instanceof RoleNotFoundError); // true
 * ```
 */
export class RoleNotFoundError extends KvError {}
/**
 * `etcdserver: user name already exists` / `role name already exists`.
 *
 * @example
 * ```ts
 * await client.userAdd('alice', 'pw').catch((e) => e instanceof AlreadyExistsError);
 * ```
 */
export class AlreadyExistsError extends KvError {}
/**
 * `etcdserver: member ID not found` and other membership refusals.
 *
 * @example
 * ```ts
 * await client.memberRemove(12345).catch((e) => e instanceof MemberError); // true
 * ```
 */
export class MemberError extends KvError {}
/**
 * The member has no leader, the request timed out in raft, or the leader changed.
 *
 * @example
 * ```ts
 * await client.put('k', 'v').catch((e) => e instanceof NoLeaderError && console.log('no quorum'));
 * ```
 */
export class NoLeaderError extends KvError {}
/**
 * No endpoint could be reached (gRPC UNAVAILABLE).
 *
 * @example
 * ```ts
 * await client.get('k').catch((e) => e instanceof UnavailableError && console.log('cluster unreachable'));
 * ```
 */
export class UnavailableError extends KvError {}
/**
 * The call's deadline passed (gRPC DEADLINE_EXCEEDED): `timeoutMs`, `commandTimeoutMs` or the dial
 * timeout.
 *
 * @example
 * ```ts
 * try {
 *   await client.get('k', {}, { timeoutMs: 50 });
 * } catch (e) {
 *   if (e instanceof DeadlineExceededError) console.log('too slow');
 * }
 * ```
 */
export class DeadlineExceededError extends KvError {}
/**
 * The caller aborted the call through its `AbortSignal` (gRPC CANCELLED). `cause` holds the
 * signal's reason.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const pending = client.get('k', {}, { signal: ac.signal });
 * ac.abort();
 * await pending.catch((e) => e instanceof AbortedError); // true
 * ```
 */
export class AbortedError extends KvError {
  constructor(message = 'the operation was aborted', code: number = GrpcStatus.CANCELLED, cause?: unknown) {
    super(message, code);
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}
/**
 * An election operation needs leadership this candidate no longer holds (clientv3's
 * `ErrElectionNotLeader`, text `election: not leader`).
 *
 * @example
 * ```ts
 * await election.proclaim('v2').catch((e) => e instanceof ElectionNotLeaderError);
 * ```
 */
export class ElectionNotLeaderError extends KvError {}
/**
 * The election has no leader (`election: no leader`, clientv3's `ErrElectionNoLeader`).
 *
 * @example
 * ```ts
 * await election.leader().catch((e) => e instanceof ElectionNoLeaderError);
 * ```
 */
export class ElectionNoLeaderError extends KvError {}
/**
 * The member that got the request is not the raft leader (`etcdserver: not leader`), e.g. a
 * MoveLeader sent to a follower.
 *
 * @example
 * ```ts
 * const { members } = await client.memberList();
 * await client.moveLeader(members[0]!.ID).catch((e) => e instanceof NotLeaderError);
 * ```
 */
export class NotLeaderError extends KvError {}
/**
 * A session's lease expired or was revoked, so locks and leadership built on it are gone.
 *
 * @example
 * ```ts
 * session.done.then((e) => e instanceof SessionExpiredError && console.log('lost my locks'));
 * ```
 */
export class SessionExpiredError extends KvError {}

type ErrorClass = new (message: string, code?: number) => KvError;

/** etcd 3.4 rpctypes messages (exact text) and the class each one maps to. */
const BY_MESSAGE: ReadonlyArray<[string, ErrorClass]> = [
  ['etcdserver: mvcc: required revision has been compacted', CompactedError],
  ['etcdserver: mvcc: required revision is a future revision', FutureRevisionError],
  ['etcdserver: requested lease not found', LeaseNotFoundError],
  ['etcdserver: lease already exists', LeaseExistsError],
  ['etcdserver: key is not provided', EmptyKeyError],
  ['etcdserver: duplicate key given in txn request', DuplicateKeyError],
  ['etcdserver: too many operations in txn request', TooManyOpsError],
  ['etcdserver: request is too large', RequestTooLargeError],
  ['etcdserver: authentication failed, invalid user ID or password', AuthFailedError],
  ['etcdserver: invalid auth token', InvalidAuthTokenError],
  ['etcdserver: permission denied', PermissionDeniedError],
  ['etcdserver: user name not found', UserNotFoundError],
  ['etcdserver: role name not found', RoleNotFoundError],
  ['etcdserver: user name already exists', AlreadyExistsError],
  ['etcdserver: role name already exists', AlreadyExistsError],
  ['etcdserver: member ID not found', MemberError],
  ['etcdserver: member not found', MemberError],
  ['etcdserver: Peer URLs already exists', MemberError],
  ['etcdserver: re-configuration failed due to not enough started members', MemberError],
  ['etcdserver: can only promote a learner member', MemberError],
  ['etcdserver: no leader', NoLeaderError],
  ['etcdserver: request timed out', NoLeaderError],
  ['etcdserver: leader changed', NoLeaderError],
  ['election: not leader', ElectionNotLeaderError],
  ['election: no leader', ElectionNoLeaderError],
  ['etcdserver: not leader', NotLeaderError],
  ['etcdserver: bad leader transferee', MemberError],
];

/** True for a grpc-js `ServiceError` (an Error with a numeric `code` and `details`). */
function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number';
}

/**
 * Converts whatever a grpc-js call failed with into a {@link KvError} subclass.
 *
 * @example
 * ```ts
 * const err = toKvError(new Error('boom')); // a KvError with code UNKNOWN
 * ```
 */
export function toKvError(e: unknown): KvError {
  if (e instanceof KvError) return e;
  if (!isServiceError(e)) return new KvError(e instanceof Error ? e.message : String(e));
  const message = e.details || e.message;
  for (const [text, Cls] of BY_MESSAGE) {
    if (message.startsWith(text)) return new Cls(message, e.code);
  }
  if (e.code === GrpcStatus.RESOURCE_EXHAUSTED) return new RequestTooLargeError(message, e.code);
  if (e.code === GrpcStatus.UNAVAILABLE) return new UnavailableError(message, e.code);
  if (e.code === GrpcStatus.DEADLINE_EXCEEDED) return new DeadlineExceededError(message, e.code);
  if (e.code === GrpcStatus.CANCELLED) return new AbortedError(message, e.code);
  return new KvError(message, e.code);
}
