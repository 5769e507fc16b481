/**
 * @kv/raft: the Raft consensus algorithm as a pure, deterministic state machine (after etcd's raft
 * library). See README.md for the Ready contract and a complete example.
 */
export * from './codec.js';
export { asV2, confStateEqual, enterJoint, isConfChangeV2, leaveJoint } from './confchange/conv.js';
export type { Config, Logger } from './config.js';
export * from './errors.js';
export { JointConfig, MajorityConfig, NO_LIMIT_INDEX, VoteResult } from './quorum/quorum.js';
export { seededRandom } from './random.js';
export { type ProgressStatus, RawNode, type Ready, type Status } from './rawnode.js';
export type { ReadOnlyOption } from './read-only.js';
export { MemoryStorage, type Storage } from './storage.js';
export { ProgressState } from './tracker/progress.js';
export * from './types.js';
