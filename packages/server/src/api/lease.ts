/**
 * The Lease service: Grant and Revoke go through raft; KeepAlive and TimeToLive are answered by the
 * leader's lessor (this member, while it is leader); Leases lists every lease.
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
    // The proposer picks the id (like etcd's reqIDGen), so every member grants the same one.
    const ID = req.ID || this.etcd.idGen.nextId();
    const r = await this.etcd.propose(withIdentity({ leaseGrant: { ID, TTL: req.TTL } }, ctx));
    const res = r.response as { ID: number; TTL: number };
    return { header: header(this.etcd, r.revision), ID: res.ID, TTL: res.TTL, error: '' };
  }

  /** Revoking deletes the lease's keys: apply checks write permission on each (etcd's checkLeasePuts). */
  async revoke(req: { ID: number }, ctx: CallContext = ANONYMOUS): Promise<Resp<LeaseRevokeResponse>> {
    const r = await this.etcd.propose(withIdentity({ leaseRevoke: { ID: req.ID } }, ctx));
    return { header: header(this.etcd, r.revision) };
  }

  /** One keep-alive; TTL 0 when the lease does not exist (etcd answers so, it is not an error). */
  async keepAliveOnce(id: number): Promise<Resp<LeaseKeepAliveResponse>> {
    await this.waitLeaderReady();
    const ttl = this.etcd.lessor.renew(id);
    if (ttl > 0) this.etcd.metrics.leaseRenewed.inc();
    return { header: header(this.etcd), ID: id, TTL: Math.max(ttl, 0) };
  }

  async timeToLive(req: LeaseTimeToLiveRequest): Promise<Resp<LeaseTimeToLiveResponse>> {
    await this.etcd.readBarrier();
    const lease = this.etcd.lessor.lookup(req.ID);
    if (!lease) return { header: header(this.etcd), ID: req.ID, TTL: -1 };
    const keys = req.keys ? [...lease.keys].sort().map(keyBytes) : [];
    return {
      header: header(this.etcd),
      ID: lease.id,
      TTL: this.etcd.lessor.remaining(lease),
      grantedTTL: lease.ttl,
      keys,
    };
  }

  async leases(): Promise<Resp<LeaseLeasesResponse>> {
    await this.etcd.readBarrier();
    const leases = this.etcd.lessor
      .all()
      .map((l) => ({ ID: l.id }))
      .sort((a, b) => a.ID - b.ID);
    return { header: header(this.etcd), leases };
  }

  private async waitLeaderReady(): Promise<void> {
    if (this.etcd.leaderId === 0) throw Errors.noLeader();
    if (!this.etcd.isLeader) throw Errors.notLeader();
  }
}
