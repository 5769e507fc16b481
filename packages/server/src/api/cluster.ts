/**
 * The Cluster service: MemberList, and MemberAdd/Remove/Update/Promote through raft ConfChange entries
 * with etcd's checks (strict reconfiguration: a change must not leave fewer started voters than a
 * quorum; learners are promoted only when in sync).
 */
import type {
  DeepPartial,
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MemberPromoteResponse,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  Member as PbMember,
} from '@kv/client/api';
import { ConfChangeType } from '@kv/raft';
import { checkAdmin } from '../auth/permissions.js';
import { Errors } from '../etcdserver/errors.js';
import { computeMemberId } from '../etcdserver/member-id.js';
import { type Member, Membership } from '../etcdserver/membership.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { forwardPromote } from '../peer/leader-forward.js';
import { header } from './context.js';
import { ANONYMOUS, type CallContext } from './identity.js';

type Resp<T> = DeepPartial<T>;

const toPb = (m: Member): PbMember => ({
  ID: m.id,
  name: m.name,
  peerURLs: m.peerURLs,
  clientURLs: m.clientURLs,
  isLearner: m.isLearner,
});

function validUrls(urls: readonly string[]): boolean {
  if (urls.length === 0) return false;
  return urls.every((u) => {
    try {
      const p = new URL(u);
      return (
        ['http:', 'https:', 'unix:', 'unixs:'].includes(p.protocol) && p.host !== '' && p.pathname === '/'
      );
    } catch {
      return false;
    }
  });
}

/** Votes that make a quorum of `n` voters. */
function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** etcd's isConnectedSince: active (since !== 0) for at least the health interval. */
function connectedLongEnough(since: number, now: number): boolean {
  return since !== 0 && since <= now - HEALTH_INTERVAL_MS;
}

/**
 * etcd's mayRemoveMember under --strict-reconfig-check, after its started-members check: whether
 * removing voter `id` would leave fewer voters connected (for the health interval) than a quorum.
 * A peer that has never been active is safe to remove (it is not part of the active quorum); otherwise
 * one is taken off the connected count, whether or not the removed member is among them: a member that
 * connected only moments ago does not count as connected, yet it is not "down" either.
 *
 * @example
 * // Two voters, the peer connected 2 s ago: removing either would break the active quorum.
 * breaksActiveQuorum(2n, [1n, 2n], 1n, (p) => (p === 2n ? now - 2000 : 0), now); // true
 */
export function breaksActiveQuorum(
  id: bigint,
  voters: readonly bigint[],
  self: bigint,
  activeSince: (peer: bigint) => number,
  now: number,
): boolean {
  if (id !== self && activeSince(id) === 0) return false;
  const connected = voters.filter((v) => v === self || connectedLongEnough(activeSince(v), now)).length;
  return connected - 1 < majority(voters.length - 1);
}

/** Handlers of etcdserverpb.Cluster. */
export class ClusterApi {
  constructor(
    private readonly etcd: EtcdServer,
    private readonly strictReconfigCheck: boolean,
  ) {}

  private list(): PbMember[] {
    return this.etcd.membership.list().map(toPb);
  }

  private hdr() {
    const h = header(this.etcd);
    return { clusterId: h.clusterId, memberId: h.memberId, raftTerm: h.raftTerm, revision: 0 };
  }

  /** Voters this member counts as connected (itself always) for etcd's health interval. */
  private connectedVoters(voters: readonly Member[]): number {
    return voters.filter((v) => this.isConnected(v.id)).length;
  }

  private isConnected(id: bigint): boolean {
    return id === this.etcd.memberId || connectedLongEnough(this.etcd.transport.activeSince(id), Date.now());
  }

  /** Served from local state, like etcd 3.4 (no linearizable read). */
  async memberList(): Promise<Resp<MemberListResponse>> {
    return { header: this.hdr(), members: this.list() };
  }

  /** Membership changes are root only while auth is enabled (etcd's checkMembershipOperationPermission). */
  private admin(ctx: CallContext): void {
    if (this.etcd.auth.isEnabled()) checkAdmin(this.etcd.auth, ctx.authInfo);
  }

  async memberAdd(req: MemberAddRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<MemberAddResponse>> {
    this.admin(ctx);
    const urls = req.peerURLs.map((u) => u.replace(/\/$/, ''));
    if (!validUrls(req.peerURLs)) throw Errors.memberBadURLs();
    const ms = this.etcd.membership;
    if (ms.peerUrlInUse(urls)) throw Errors.peerURLExist();
    if (req.isLearner) {
      if (ms.learners().length >= 1) throw Errors.tooManyLearners();
    } else if (this.strictReconfigCheck) {
      // etcd's IsReadyToAddVotingMember: after adding one unstarted voter the started voters must
      // still form a quorum, except when growing a 1-member cluster to 2 (restoring data).
      const voters = ms.voters();
      const nmembers = voters.length + 1;
      const nstarted = voters.filter(Membership.isStarted).length;
      if (!(nstarted === 1 && nmembers === 2) && nstarted < majority(nmembers)) {
        throw Errors.memberNotEnoughStarted();
      }
      // etcd's isConnectedFullySince: every voter connected for the last health interval.
      if (this.connectedVoters(ms.voters()) < ms.voters().length) throw Errors.unhealthy();
    }
    const member: Member = {
      // etcd's member add: no cluster token, the current unix second (v3rpc/member.go NewMember).
      id: computeMemberId(urls, '', Math.floor(Date.now() / 1000)),
      name: '',
      peerURLs: urls,
      clientURLs: [],
      isLearner: req.isLearner,
    };
    await this.etcd.proposeConfChange(
      req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      member,
    );
    return { header: this.hdr(), member: toPb(member), members: this.list() };
  }

  async memberRemove(req: { ID: bigint }, ctx: CallContext = ANONYMOUS): Promise<Resp<MemberRemoveResponse>> {
    this.admin(ctx);
    const ms = this.etcd.membership;
    const m = ms.get(req.ID);
    // An id removed earlier answers the same (etcd maps ErrIDRemoved to ErrGRPCMemberNotFound).
    if (!m) throw Errors.memberNotFound();
    if (this.strictReconfigCheck && !m.isLearner) {
      // Removing a voter must leave a quorum of started voters.
      const voters = ms.voters().filter((v) => v.id !== req.ID);
      const started = voters.filter(Membership.isStarted).length;
      if (voters.length === 0 || started < majority(voters.length)) throw Errors.memberNotEnoughStarted();
      const voterIds = ms.voters().map((v) => v.id);
      const activeSince = (peer: bigint) => this.etcd.transport.activeSince(peer);
      if (breaksActiveQuorum(req.ID, voterIds, this.etcd.memberId, activeSince, Date.now()))
        throw Errors.unhealthy();
    }
    await this.etcd.proposeConfChange(ConfChangeType.RemoveNode, { ...m });
    return { header: this.hdr(), members: this.list() };
  }

  async memberUpdate(
    req: MemberUpdateRequest,
    ctx: CallContext = ANONYMOUS,
  ): Promise<Resp<MemberUpdateResponse>> {
    this.admin(ctx);
    const ms = this.etcd.membership;
    const m = ms.get(req.ID);
    if (!m) throw Errors.memberNotFound();
    const urls = req.peerURLs.map((u) => u.replace(/\/$/, ''));
    if (!validUrls(req.peerURLs)) throw Errors.memberBadURLs();
    if (ms.peerUrlInUse(urls, req.ID)) throw Errors.peerURLExist();
    await this.etcd.proposeConfChange(ConfChangeType.UpdateNode, { ...m, peerURLs: urls });
    return { header: this.hdr(), members: this.list() };
  }

  async memberPromote(
    req: { ID: bigint },
    ctx: CallContext = ANONYMOUS,
  ): Promise<Resp<MemberPromoteResponse>> {
    this.admin(ctx);
    if (this.etcd.isLeader) await this.promoteOnLeader(req.ID);
    else await forwardPromote(this.etcd, req.ID);
    // etcd counts on the member that took the request, once the promotion succeeded.
    this.etcd.metrics.learnerPromoteSucceed.inc();
    return { header: this.hdr(), members: this.list() };
  }

  /**
   * etcd's mayPromoteMember on the leader: only a learner, and only once raft has replicated at least
   * 90 % of the leader's log to it; then an AddNode ConfChange turns it into a voter.
   */
  async promoteOnLeader(id: bigint): Promise<Member[]> {
    const m = this.etcd.membership.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) throw Errors.memberNotLearner();
    const progress = this.etcd.progress();
    const learner = progress?.get(id);
    const leader = progress?.get(this.etcd.memberId);
    if (!learner || !leader || learner.match < leader.match * LEARNER_READY_PERCENT)
      throw Errors.learnerNotReady();
    return this.etcd.proposeConfChange(ConfChangeType.AddNode, { ...m, isLearner: false }, true);
  }
}

/** etcd's HealthInterval: how long peers must have been connected before a reconfiguration. */
const HEALTH_INTERVAL_MS = 5000;

/** A learner is ready for promotion once its log matches this share of the leader's (etcd's readyPercent). */
const LEARNER_READY_PERCENT = 0.9;
