/**
 * The RPC methods the client calls: the generated definitions, wrapped where a request or response
 * carries 64-bit ids so those stay exact (see ids.ts). Field numbers are etcd's (rpc.proto,
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
  LeaderKey as LeaderKeyCodec,
  LeaseService,
  LockService,
  MaintenanceService,
  WatchService,
} from './api/index.js';
import type { MethodDef } from './connection.js';
import { bigintRequests, type ExactReq, exactRequests, exactResponses, RESPONSE_IDS as R } from './ids.js';
import { exactTxnRequests } from './txn-encoding.js';

/** A LeaderKey whose lease may be a bigint (as returned by `campaign` against etcd). */
export type ExactLeaderKey = ExactReq<DeepPartial<LeaderKey>>;

/**
 * Proclaim and Resign carry the campaign's LeaderKey (field 1), whose lease (field 4) is a 64-bit id:
 * encode that nested message ourselves so a bigint lease stays exact, then let the generated encoder
 * write the rest of the request.
 */
function withExactLeader<Req extends { leader?: DeepPartial<LeaderKey> }, Res>(
  def: MethodDef<Req, Res>,
): MethodDef<Omit<Req, 'leader'> & { leader?: ExactLeaderKey }, Res> {
  const leaderEncoder = exactRequests(
    {
      path: '',
      requestSerialize: (v: DeepPartial<LeaderKey>) => Buffer.from(LeaderKeyCodec.encode(v)),
      responseDeserialize: () => undefined,
    },
    { lease: 4 },
  );
  return {
    path: def.path,
    responseDeserialize: def.responseDeserialize,
    requestSerialize: (req) => {
      const rest = def.requestSerialize({ ...req, leader: undefined } as Req);
      if (!req.leader) return rest;
      const leader = leaderEncoder.requestSerialize(req.leader);
      const head: number[] = [0x0a]; // field 1, length-delimited
      for (let n = leader.length; ; n >>>= 7) {
        if (n < 0x80) {
          head.push(n);
          break;
        }
        head.push((n & 0x7f) | 0x80);
      }
      return Buffer.concat([Buffer.from(head), leader, rest]);
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
  put: exactResponses(exactRequests(KVService.put, { lease: 3 }), R.put),
  deleteRange: exactResponses(KVService.deleteRange, R.deleteRange),
  txn: exactResponses(exactTxnRequests(KVService.txn), R.txn),
  compact: exactResponses(KVService.compact, R.headerOnly),
};

export const Watch = {
  watch: exactResponses(WatchService.watch, R.watch),
};

export const Lease = {
  leaseGrant: repeatable(exactResponses(exactRequests(LeaseService.leaseGrant, { ID: 2 }), R.leaseWithId)),
  leaseRevoke: repeatable(exactResponses(exactRequests(LeaseService.leaseRevoke, { ID: 1 }), R.headerOnly)),
  leaseKeepAlive: exactResponses(exactRequests(LeaseService.leaseKeepAlive, { ID: 1 }), R.leaseWithId),
  leaseTimeToLive: repeatable(
    exactResponses(exactRequests(LeaseService.leaseTimeToLive, { ID: 1 }), R.leaseWithId),
  ),
  leaseLeases: repeatable(exactResponses(LeaseService.leaseLeases, R.leaseLeases)),
};

export const Cluster = {
  memberAdd: exactResponses(ClusterService.memberAdd, R.memberAdd),
  memberRemove: exactResponses(bigintRequests(ClusterService.memberRemove, ['ID']), R.members),
  memberUpdate: exactResponses(bigintRequests(ClusterService.memberUpdate, ['ID']), R.members),
  memberList: repeatable(exactResponses(ClusterService.memberList, R.members)),
  memberPromote: exactResponses(bigintRequests(ClusterService.memberPromote, ['ID']), R.members),
};

export const Maintenance = {
  alarm: repeatable(exactResponses(bigintRequests(MaintenanceService.alarm, ['memberID']), R.alarm)),
  status: repeatable(exactResponses(MaintenanceService.status, R.status)),
  defragment: exactResponses(MaintenanceService.defragment, R.headerOnly),
  hash: repeatable(exactResponses(MaintenanceService.hash, R.headerOnly)),
  hashKV: repeatable(exactResponses(MaintenanceService.hashKV, R.headerOnly)),
  moveLeader: repeatable(
    exactResponses(bigintRequests(MaintenanceService.moveLeader, ['targetID']), R.headerOnly),
  ),
  snapshot: exactResponses(MaintenanceService.snapshot, R.headerOnly),
};

export const Lock = {
  lock: exactResponses(exactRequests(LockService.lock, { lease: 2 }), R.headerOnly),
  unlock: exactResponses(LockService.unlock, R.headerOnly),
};

export const Election = {
  campaign: exactResponses(exactRequests(ElectionService.campaign, { lease: 2 }), R.campaign),
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
