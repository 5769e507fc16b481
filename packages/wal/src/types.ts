import type {
  defaultFileSystem,
  nodeFileSystem,
  syncFileSystem,
  WalFileSystem,
  workerFileSystem,
} from './fs-layer.js';

/** One raft log entry as the WAL stores it. Raft's `Entry` satisfies this shape structurally. */
export interface WalEntry {
  term: number;
  index: number;
  type: number;
  data: Uint8Array;
}

/** Raft's persistent state. Raft's `HardState` satisfies this shape structurally. */
export interface WalHardState {
  term: number;
  /** The node voted for: a uint64 member id (exact, hence bigint). */
  vote: bigint;
  commit: number;
}

/**
 * Marks that a snapshot at (index, term) exists; the WAL is read from the newest such marker.
 * `confState` carries the encoded raft ConfState when the caller wants it kept next to the marker.
 */
export interface WalSnapshotMarker {
  index: number;
  term: number;
  confState?: Uint8Array;
}

/** What a reopened WAL holds after its snapshot marker. */
export interface WalContents {
  /** The metadata given to {@link Wal.create} (member and cluster ids, opaque to the WAL). */
  metadata: Uint8Array;
  /** The newest hard state saved, or an all-zero one if none was ever saved. */
  hardState: WalHardState;
  /** Entries after the marker, with later writes of an index replacing earlier ones (raft truncation). */
  entries: WalEntry[];
}

/** Structured log events; the WAL never writes to the console itself. */
export type WalLogger = (
  level: 'debug' | 'info' | 'warn',
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** Options shared by {@link Wal.create} and {@link Wal.open}. */
export interface WalOptions {
  /** Segment size in bytes; a new segment is cut once the current one reaches it. Default 16 MiB. */
  segmentSize?: number;
  /**
   * How new segments reserve their space: `'zero'` writes zeros (real blocks, so later fdatasyncs do
   * not have to journal block allocation; costs a write of the whole segment), `'truncate'` extends
   * the file sparsely (instant, but each later append allocates blocks). Default `'zero'`.
   */
  preallocate?: 'zero' | 'truncate';
  /** Skip every fsync/fdatasync. Data is NOT durable; for tests only. */
  noSync?: boolean;
  /**
   * File-system layer; replace it to inject faults in tests. Defaults to {@link defaultFileSystem}
   * (`adaptiveFileSystem()`: the write on the event loop, fdatasync on it too while the device syncs
   * fast, else on libuv's thread pool); {@link nodeFileSystem} (both on the thread pool),
   * {@link workerFileSystem} (write + fdatasync in one worker round trip) and {@link syncFileSystem}
   * (always blocking) are the measured alternatives (see README).
   */
  fs?: WalFileSystem;
  /** Receives structured events (repairs, segment cuts, releases). */
  logger?: WalLogger;
  /**
   * {@link Wal.open} reads and checks the segments on a worker thread (node:worker_threads) instead of
   * this one, so the caller's own startup work (a server rebuilding its key index) runs meanwhile on
   * another core. Same checks, results and errors as in-thread. Only with the default file system
   * (refused together with `fs`). Default false.
   */
  readInWorker?: boolean;
}

/**
 * Default segment size: 16 MiB (etcd's SegmentSizeBytes is 64 MiB). Opening a WAL reads its newest
 * segment whole and checks that everything past the last batch is zero (so a lost sector before
 * intact later batches is noticed), which for a 64 MiB segment was ~300 ms of every restart on this
 * VM against ~20-90 ms at 16 MiB (README "Segment size"); cuts are cheap either way, since the next
 * segment is prepared in the background.
 */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;
