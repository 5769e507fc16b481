/**
 * @kv/mvcc: etcd's multi-version key space (revisions, key index, compaction, hashes), its watch hub and
 * the pluggable storage engines (memory, LevelDB, LMDB) behind one Backend interface.
 */
export { backendSnapshotLength } from './backend/base.js';
export { LevelDbFileError, type LevelDbFileProblem } from './backend/leveldb-files/errors.js';
export { openBackend } from './backend/open.js';
export {
  type Backend,
  type BackendOptions,
  DEFAULT_LEVEL_MAX_OPEN_FILES,
  type EngineName,
  type Entry,
  type HashOptions,
  type ReadView,
  type ScanOptions,
  type WriteBatch,
} from './backend/types.js';
export * from './bbolt/index.js';
export { bytesToKey } from './btree.js';
export { Crc32c, crc32c } from './crc32.js';
export * from './errors.js';
export { KeyIndexFileError } from './key-index-file.js';
export { decodeKeyValue, encodeKeyValue } from './kv-codec.js';
export { bytesToRev, bytesToUint64, type Revision, revToBytes, uint64ToBytes } from './revision.js';
export {
  type ApplyContext,
  type CompactResult,
  type HashKVResult,
  type IndexDump,
  type IndexEvent,
  isTxnReadOnly,
  MvccStore,
  type RangeOptions,
  type RangeResult,
  type StoreOptions,
  type WriteResult,
} from './store.js';
export { checkDeleteRequest, checkPutRequest, checkRangeRequest, checkTxnRequest } from './txn-check.js';
export * from './types.js';
export type { WatchBatch, Watcher, WatchFilter, WatchOptions, WatchSink } from './watch.js';
export { KEY_BUCKET, META_BUCKET } from './write-buffer.js';

/** Package name, for diagnostics. */
export const PACKAGE_NAME = '@kv/mvcc';
