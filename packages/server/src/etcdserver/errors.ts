/**
 * etcd's client-visible errors (etcdserver/api/v3rpc/rpctypes) with their gRPC status codes and exact
 * messages: clients (etcdctl, clientv3, etcd3) match on the message text.
 */

import { AuthError } from '../auth/errors.js';
import { Status } from '../transport/grpc/status.js';

/** An error that goes to the client as a gRPC status with etcd's message. */
export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

const e = (code: Status, msg: string) => () => new EtcdError(code, msg);
const IA = Status.INVALID_ARGUMENT;
const FP = Status.FAILED_PRECONDITION;
const UN = Status.UNAVAILABLE;

/** Factories for every etcd error kv-server produces (fresh instance per call: stacks stay meaningful). */
export const Errors = {
  emptyKey: e(IA, 'etcdserver: key is not provided'),
  keyNotFound: e(IA, 'etcdserver: key not found'),
  valueProvided: e(IA, 'etcdserver: value is provided'),
  leaseProvided: e(IA, 'etcdserver: lease is provided'),
  tooManyOps: e(IA, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(IA, 'etcdserver: duplicate key given in txn request'),
  compacted: e(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(Status.OUT_OF_RANGE, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(Status.RESOURCE_EXHAUSTED, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: e(Status.NOT_FOUND, 'etcdserver: requested lease not found'),
  leaseExist: e(FP, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(Status.OUT_OF_RANGE, 'etcdserver: too large lease TTL'),
  memberExist: e(FP, 'etcdserver: member ID already exist'),
  peerURLExist: e(FP, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: e(FP, 'etcdserver: re-configuration failed due to not enough started members'),
  memberBadURLs: e(IA, 'etcdserver: given member URLs are invalid'),
  memberNotFound: e(Status.NOT_FOUND, 'etcdserver: member not found'),
  memberNotLearner: e(FP, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(FP, 'etcdserver: can only promote a learner member which is in sync with leader'),
  tooManyLearners: e(FP, 'etcdserver: too many learner members in cluster'),
  requestTooLarge: e(IA, 'etcdserver: request is too large'),
  tooManyRequests: e(Status.RESOURCE_EXHAUSTED, 'etcdserver: too many requests'),
  rootUserNotExist: e(FP, 'etcdserver: root user does not exist'),
  rootRoleNotExist: e(FP, 'etcdserver: root user does not have root role'),
  userAlreadyExist: e(FP, 'etcdserver: user name already exists'),
  userEmpty: e(IA, 'etcdserver: user name is empty'),
  userNotFound: e(FP, 'etcdserver: user name not found'),
  roleAlreadyExist: e(FP, 'etcdserver: role name already exists'),
  roleNotFound: e(FP, 'etcdserver: role name not found'),
  roleEmpty: e(IA, 'etcdserver: role name is empty'),
  authFailed: e(IA, 'etcdserver: authentication failed, invalid user ID or password'),
  permissionDenied: e(Status.PERMISSION_DENIED, 'etcdserver: permission denied'),
  roleNotGranted: e(FP, 'etcdserver: role is not granted to the user'),
  permissionNotGranted: e(FP, 'etcdserver: permission is not granted to the role'),
  authNotEnabled: e(FP, 'etcdserver: authentication is not enabled'),
  invalidAuthToken: e(Status.UNAUTHENTICATED, 'etcdserver: invalid auth token'),
  invalidAuthMgmt: e(IA, 'etcdserver: invalid auth management'),
  noLeader: e(UN, 'etcdserver: no leader'),
  notLeader: e(FP, 'etcdserver: not leader'),
  leaderChanged: e(UN, 'etcdserver: leader changed'),
  notCapable: e(UN, 'etcdserver: not capable'),
  stopped: e(UN, 'etcdserver: server stopped'),
  timeout: e(UN, 'etcdserver: request timed out'),
  timeoutDueToLeaderFail: e(UN, 'etcdserver: request timed out, possibly due to previous leader failure'),
  unhealthy: e(UN, 'etcdserver: unhealthy cluster'),
  corrupt: e(Status.DATA_LOSS, 'etcdserver: corrupt cluster'),
  badLeaderTransferee: e(FP, 'etcdserver: bad leader transferee'),
  notSupportedForLearner: e(UN, 'etcdserver: rpc not supported for learner'),
  unknownMethod: (what: string) => new EtcdError(Status.UNIMPLEMENTED, `unknown method ${what}`),
} as const;

/**
 * Maps errors from the layers below (mvcc's typed errors carry etcd's messages without the
 * "etcdserver: " prefix where etcd adds it at the gRPC boundary) to {@link EtcdError}.
 */
export function toEtcdError(err: unknown): EtcdError {
  if (err instanceof EtcdError) return err;
  // The auth store's typed errors already carry etcd's code and text.
  if (err instanceof AuthError) return new EtcdError(err.code, err.message);
  const msg = err instanceof Error ? err.message : String(err);
  switch (msg) {
    case 'mvcc: required revision has been compacted':
    case 'etcdserver: mvcc: required revision has been compacted':
      return Errors.compacted();
    case 'mvcc: required revision is a future revision':
    case 'etcdserver: mvcc: required revision is a future revision':
      return Errors.futureRev();
    case 'etcdserver: duplicate key given in txn request':
    case 'duplicate key given in txn request':
      return Errors.duplicateKey();
    case 'etcdserver: key not found':
      return Errors.keyNotFound();
    case 'etcdserver: key is not provided':
    case 'key is not provided':
      return Errors.emptyKey();
    case 'lease not found':
      return Errors.leaseNotFound();
    default:
      return new EtcdError(Status.UNKNOWN, msg);
  }
}
