/**
 * The RPC methods the client calls: the generated definitions, wrapped where a request or response
 * carries 64-bit ids so callers pass and get {@link Id}s (see ids.ts). Field numbers are etcd's (rpc.proto,
 * v3lock.proto, v3election.proto). Auth calls use the generated definitions directly: their
 * responses hold names, and only the response header's cluster/member ids would be rounded.
 */
import {
  AuthService,
  ClusterService,
  type DeepPartial,
  ElectionService,
  KVService,
  type LeaderKey,
  LeaseService,
  LockService,
  MaintenanceService,
  WatchService,
} from './api/index.js';
import type { MethodDef } from './connection.js';
import {
  type ExactReq,
  exactRequests,
  exactResponses,
  idRequests,
  RESPONSE_IDS as R,
  wireId,
} from './ids.js';
import { exactTxnRequests } from './txn-encoding.js';

/** A LeaderKey whose lease may be any {@link Id} (as returned by `campaign`). */
export type ExactLeaderKey = ExactReq<DeepPartial<LeaderKey>>;

/**
 * Proclaim and Resign carry the campaign's LeaderKey, whose lease the generated codec takes as a
 * bigint: a number lease is converted first.
 */
function withExactLeader<Req extends { leader?: DeepPartial<LeaderKey> }, Res>(
  def: MethodDef<Req, Res>,
): MethodDef<Omit<Req, 'leader'> & { leader?: ExactLeaderKey }, Res> {
  return {
    path: def.path,
    responseDeserialize: def.responseDeserialize,
    requestSerialize: (req) => {
      const leader = req.leader;
      if (!leader || typeof leader.lease !== 'number') return def.requestSerialize(req as Req);
      return def.requestSerialize({ ...req, leader: { ...leader, lease: wireId(leader.lease) } } as Req);
    },
  };
}

/**
 * Marks a method repeatable: etcd's Go client (clientv3/retry.go) retries these after UNAVAILABLE
 * because sending them twice has the same effect as once.
 */
function repeatable<Req, Res>(def: MethodDef<Req, Res>): MethodDef<Req, Res> {
  return { ...def, idempotent: true };
}

export const KV = {
  range: repeatable(exactResponses(KVService.range, R.range)),
  put: exactResponses(idRequests(KVService.put, ['lease']), R.put),
  deleteRange: exactResponses(KVService.deleteRange, R.deleteRange),
  txn: exactResponses(exactTxnRequests(KVService.txn), R.txn),
  compact: exactResponses(KVService.compact, R.headerOnly),
};

export const Watch = {
  watch: exactResponses(WatchService.watch, R.watch),
};

export const Lease = {
  leaseGrant: repeatable(exactResponses(idRequests(LeaseService.leaseGrant, ['ID']), R.leaseWithId)),
  leaseRevoke: repeatable(exactResponses(idRequests(LeaseService.leaseRevoke, ['ID']), R.headerOnly)),
  leaseKeepAlive: exactResponses(idRequests(LeaseService.leaseKeepAlive, ['ID']), R.leaseWithId),
  leaseTimeToLive: repeatable(
    exactResponses(idRequests(LeaseService.leaseTimeToLive, ['ID']), R.leaseWithId),
  ),
  leaseLeases: repeatable(exactResponses(LeaseService.leaseLeases, R.leaseLeases)),
};

export const Cluster = {
  memberAdd: exactResponses(ClusterService.memberAdd, R.memberAdd),
  memberRemove: exactResponses(idRequests(ClusterService.memberRemove, ['ID']), R.members),
  memberUpdate: exactResponses(idRequests(ClusterService.memberUpdate, ['ID']), R.members),
  memberList: repeatable(exactResponses(ClusterService.memberList, R.members)),
  memberPromote: exactResponses(idRequests(ClusterService.memberPromote, ['ID']), R.members),
};

export const Maintenance = {
  alarm: repeatable(exactResponses(idRequests(MaintenanceService.alarm, ['memberID']), R.alarm)),
  status: repeatable(exactResponses(MaintenanceService.status, R.status)),
  defragment: exactResponses(MaintenanceService.defragment, R.headerOnly),
  hash: repeatable(exactResponses(MaintenanceService.hash, R.headerOnly)),
  hashKV: repeatable(exactResponses(MaintenanceService.hashKV, R.headerOnly)),
  moveLeader: repeatable(
    exactResponses(idRequests(MaintenanceService.moveLeader, ['targetID']), R.headerOnly),
  ),
  snapshot: exactResponses(MaintenanceService.snapshot, R.headerOnly),
};

export const Lock = {
  lock: exactResponses(idRequests(LockService.lock, ['lease']), R.headerOnly),
  unlock: exactResponses(LockService.unlock, R.headerOnly),
};

export const Election = {
  campaign: exactResponses(idRequests(ElectionService.campaign, ['lease']), R.campaign),
  proclaim: exactResponses(withExactLeader(ElectionService.proclaim), R.headerOnly),
  leader: exactResponses(ElectionService.leader, R.leader),
  observe: exactResponses(ElectionService.observe, R.leader),
  resign: exactResponses(withExactLeader(ElectionService.resign), R.headerOnly),
};

/** Auth calls: the generated definitions, with the read-only ones marked repeatable. */
export const Auth = {
  ...AuthService,
  userGet: repeatable(AuthService.userGet),
  userList: repeatable(AuthService.userList),
  roleGet: repeatable(AuthService.roleGet),
  roleList: repeatable(AuthService.roleList),
  authStatus: repeatable(AuthService.authStatus),
};
