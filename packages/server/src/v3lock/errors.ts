/**
 * Errors of the concurrency services. etcd's v3lock/v3election servers return the concurrency
 * package's plain Go errors, which gRPC sends as status UNKNOWN with the error text; clients match on it.
 */
import { Status } from '../transport/grpc/status.js';

/** A v3lock/v3election failure with the gRPC status to answer with. */
export class ConcurrencyError extends Error {
  override readonly name: string = 'ConcurrencyError';
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
  }
}

/** "election: not leader": Proclaim by a key that no longer leads (or never did). */
export class ElectionNotLeaderError extends ConcurrencyError {
  constructor() {
    super(Status.UNKNOWN, 'election: not leader');
  }
}

/** "election: no leader": Leader on an election without candidates. */
export class ElectionNoLeaderError extends ConcurrencyError {
  constructor() {
    super(Status.UNKNOWN, 'election: no leader');
  }
}

/**
 * "election: session expired": the candidate's key vanished (lease revoked) while it waited. etcd 3.4
 * does not re-check and would report leadership it no longer has; the check and text are etcd 3.5's.
 */
export class SessionExpiredError extends ConcurrencyError {
  constructor() {
    super(Status.UNKNOWN, 'election: session expired');
  }
}

/** "mutex: session is expired": the lock key vanished (lease revoked) while waiting (etcd 3.5's check). */
export class LockSessionExpiredError extends ConcurrencyError {
  constructor() {
    super(Status.UNKNOWN, 'mutex: session is expired');
  }
}

/** `"leader" field must be provided` (Proclaim/Resign without a LeaderKey). */
export class MissingLeaderKeyError extends ConcurrencyError {
  constructor() {
    super(Status.UNKNOWN, '"leader" field must be provided');
  }
}

/** The caller went away (gRPC cancel) while the call waited. */
export class CallCancelledError extends ConcurrencyError {
  constructor() {
    super(Status.CANCELLED, 'context canceled');
  }
}
