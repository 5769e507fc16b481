/** v3election: etcd's Election service (Campaign, Proclaim, Leader, Observe, Resign) over the KV facade. */
export { campaign, leader, observe, proclaim, resign } from './election.js';
export { electionUnaryHandlers } from './handlers.js';
export { createElectionService } from './service.js';
