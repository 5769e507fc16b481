/** Base class of every error this package throws, so callers can catch them as one family. */
export class WalError extends Error {
  override name = 'WalError';
}

/** A record in the log is damaged somewhere a crash cannot explain (not a torn tail). */
export class WalCorruptionError extends WalError {
  override name = 'WalCorruptionError';
  /**
   * @param file segment file the damage is in
   * @param offset byte offset of the first damaged record in that file
   * @param reason what check failed
   */
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupted record in ${file} at offset ${offset}: ${reason}`);
  }
}

/**
 * A checksum did not match where a crash cannot explain it (a record's chained CRC in the middle of
 * the log, or a snapshot file's checksum). A kind of corruption, so `instanceof WalCorruptionError`
 * holds too.
 */
export class CrcMismatchError extends WalCorruptionError {
  override name = 'CrcMismatchError';
  constructor(
    file: string,
    offset: number,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(file, offset, `crc mismatch: stored ${expected >>> 0}, computed ${actual >>> 0}`);
  }
}

/** Another live process (or another Wal in this process) holds the directory's lock. */
export class WalLockedError extends WalError {
  override name = 'WalLockedError';
  constructor(
    readonly dir: string,
    readonly holderPid: number | undefined,
  ) {
    super(`wal: directory ${dir} is locked by pid ${holderPid ?? 'unknown'}`);
  }
}

/**
 * An I/O call failed (EIO, ENOSPC, a write that made no progress, a failed fsync). Everything that
 * an earlier `save` acknowledged stays on disk and readable; `cause` holds the original error.
 */
export class WalIOError extends WalError {
  override name = 'WalIOError';
  readonly code: string | undefined;
  constructor(
    readonly op: string,
    readonly path: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    super(`wal: ${op} ${path} failed: ${(cause as Error | undefined)?.message ?? String(cause)}`, { cause });
    this.code = code;
  }
}

/** No snapshot file (or no WAL snapshot marker) matches what was asked for. */
export class SnapshotNotFoundError extends WalError {
  override name = 'SnapshotNotFoundError';
}

/** The WAL holds a snapshot marker at the requested index but with a different term. */
export class SnapshotMismatchError extends WalError {
  override name = 'SnapshotMismatchError';
}

/** The WAL directory holds no segments (or none covering the requested snapshot index). */
export class WalNotFoundError extends WalError {
  override name = 'WalNotFoundError';
}

/** {@link Wal.create} found segments already in the directory. */
export class WalExistsError extends WalError {
  override name = 'WalExistsError';
}

/** Use of a Wal after close, or after an fsync failure made its tail state unknowable. */
export class WalClosedError extends WalError {
  override name = 'WalClosedError';
}
