/** Typed errors of @kv/raft. Messages match etcd's raft error strings where etcd has one. */

/** Base class so callers can catch every raft error at once. */
export class RaftError extends Error {
  override name = 'RaftError';
}

/** Storage: the requested index is older than the first one still kept (it was compacted away). */
export class CompactedError extends RaftError {
  override name = 'CompactedError';
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** Storage: the requested entry is past the end of the log. */
export class UnavailableError extends RaftError {
  override name = 'UnavailableError';
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** Storage: a snapshot is being produced; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  override name = 'SnapshotTemporarilyUnavailableError';
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** Storage: the snapshot to apply or create is not newer than the one already held. */
export class SnapOutOfDateError extends RaftError {
  override name = 'SnapOutOfDateError';
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/**
 * A proposal was not accepted: there is no known leader, forwarding is disabled, a leadership transfer is
 * in progress, the uncommitted-size limit is hit, or this node was removed. The caller may retry.
 */
export class ProposalDroppedError extends RaftError {
  override name = 'ProposalDroppedError';
  constructor(reason?: string) {
    super(reason ? `raft proposal dropped: ${reason}` : 'raft proposal dropped');
  }
}

/** RawNode.step was given a message that only raft itself may raise (MsgHup, MsgBeat, ...). */
export class StepLocalMessageError extends RaftError {
  override name = 'StepLocalMessageError';
  constructor() {
    super('raft: cannot step raft local message');
  }
}

/** RawNode.step was given a response from a node that is not in the configuration. */
export class StepPeerNotFoundError extends RaftError {
  override name = 'StepPeerNotFoundError';
  constructor() {
    super('raft: cannot step as peer not found');
  }
}

/** A configuration change is invalid (for example it leaves no voters). */
export class ConfChangeError extends RaftError {
  override name = 'ConfChangeError';
}

/** The configuration passed to RawNode is invalid. */
export class ConfigError extends RaftError {
  override name = 'ConfigError';
}

/**
 * An internal invariant broke (etcd panics in these places): storage returned inconsistent data, or a
 * caller violated the Ready contract. The node must not be used afterwards.
 */
export class RaftInvariantError extends RaftError {
  override name = 'RaftInvariantError';
}
