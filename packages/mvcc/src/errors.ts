/** Typed errors raised by the MVCC layer; messages match etcd's so the server can pass them through. */

/** Base class for every error this package raises on purpose. */
export class MvccError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The requested revision is at or below the compacted revision (etcd: mvcc.ErrCompacted). */
export class ErrCompacted extends MvccError {
  constructor(readonly compactRevision: number) {
    super('mvcc: required revision has been compacted');
  }
}

/** The requested revision is above the current revision (etcd: mvcc.ErrFutureRev). */
export class ErrFutureRev extends MvccError {
  constructor(readonly currentRevision: number) {
    super('mvcc: required revision is a future revision');
  }
}

/** Two operations of one txn write the same key (etcd: rpctypes.ErrGRPCDuplicateKey). */
export class ErrDuplicateKey extends MvccError {
  constructor() {
    super('etcdserver: duplicate key given in txn request');
  }
}

/** ignore_value / ignore_lease on a key that does not exist (etcd: rpctypes.ErrGRPCKeyNotFound). */
export class ErrKeyNotFound extends MvccError {
  constructor() {
    super('etcdserver: key not found');
  }
}

/** A request without a key (etcd: rpctypes.ErrGRPCEmptyKey). */
export class ErrEmptyKey extends MvccError {
  constructor() {
    super('etcdserver: key is not provided');
  }
}

/** The store or backend was used after close(). */
export class ErrClosed extends MvccError {
  constructor(what = 'mvcc: store is closed') {
    super(what);
  }
}

/**
 * A read from the storage engine failed (an I/O error, a closed or damaged engine), or a revision the
 * index holds is missing from it. Never turned into "not found": a missing key and an unreadable one are
 * different answers. etcd panics here; kv fails the request and keeps serving what it can read.
 */
export class ErrStorage extends MvccError {
  constructor(
    /** What was being read, e.g. `key revisions`. */
    readonly what: string,
    /** The engine's error, if any. */
    override readonly cause?: unknown,
  ) {
    super(
      `mvcc: storage read failed: ${what}${cause === undefined ? '' : `: ${cause instanceof Error ? cause.message : String(cause)}`}`,
    );
  }
}

/** A snapshot stream that cannot be restored (bad framing or checksum). */
export class ErrCorruptSnapshot extends MvccError {}
