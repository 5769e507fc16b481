/**
 * The RPC methods the client calls: the generated definitions, wrapped where a request or response
 * carries 64-bit ids so callers pass and get {@link Id}s (see ids.ts). Field numbers are etcd's (rpc.proto,
 * v3lock.proto, v3election.proto). Auth calls use the generated definitions directly: their
 * responses hold names, and their header ids stay the codec's exact bigints.
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
import { type ExactReq, exactResponses, idRequests, wireId } from './ids.js';
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
  range: repeatable(exactResponses(KVService.range)),
  put: exactResponses(idRequests(KVService.put, ['lease'])),
  deleteRange: exactResponses(KVService.deleteRange),
  txn: exactResponses(exactTxnRequests(KVService.txn)),
  compact: exactResponses(KVService.compact),
};

export const Watch = {
  watch: exactResponses(WatchService.watch),
};

export const Lease = {
  leaseGrant: repeatable(exactResponses(idRequests(LeaseService.leaseGrant, ['ID']))),
  leaseRevoke: repeatable(exactResponses(idRequests(LeaseService.leaseRevoke, ['ID']))),
  leaseKeepAlive: exactResponses(idRequests(LeaseService.leaseKeepAlive, ['ID'])),
  leaseTimeToLive: repeatable(exactResponses(idRequests(LeaseService.leaseTimeToLive, ['ID']))),
  leaseLeases: repeatable(exactResponses(LeaseService.leaseLeases)),
};

export const Cluster = {
  memberAdd: exactResponses(ClusterService.memberAdd),
  memberRemove: exactResponses(idRequests(ClusterService.memberRemove, ['ID'])),
  memberUpdate: exactResponses(idRequests(ClusterService.memberUpdate, ['ID'])),
  memberList: repeatable(exactResponses(ClusterService.memberList)),
  memberPromote: exactResponses(idRequests(ClusterService.memberPromote, ['ID'])),
};

export const Maintenance = {
  alarm: repeatable(exactResponses(idRequests(MaintenanceService.alarm, ['memberID']))),
  status: repeatable(exactResponses(MaintenanceService.status)),
  defragment: exactResponses(MaintenanceService.defragment),
  hash: repeatable(exactResponses(MaintenanceService.hash)),
  hashKV: repeatable(exactResponses(MaintenanceService.hashKV)),
  moveLeader: repeatable(exactResponses(idRequests(MaintenanceService.moveLeader, ['targetID']))),
  snapshot: exactResponses(MaintenanceService.snapshot),
};

export const Lock = {
  lock: exactResponses(idRequests(LockService.lock, ['lease'])),
  unlock: exactResponses(LockService.unlock),
};

export const Election = {
  campaign: exactResponses(idRequests(ElectionService.campaign, ['lease'])),
  proclaim: exactResponses(withExactLeader(ElectionService.proclaim)),
  leader: exactResponses(ElectionService.leader),
  observe: exactResponses(ElectionService.observe),
  resign: exactResponses(withExactLeader(ElectionService.resign)),
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
