/**
 * @kv/wal: crash-safe write-ahead log segments and snapshot files for kv. Knows record types, not
 * raft rules; its entry and hard-state shapes are structural so raft's objects pass straight in.
 */
export { crc32c } from './crc32c.js';
export {
  CrcMismatchError,
  SnapshotMismatchError,
  SnapshotNotFoundError,
  WalClosedError,
  WalCorruptionError,
  WalError,
  WalExistsError,
  WalIOError,
  WalLockedError,
  WalNotFoundError,
} from './errors.js';
export {
  adaptiveFileSystem,
  type DurableWriteError,
  defaultFileSystem,
  nodeFileSystem,
  syncFileSystem,
  type WalFile,
  type WalFileSystem,
  workerFileSystem,
} from './fs-layer.js';
export { FsyncPlacement, type FsyncPlacementOptions } from './fsync-placement.js';
export { LOCK_FILE } from './lock.js';
export { segmentFileName } from './segment-name.js';
export { PREPARED_SEGMENT_NAME } from './segment-pipeline.js';
export { type SnapshotFile, Snapshotter, type SnapshotterOptions } from './snapshotter.js';
export {
  DEFAULT_SEGMENT_SIZE,
  type WalContents,
  type WalEntry,
  type WalHardState,
  type WalLogger,
  type WalOptions,
  type WalSnapshotMarker,
} from './types.js';
export { Wal } from './wal.js';
