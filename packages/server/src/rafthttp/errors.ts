/**
 * Typed errors of the peer transport. Messages that cross the wire (412 bodies, 410/404 texts) are
 * etcd's, because remote etcd members compare them byte for byte (checkPostResponse, streamReader.dial).
 */

/** etcd's errIncompatibleVersion text (412 body). */
export const INCOMPATIBLE_VERSION = 'incompatible version';
/** etcd's errClusterIDMismatch text (412 body). */
export const CLUSTER_ID_MISMATCH = 'cluster ID mismatch';
/** etcd's errMemberRemoved text. */
export const MEMBER_REMOVED = 'the member has been permanently removed from the cluster';

/** Base class of the transport's errors. */
export class PeerTransportError extends Error {
  override name = 'PeerTransportError';
}

/** A frame announced a length above the decoder's limit (etcd's ErrExceedSizeLimit). */
export class FrameTooLargeError extends PeerTransportError {
  override name = 'FrameTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('rafthttp: error limit exceeded');
  }
}

/** The stream carried bytes that are not a valid frame. */
export class StreamDecodeError extends PeerTransportError {
  override name = 'StreamDecodeError';
}

/** The remote refused us because its cluster id differs from ours (412 "cluster ID mismatch"). */
export class ClusterIdMismatchError extends PeerTransportError {
  override name = 'ClusterIdMismatchError';
  constructor(readonly remoteClusterId: string) {
    super(CLUSTER_ID_MISMATCH);
  }
}

/** The remote refused our version (412 "incompatible version"). */
export class IncompatibleVersionError extends PeerTransportError {
  override name = 'IncompatibleVersionError';
  constructor() {
    super(INCOMPATIBLE_VERSION);
  }
}

/** The remote says we were removed from the cluster (410 on a stream, 403 on a POST). */
export class MemberRemovedError extends PeerTransportError {
  override name = 'MemberRemovedError';
  constructor() {
    super(MEMBER_REMOVED);
  }
}

/** The transport (or the peer) was stopped while the operation ran. */
export class TransportStoppedError extends PeerTransportError {
  override name = 'TransportStoppedError';
  constructor() {
    super('stopped');
  }
}

/** Any other unexpected answer from a peer. */
export class UnexpectedPeerResponseError extends PeerTransportError {
  override name = 'UnexpectedPeerResponseError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Thrown by {@link RaftSink.process} to answer a pipeline or snapshot request with a specific status
 * and etcd's JSON error body `{"message": ...}` (etcd's httptypes.HTTPError); any other error answers
 * 500 "error processing raft message".
 * @example
 * ```ts
 * throw new PeerHttpError(403, 'cannot process message from removed member');
 * ```
 */
export class PeerHttpError extends PeerTransportError {
  override name = 'PeerHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
