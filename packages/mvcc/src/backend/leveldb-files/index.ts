/** Readers of LevelDB's on-disk files (CURRENT, MANIFEST, tables) with plain reads: the `level` engine's bulk read path. */
export { LevelDbFileError, type LevelDbFileProblem } from './errors.js';
export { BULK_DIR_PREFIX, linkLiveTables, removeBulkDirs } from './link.js';
export { readLogRecords } from './log.js';
export {
  decodeVersionEdit,
  type LiveFiles,
  logFileName,
  readLiveFiles,
  type TableFile,
  tableFileName,
} from './manifest.js';
export { mergeTables } from './merge.js';
export { TableReader } from './table.js';
