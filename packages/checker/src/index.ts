/**
 * @kv/checker: linearizability and watch checking for histories of etcd-API operations, for kv-server
 * or any etcd v3 server. No dependency on the server. See README.md for the history format.
 */
export { type CheckOptions, type CheckReport, checkHistory, type ViolationReport } from './check.js';
export * from './history.js';
export { claimedRevisions, collectHints, globalModel, perKeyModel, type WatchHints } from './kv-models.js';
export { minimizeFailure } from './minimize.js';
export { applyRequest, type Change, evalCompare, initialState, type KvState, sameResponse } from './model.js';
export { partitionByKey } from './partition.js';
export { HistoryRecorder } from './recorder.js';
export { buildRevisionLog, type RevisionLog } from './revision-log.js';
export { type Budget, type SearchModel, type SearchResult, searchLinearization } from './search.js';
export { checkSerializableReads, type SerializableProblem } from './serializable.js';
export { describeOperations, renderTimeline } from './timeline.js';
export { checkWatch, type WatchProblem, type WatchProblemKind } from './watch.js';
