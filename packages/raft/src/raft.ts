import { decodeConfChange, decodeConfChangeV2, encodeConfChangeV2 } from './codec.js';
import { type ChangeResult, Changer, restoreConfState } from './confchange/changer.js';
import { asV2, enterJoint, leaveJoint } from './confchange/conv.js';
import { type Config, type ValidatedConfig, validateConfig } from './config.js';
import {
  CompactedError,
  ProposalDroppedError,
  RaftInvariantError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from './errors.js';
import { entriesSize, RaftLog } from './log/raft-log.js';
import { VoteResult } from './quorum/quorum.js';
import { seededRandom } from './random.js';
import { ReadOnly } from './read-only.js';
import { type Progress, ProgressState } from './tracker/progress.js';
import { ProgressTracker } from './tracker/tracker.js';
import {
  ConfChangeTransition,
  type ConfChangeV2,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  fmtConfState,
  fmtId,
  type HardState,
  isEmptyHardState,
  type Message,
  MessageType,
  makeMessage,
  NONE,
  payloadSize,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
  voteResponseType,
} from './types.js';

/** Why a campaign starts; a transfer campaign bypasses leases and pre-vote. */
export enum CampaignType {
  PreElection = 'CampaignPreElection',
  Election = 'CampaignElection',
  Transfer = 'CampaignTransfer',
}

const CAMPAIGN_TRANSFER_CTX = new TextEncoder().encode(CampaignType.Transfer);

function isTransferContext(ctx: Uint8Array): boolean {
  if (ctx.length !== CAMPAIGN_TRANSFER_CTX.length) return false;
  for (let i = 0; i < ctx.length; i++) if (ctx[i] !== CAMPAIGN_TRANSFER_CTX[i]) return false;
  return true;
}

/**
 * The raft protocol state machine of one node. Not thread of control: everything happens inside
 * `step` and `tick`, and output accumulates in `msgs` / `readStates` for the RawNode to hand out.
 * Use {@link RawNode}; this class is internal.
 */
export class Raft {
  readonly id: bigint;
  term = 0;
  vote = NONE;
  readStates: ReadState[] = [];
  readonly log: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  /** This node is a learner (or not in the configuration at all). */
  isLearner = false;
  /** Outgoing messages; the RawNode drains them into each Ready. */
  msgs: Message[] = [];
  lead = NONE;
  /** Node we are handing leadership to, or NONE. */
  leadTransferee = NONE;
  /**
   * Index of the latest conf change proposed by this leader; a new one is refused until it is applied
   * (only one change may be in flight).
   */
  pendingConfIndex = 0;
  /** Payload bytes appended by this leader and not yet committed. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** Ticks since the last election timeout reset (followers) or since the last CheckQuorum (leaders). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = [];
  private readonly random: () => number;
  private readonly cfg: ValidatedConfig;

  constructor(config: Config) {
    const c = validateConfig(config);
    this.cfg = c;
    this.id = c.id;
    this.log = new RaftLog(c.storage, c.maxCommittedSizePerReady);
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize;
    this.trk = new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.disableProposalForwarding = c.disableProposalForwarding;
    this.stepDownOnRemoval = c.stepDownOnRemoval ?? false;
    // The default seed depends only on the id's low 32 bits (mulberry32 keeps 32 bits of seed anyway).
    this.random = c.random ?? seededRandom(c.seed ?? Number(BigInt.asUintN(32, c.id)) * 2654435761);

    const { hardState, confState } = c.storage.initialState();
    const restored = restoreConfState(
      new ProgressTracker(c.maxInflightMsgs, c.maxInflightBytes),
      this.log.lastIndex(),
      confState,
    );
    this.switchToConfig(restored);
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied > 0) this.log.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
    c.logger.info(
      `newRaft ${fmtId(this.id)} [peers: ${this.trk.voterIds().map(fmtId).join(',')}, term: ${this.term}, commit: ${this.log.committed}, applied: ${this.log.applied}, lastindex: ${this.log.lastIndex()}, lastterm: ${this.log.lastTerm()}]`,
    );
  }

  get logger() {
    return this.cfg.logger;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---------------------------------------------------------------- sending

  /** Queues a message, stamping sender and (for most types) the current term. */
  private send(m: Message): void {
    m.from = this.id;
    const t = m.type;
    if (
      t === MessageType.MsgVote ||
      t === MessageType.MsgVoteResp ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResp
    ) {
      // Vote messages carry the term they are for (the campaign's, or the one a vote is granted in).
      if (m.term === 0) throw new RaftInvariantError(`term should be set when sending ${MessageType[t]}`);
    } else {
      if (m.term !== 0)
        throw new RaftInvariantError(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and ReadIndex forwarded to the leader are local-ish: they carry no term so that a
      // leader in a newer term still accepts them.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends a MsgApp (or a snapshot if the entries are compacted) to `to` if flow control allows. */
  maybeSendAppend(to: bigint, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.log.term(prevIndex);
      ents = this.log.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return this.maybeSendSnapshot(to, pr);
      throw e;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      makeMessage({
        type: MessageType.MsgApp,
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    pr.sentEntries(ents.length, entriesSize(ents), prevIndex + ents.length);
    return true;
  }

  private sendAppend(to: bigint): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendSnapshot(to: bigint, pr: Progress): boolean {
    // Only send a (possibly large) snapshot to a follower that is known to be alive.
    if (!pr.recentActive) {
      this.logger.debug(`ignore sending snapshot to ${fmtId(to)} since it is not recently active`);
      return false;
    }
    let snap: Snapshot;
    try {
      snap = this.log.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(
          `${fmtId(this.id)} failed to send snapshot to ${fmtId(to)} because snapshot is temporarily unavailable`,
        );
        return false;
      }
      throw e;
    }
    if (snap.metadata.index === 0) throw new RaftInvariantError('need non-empty snapshot');
    this.logger.debug(
      `${fmtId(this.id)} [firstindex: ${this.log.firstIndex()}, commit: ${this.log.committed}] sent snapshot[index: ${snap.metadata.index}, term: ${snap.metadata.term}] to ${fmtId(to)}`,
    );
    pr.becomeSnapshot(snap.metadata.index);
    this.send(makeMessage({ type: MessageType.MsgSnap, to, snapshot: snap }));
    return true;
  }

  private sendHeartbeat(to: bigint, ctx: Uint8Array): void {
    // Never tell a follower to commit past what it is known to have: it might not have those entries.
    const pr = this.trk.progress.get(to)!;
    const commit = Math.min(pr.match, this.log.committed);
    this.send(makeMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
  }

  /** Sends MsgApp to every peer (even empty ones, to carry the commit index). */
  bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx() ?? EMPTY_BYTES);
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  // ---------------------------------------------------------------- state transitions

  /** Commits what a quorum has; true if the commit index moved. */
  maybeCommit(): boolean {
    return this.log.maybeCommit(this.trk.committed(), this.term);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const next = this.log.lastIndex() + 1;
    const selfMatch = this.stableLastIndex();
    this.trk.visit((id, pr) => {
      pr.match = id === this.id ? selfMatch : 0;
      pr.next = next;
      pr.state = ProgressState.Probe;
      pr.pendingSnapshot = 0;
      pr.probeSent = false;
      pr.recentActive = false;
      pr.inflights.reset();
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
    this.pendingReadIndexMessages = [];
  }

  /**
   * Last index of the log that is already persisted. The leader counts only persisted entries of its own
   * towards a quorum: if it crashed, unpersisted entries would be gone.
   */
  private stableLastIndex(): number {
    if (this.log.unstable.snapshot) return 0;
    const stored = this.log.storage.lastIndex();
    if (this.log.unstable.entries.length > 0) return Math.min(stored, this.log.unstable.offset - 1);
    return stored;
  }

  /** Appends proposals to the leader's log; false if the uncommitted-size limit refuses them. */
  private appendEntry(proposed: readonly Entry[]): boolean {
    let li = this.log.lastIndex();
    // Fresh objects: the proposal's entries may be shared (a duplicated or retried message).
    const es = proposed.map((e) => ({ term: this.term, index: ++li, type: e.type, data: e.data }));
    if (!this.increaseUncommittedSize(es)) {
      this.logger.warn(
        `${fmtId(this.id)} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`,
      );
      return false;
    }
    this.log.append(es);
    // Our own progress advances only once these entries are persisted (see onPersisted).
    return true;
  }

  /**
   * Called by the RawNode once the application has persisted the log up to (index, term): the leader's own
   * acknowledgement, which may commit entries.
   */
  onPersisted(index: number, term: number): void {
    if (this.state !== StateType.Leader) return;
    if (!this.log.matchTerm(index, term)) return;
    const pr = this.trk.progress.get(this.id);
    if (!pr) return;
    if (pr.maybeUpdate(index) && this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  becomeFollower(term: number, lead: bigint): void {
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.info(`${fmtId(this.id)} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.Leader)
      throw new RaftInvariantError('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.info(`${fmtId(this.id)} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === StateType.Leader)
      throw new RaftInvariantError('invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: a failed pre-election leaves no trace.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
    this.logger.info(`${fmtId(this.id)} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.Follower)
      throw new RaftInvariantError('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Conservatively treat every entry we hold as possibly holding an unapplied conf change.
    this.pendingConfIndex = this.log.lastIndex();
    // An empty entry of our term: committing it commits everything before it (§5.4.2) and tells us the
    // commit index, which ReadIndex needs.
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES }])) {
      throw new RaftInvariantError('empty entry was dropped');
    }
    this.logger.info(`${fmtId(this.id)} became leader at term ${this.term}`);
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) {
      this.logger.debug(`${fmtId(this.id)} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${fmtId(this.id)} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(
        `${fmtId(this.id)} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`,
      );
      return;
    }
    this.campaign(t);
  }

  /** A conf change is committed but not applied: our config may be stale, so do not campaign yet. */
  private hasUnappliedConfChanges(): boolean {
    if (this.log.applied >= this.log.committed) return false;
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const hi = this.log.committed + 1;
    if (lo >= hi) return false;
    for (const e of this.log.slice(lo, hi)) {
      if (e.type === EntryType.ConfChange || e.type === EntryType.ConfChangeV2) return true;
    }
    return false;
  }

  /** Starts a (pre-)election. */
  campaign(t: CampaignType): void {
    if (!this.promotable()) {
      this.logger.warn(`${fmtId(this.id)} is unpromotable; campaign() should have been called`);
      return;
    }
    let term: number;
    let voteType: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteType = MessageType.MsgPreVote;
      // Pre-vote asks "would you vote for me in the next term?" without moving to it.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.MsgVote;
      term = this.term;
    }
    const ids = this.trk.voterIds();
    for (const id of ids) {
      if (id !== this.id) continue;
      // Our own vote counts immediately; it is persisted (HardState.vote) before any MsgVote leaves.
      const res = this.poll(this.id, voteResponseType(voteType), true);
      if (res === VoteResult.Won) {
        if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
        else this.becomeLeader();
        return;
      }
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of ids) {
      if (id === this.id) continue;
      this.logger.info(
        `${fmtId(this.id)} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${MessageType[voteType]} request to ${fmtId(id)} at term ${this.term}`,
      );
      this.send(
        makeMessage({
          type: voteType,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER_CTX : EMPTY_BYTES,
        }),
      );
    }
  }

  private poll(id: bigint, t: MessageType, granted: boolean): VoteResult {
    this.logger.info(
      `${fmtId(this.id)} received ${MessageType[t]} ${granted ? '' : 'rejection '}from ${fmtId(id)} at term ${this.term}`,
    );
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---------------------------------------------------------------- step

  /**
   * Feeds one message into the state machine. Throws ProposalDroppedError when a proposal cannot be
   * accepted.
   */
  step(m: Message): void {
    // Term rules common to every role (§5.1), plus the lease and pre-vote refinements.
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = isTransferContext(m.context);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader within the minimum election timeout: ignore the disruption (§6 of the
          // thesis, "disruptive servers").
          this.logger.info(
            `${fmtId(this.id)} [logterm: ${this.log.lastTerm()}, index: ${this.log.lastIndex()}, vote: ${fmtId(this.vote)}] ignored ${MessageType[m.type]} from ${fmtId(m.from)} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; we move there only once a quorum granted.
      } else {
        this.logger.info(
          `${fmtId(this.id)} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${fmtId(m.from)} [term: ${m.term}]`,
        );
        if (
          m.type === MessageType.MsgApp ||
          m.type === MessageType.MsgHeartbeat ||
          m.type === MessageType.MsgSnap
        ) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, NONE);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // A stale leader (e.g. after a partition healed) would otherwise never learn about our term: with
        // CheckQuorum/PreVote we never bump the term by campaigning against it. This response makes it
        // step down.
        this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        // Reject with our term so the pre-candidate learns it is behind.
        this.send(
          makeMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }),
        );
      }
      // Otherwise ignore stale messages.
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(
            `${fmtId(this.id)} cast ${MessageType[m.type]} for ${fmtId(m.from)} at term ${this.term}`,
          );
          // Respond with the message's term: a pre-vote grant is for the future term.
          this.send(makeMessage({ type: voteResponseType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(
            `${fmtId(this.id)} rejected ${MessageType[m.type]} from ${fmtId(m.from)} at term ${this.term}`,
          );
          this.send(
            makeMessage({ type: voteResponseType(m.type), to: m.from, term: this.term, reject: true }),
          );
        }
        return;
      }
      default:
        break;
    }
    switch (this.state) {
      case StateType.Leader:
        this.stepLeader(m);
        return;
      case StateType.Candidate:
      case StateType.PreCandidate:
        this.stepCandidate(m);
        return;
      default:
        this.stepFollower(m);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        if (!this.trk.quorumActive()) {
          this.logger.warn(`${fmtId(this.id)} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, NONE);
        }
        // Start the next observation window.
        this.trk.visit((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
        return;
      case MessageType.MsgProp:
        this.handleProposal(m);
        return;
      case MessageType.MsgReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.log.committed);
          return;
        }
        // Until an entry of our term is committed we do not know the cluster's commit index.
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.startReadIndex(m);
        return;
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) {
      this.logger.debug(`${fmtId(this.id)} no progress available for ${fmtId(m.from)}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        this.handleAppendResponse(m, pr);
        return;
      case MessageType.MsgHeartbeatResp: {
        pr.recentActive = true;
        pr.probeSent = false;
        // The follower is alive; free a slot so a stuck window (lost acks) can move again.
        if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (this.readOnly.option !== 'safe' || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks || this.trk.config.voters.voteResult(acks) !== VoteResult.Won) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) {
          // Retry later from scratch (the next MsgApp will find out what to send).
          pr.pendingSnapshot = 0;
          this.logger.debug(
            `${fmtId(this.id)} snapshot failed, resumed sending replication messages to ${fmtId(m.from)}`,
          );
        }
        pr.becomeProbe();
        // Wait for a heartbeat response (or MsgAppResp) before probing: the snapshot may still be applying.
        pr.probeSent = true;
        return;
      case MessageType.MsgUnreachable:
        // Optimistic sends were probably lost; go back to probing.
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.logger.debug(
          `${fmtId(this.id)} failed to send message to ${fmtId(m.from)} because it is unreachable`,
        );
        return;
      case MessageType.MsgTransferLeader: {
        if (pr.isLearner) {
          this.logger.debug(`${fmtId(this.id)} is learner. Ignored transferring leadership`);
          return;
        }
        const transferee = m.from;
        const last = this.leadTransferee;
        if (last !== NONE) {
          if (last === transferee) return; // already transferring to it
          this.abortLeaderTransfer();
        }
        if (transferee === this.id) return;
        // The transfer must finish within one election timeout or it is aborted (tickHeartbeat).
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
        else this.sendAppend(transferee);
        return;
      }
      default:
        return;
    }
  }

  private handleProposal(m: Message): void {
    if (m.entries.length === 0) throw new RaftInvariantError(`${fmtId(this.id)} stepped empty MsgProp`);
    if (!this.trk.progress.has(this.id)) {
      // Removed from the configuration (but still leading): a proposal could never commit here.
      throw new ProposalDroppedError('leader was removed from the configuration');
    }
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(`leadership transfer to ${fmtId(this.leadTransferee)} in progress`);
    }
    const entries = m.entries.slice();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      let cc: ConfChangeV2 | undefined;
      if (e.type === EntryType.ConfChange) cc = asV2(decodeConfChange(e.data));
      else if (e.type === EntryType.ConfChangeV2) cc = decodeConfChangeV2(e.data);
      if (!cc) continue;
      const alreadyPending = this.pendingConfIndex > this.log.applied;
      const alreadyJoint = this.trk.config.voters.isJoint();
      const wantsLeaveJoint = cc.changes.length === 0;
      let refused = '';
      if (alreadyPending)
        refused = `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.log.applied})`;
      else if (alreadyJoint && !wantsLeaveJoint) refused = 'must transition out of joint config first';
      else if (!alreadyJoint && wantsLeaveJoint) refused = 'not in joint state; refusing empty conf change';
      if (refused) {
        // Replace with an empty entry rather than failing the whole batch: the log position is kept and
        // the application sees (when applying) that its change did not happen.
        this.logger.info(`${fmtId(this.id)} ignoring conf change at term ${this.term}: ${refused}`);
        entries[i] = { term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES };
      } else {
        this.pendingConfIndex = this.log.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(entries)) throw new ProposalDroppedError('uncommitted entries size limit reached');
    this.bcastAppend();
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(
        `${fmtId(this.id)} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${fmtId(m.from)} for index ${m.index}`,
      );
      let nextProbeIdx = m.rejectHint;
      if (m.logTerm > 0) {
        // Fast back-off: the follower told us the term at its hint index. Skip every entry of ours with a
        // larger term; they cannot match (see findConflictByTerm).
        nextProbeIdx = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      }
      if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === ProgressState.Probe) {
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
        // The follower caught up past our compaction point (through the snapshot or otherwise): its
        // missing entries are now all in our log, so plain replication can resume.
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === ProgressState.Replicate) {
        pr.inflights.freeLE(m.index);
      }
      if (this.maybeCommit()) {
        this.releasePendingReadIndexMessages();
        this.bcastAppend();
      } else if (oldPaused) {
        // It was paused and we learned something; send what it may be missing.
        this.sendAppend(m.from);
      }
      // Fill the flow-control window.
      while (this.maybeSendAppend(m.from, false)) {
        /* keep sending */
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.logger.info(
          `${fmtId(this.id)} sent MsgTimeoutNow to ${fmtId(m.from)} after received MsgAppResp`,
        );
        this.sendTimeoutNow(m.from);
      }
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp =
      this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        throw new ProposalDroppedError('no leader');
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from); // always m.term === this.term here
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, m.type, !m.reject);
        if (res === VoteResult.Won) {
          if (this.state === StateType.PreCandidate) {
            this.campaign(CampaignType.Election);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === VoteResult.Lost) {
          // A pre-candidate that lost stays in its term; a candidate already moved to it.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(
          `${fmtId(this.id)} [term ${this.term} state ${StateType[this.state]}] ignored MsgTimeoutNow from ${fmtId(m.from)}`,
        );
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === NONE) throw new ProposalDroppedError('no leader');
        if (this.disableProposalForwarding) throw new ProposalDroppedError('proposal forwarding is disabled');
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgTimeoutNow:
        this.logger.info(
          `${fmtId(this.id)} [term ${this.term}] received MsgTimeoutNow from ${fmtId(m.from)} and starts an election to get leadership`,
        );
        // A transfer never uses pre-vote: the leader asked for it, and the lease check is bypassed.
        this.hup(CampaignType.Transfer);
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`${fmtId(this.id)} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) return;
        this.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
        return;
      default:
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index is already settled; tell the leader where we are.
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.log.committed }));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
      return;
    }
    // Rejection with a hint: the largest index <= m.index whose term is <= m.logTerm, so the leader can
    // skip entries that cannot match in one round trip.
    const hintIndex = Math.min(m.index, this.log.lastIndex());
    const hint = this.log.findConflictByTerm(hintIndex, m.logTerm);
    this.logger.debug(
      `${fmtId(this.id)} [logterm: ${this.log.termOrZero(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${fmtId(m.from)}`,
    );
    this.send(
      makeMessage({
        type: MessageType.MsgAppResp,
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(makeMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot!;
    if (this.restore(snap)) {
      this.logger.info(
        `${fmtId(this.id)} [commit: ${this.log.committed}] restored snapshot [index: ${snap.metadata.index}, term: ${snap.metadata.term}]`,
      );
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.log.lastIndex() }));
    } else {
      this.logger.info(
        `${fmtId(this.id)} [commit: ${this.log.committed}] ignored snapshot [index: ${snap.metadata.index}, term: ${snap.metadata.term}]`,
      );
      this.send(makeMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.log.committed }));
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or our log already has it. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.log.committed) return false;
    if (this.state !== StateType.Follower) {
      // Only a follower may receive a snapshot (a leader would not send one to a non-follower). Defensive:
      // step down to a newer term so the sender re-synchronizes.
      this.logger.warn(
        `${fmtId(this.id)} attempted to restore snapshot as ${StateType[this.state]}; should never happen`,
      );
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    const found = [cs.voters, cs.learners, cs.votersOutgoing].some((ids) => ids.includes(this.id));
    if (!found) {
      // A snapshot that does not include us: probably a configuration in which we were removed. Ignore it.
      this.logger.warn(
        `${fmtId(this.id)} attempted to restore snapshot but it is not in the ConfState; should never happen`,
      );
      return false;
    }
    if (this.log.matchTerm(s.metadata.index, s.metadata.term)) {
      // We already have everything the snapshot covers: just move the commit index.
      this.log.commitTo(s.metadata.index);
      return false;
    }
    this.log.restore(s);
    const restored = restoreConfState(
      new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes),
      this.log.lastIndex(),
      cs,
    );
    this.switchToConfig(restored);
    return true;
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  private startReadIndex(m: Message): void {
    if (this.readOnly.option === 'safe') {
      this.readOnly.addRequest(this.log.committed, m);
      // Our own ack counts towards the quorum.
      this.readOnly.recvAck(this.id, m.entries[0]!.data);
      this.bcastHeartbeatWithCtx(m.entries[0]!.data);
    } else {
      this.respondToReadIndex(m, this.log.committed);
    }
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, requestCtx: req.entries[0]!.data });
      return;
    }
    this.send(makeMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index, entries: req.entries }));
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.startReadIndex(m);
  }

  private sendTimeoutNow(to: bigint): void {
    this.send(makeMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Voters (not learners) that are in the configuration may campaign, unless a snapshot is pending. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.log.hasPendingSnapshot();
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  // ---------------------------------------------------------------- membership

  /** Applies a committed conf change and returns the resulting ConfState. */
  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.trk, this.log.lastIndex());
    let result: ChangeResult;
    if (leaveJoint(cc)) {
      result = changer.leaveJoint();
    } else {
      const j = enterJoint(cc);
      result = j.joint ? changer.enterJoint(j.autoLeave, cc.changes) : changer.simple(cc.changes);
    }
    return this.switchToConfig(result);
  }

  /** Installs a configuration and reacts to it (step down, commit, probe new peers). */
  switchToConfig(r: ChangeResult): ConfState {
    this.trk.config = r.config;
    this.trk.progress = r.progress;
    this.logger.info(
      `${fmtId(this.id)} switched to configuration voters=(${this.trk.config.voters.incoming.sorted().map(fmtId).join(' ')})&&(${this.trk.config.voters.outgoing.sorted().map(fmtId).join(' ')}) learners=(${this.trk.learnerIds().map(fmtId).join(' ')})`,
    );
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((!pr || this.isLearner) && this.state === StateType.Leader) {
      // Removed or demoted while leading. By default keep leading until a new leader emerges (the
      // removal entry must still be replicated); optionally step down at once.
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.Leader || cs.voters.length === 0) return cs;
    // The quorum changed: something may now be committed. Also probe new peers.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.trk.config.voters.has(this.leadTransferee))
      this.abortLeaderTransfer();
    return cs;
  }

  /**
   * After the application applied entries up to `applied`: a leader in an auto-leave joint configuration
   * proposes the (empty) change that leaves it once the config change itself is applied.
   */
  onApplied(applied: number): void {
    if (this.trk.config.autoLeave && applied >= this.pendingConfIndex && this.state === StateType.Leader) {
      const data = encodeEmptyConfChangeV2();
      const e: Entry = { term: 0, index: 0, type: EntryType.ConfChangeV2, data };
      // Bypass handleProposal's checks: this is the leave the joint config is waiting for.
      if (!this.appendEntry([e])) throw new RaftInvariantError('refused to append auto-leave entry');
      this.pendingConfIndex = this.log.lastIndex();
      this.logger.info(
        `initiating automatic transition out of joint configuration ${fmtConfState(this.trk.confState())}`,
      );
      this.bcastAppend();
    }
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    const s = payloadSize(ents);
    // Entries from an earlier term may be counted here without having been added; clamp at zero.
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    const s = payloadSize(ents);
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  loadState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new RaftInvariantError(
        `${fmtId(this.id)} state.commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }
}

function encodeEmptyConfChangeV2(): Uint8Array {
  return encodeConfChangeV2({ transition: ConfChangeTransition.Auto, changes: [], context: EMPTY_BYTES });
}
