/**
 * The Lease service: Grant and Revoke go through raft; KeepAlive and TimeToLive are answered by the
 * leader's lessor (followers forward them over the peer URL); Leases lists every lease.
 */
import type {
  DeepPartial,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from '@kv/client/api';
import { Errors } from '../etcdserver/errors.js';
import { keyBytes, MAX_LEASE_TTL } from '../etcdserver/lessor.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { forwardKeepAlive, forwardTimeToLive } from '../peer/leader-forward.js';
import { header } from './context.js';
import { ANONYMOUS, type CallContext } from './identity.js';
import { withIdentity } from './propose.js';

type Resp<T> = DeepPartial<T>;

/** Handlers of etcdserverpb.Lease. */
export class LeaseApi {
  constructor(private readonly etcd: EtcdServer) {}

  async grant(req: LeaseGrantRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<LeaseGrantResponse>> {
    if (req.TTL > MAX_LEASE_TTL) throw Errors.leaseTTLTooLarge();
    // After the request's own checks, as etcd 3.4.23 orders them (checked against the real etcd).
    await this.etcd.checkQuota({ leaseGrant: req });
    // The proposer picks the id (like etcd's reqIDGen), so every member grants the same one; one the
    // lessor already holds is skipped (etcd would answer "lease already exists" for it).
    const ID = req.ID || this.etcd.idGen.nextLeaseId((id) => this.etcd.lessor.lookup(id) !== undefined);
    const r = await this.etcd.propose(withIdentity({ leaseGrant: { ID, TTL: req.TTL } }, ctx), ctx?.caller);
    const res = r.response as { ID: bigint; TTL: number };
    return { header: header(this.etcd, r.revision), ID: res.ID, TTL: res.TTL, error: '' };
  }

  /** Revoking deletes the lease's keys: apply checks write permission on each (etcd's checkLeasePuts). */
  async revoke(req: { ID: bigint }, ctx: CallContext = ANONYMOUS): Promise<Resp<LeaseRevokeResponse>> {
    const r = await this.etcd.propose(withIdentity({ leaseRevoke: { ID: req.ID } }, ctx), ctx?.caller);
    return { header: header(this.etcd, r.revision) };
  }

  /**
   * One keep-alive; TTL 0 when the lease does not exist (etcd answers so, it is not an error). Only the
   * leader's lessor knows expiries: a follower forwards the renewal to the leader's `/leases`.
   */
  async keepAliveOnce(id: bigint): Promise<Resp<LeaseKeepAliveResponse>> {
    if (this.etcd.leaderId === 0n) throw Errors.noLeader();
    const ttl = this.etcd.isLeader ? this.renewLocal(id) : await forwardKeepAlive(this.etcd, id);
    if (ttl > 0) this.etcd.metrics.leaseRenewed.inc();
    return { header: header(this.etcd), ID: id, TTL: Math.max(ttl, 0) };
  }

  /** Renews on this member, which must be the leader (also serves peers' `/leases`). */
  renewLocal(id: bigint): number {
    if (!this.etcd.isLeader) throw Errors.notLeader();
    // A keep-alive after a checkpoint clears the checkpointed remaining TTL on every member (etcd).
    if (this.etcd.lessor.needsClear(id)) this.etcd.checkpointLeases([{ ID: id, remainingTTL: 0 }]);
    return this.etcd.lessor.renew(id);
  }

  /** TimeToLive as the leader sees it (a follower asks the leader's `/leases/internal`). */
  async timeToLive(req: LeaseTimeToLiveRequest): Promise<Resp<LeaseTimeToLiveResponse>> {
    if (!this.etcd.isLeader && this.etcd.leaderId !== 0n) {
      const r = await forwardTimeToLive(this.etcd, req);
      if (!r) return { header: header(this.etcd), ID: req.ID, TTL: -1 };
      return { ...r, header: header(this.etcd) };
    }
    await this.etcd.readBarrier();
    return {
      header: header(this.etcd),
      ...(this.localTimeToLive(req.ID, req.keys) ?? { ID: req.ID, TTL: -1 }),
    };
  }

  /** The local lessor's answer, or undefined when the lease does not exist. */
  localTimeToLive(id: bigint, withKeys: boolean): Omit<LeaseTimeToLiveResponse, 'header'> | undefined {
    const lease = this.etcd.lessor.lookup(id);
    if (!lease) return undefined;
    return {
      ID: lease.id,
      TTL: this.etcd.lessor.remaining(lease),
      grantedTTL: lease.ttl,
      keys: withKeys ? [...lease.keys].sort().map(keyBytes) : [],
    };
  }

  async leases(): Promise<Resp<LeaseLeasesResponse>> {
    await this.etcd.readBarrier();
    const leases = this.etcd.lessor
      .all()
      .map((l) => ({ ID: l.id }))
      .sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
    return { header: header(this.etcd), leases };
  }
}
