import { encodeConfChange, encodeConfChangeV2 } from './codec.js';
import { asV2, isConfChangeV2 } from './confchange/conv.js';
import type { Config } from './config.js';
import {
  ConfigError,
  ProposalDroppedError,
  RaftInvariantError,
  StepLocalMessageError,
  StepPeerNotFoundError,
} from './errors.js';
import { Raft } from './raft.js';
import { ProgressState } from './tracker/progress.js';
import {
  type ConfChange,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  fmtId,
  type HardState,
  hardStateEqual,
  isLocalMessage,
  isResponseMessage,
  type Message,
  MessageType,
  makeMessage,
  NONE,
  type Peer,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
} from './types.js';

/**
 * Everything raft wants done, in one batch. Handle it in this order, then call `advance()`:
 * 1. persist `hardState`, `entries` and `snapshot` (durably if `mustSync`);
 * 2. send `messages` (a leader may send before its own write finishes; everyone else only after);
 * 3. install `snapshot` into the state machine, apply `committedEntries` in order (calling
 *    `applyConfChange` for conf-change entries);
 * 4. serve reads whose `readStates` index is now applied.
 */
export interface Ready {
  /** Present when leader or role changed. */
  softState?: SoftState;
  /** Present when term, vote or commit changed: persist it. */
  hardState?: HardState;
  /** Answers to readIndex() calls. */
  readStates: ReadState[];
  /** Entries to append to stable storage (may overwrite a conflicting suffix). */
  entries: Entry[];
  /** Snapshot to persist and install, if the leader sent one. */
  snapshot?: Snapshot;
  /** Committed entries to apply to the state machine. */
  committedEntries: Entry[];
  /** Messages to send to peers (after persisting, see above). */
  messages: Message[];
  /** Whether the hard state and entries must be synced to disk before messages are sent. */
  mustSync: boolean;
}

/** Replication status of one peer as seen by the leader. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  isLearner: boolean;
  recentActive: boolean;
  paused: boolean;
  pendingSnapshot: number;
  inflight: number;
}

/** A view of the node for monitoring and tests. */
export interface Status {
  id: bigint;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  config: ConfState;
  /** Per-peer progress; present only on the leader. */
  progress?: Map<bigint, ProgressStatus>;
  leadTransferee: bigint;
}

const PROGRESS_STATE_NAMES = {
  [ProgressState.Probe]: 'probe',
  [ProgressState.Replicate]: 'replicate',
  [ProgressState.Snapshot]: 'snapshot',
} as const;

/**
 * A raft node driven by its caller: the application calls tick() on a timer, step() for each received
 * message, and drains ready()/advance() to persist, send and apply. Single-threaded and deterministic
 * (randomness comes from the seeded PRNG in the config).
 */
export class RawNode {
  /** The protocol state machine (exposed for tests and tooling; not a stable API). */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** What the last Ready handed out, acknowledged by advance(). */
  private inFlight:
    | {
        lastEntry?: { index: number; term: number };
        snapIndex?: number;
        lastCommitted?: number;
        committed: Entry[];
      }
    | undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /**
   * Sets up a brand-new cluster: the log gets one AddNode conf change per peer at term 1, already
   * committed, so every founding member starts from the same configuration. Call once, on empty storage,
   * with the same peers on every founding member. The entries come out in the first Ready like any
   * other (persist them; applying them again via applyConfChange is harmless).
   */
  bootstrap(peers: ReadonlyArray<Peer | bigint>): void {
    if (peers.length === 0) throw new ConfigError('must provide at least one peer to Bootstrap');
    if (this.raft.log.storage.lastIndex() !== 0 || this.raft.log.lastIndex() !== 0) {
      throw new ConfigError("can't bootstrap a nonempty Storage");
    }
    // Make sure the first Ready reports the hard state (term 1, commit).
    this.prevHardState = { term: 0, vote: 0n, commit: 0 };
    this.raft.becomeFollower(1, NONE);
    const changes: ConfChange[] = peers.map((p) => {
      const peer: Peer = typeof p === 'bigint' ? { id: p } : p;
      return { type: ConfChangeType.AddNode, nodeId: peer.id, context: peer.context ?? EMPTY_BYTES };
    });
    const ents: Entry[] = changes.map((cc, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange(cc),
    }));
    this.raft.log.append(ents);
    this.raft.log.committed = ents.length;
    for (const cc of changes) this.raft.applyConfChange(asV2(cc));
  }

  /** Advances the logical clock by one tick (election and heartbeat timeouts count ticks). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if enabled). */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.MsgHup, from: this.raft.id }));
  }

  /**
   * Proposes data to be appended to the log. Throws ProposalDroppedError if this node cannot accept it
   * right now. Acceptance is not a promise to commit: a proposal can still be lost (for example, on a
   * leader change); applications detect that by watching what gets applied.
   */
  propose(data: Uint8Array): void {
    this.raft.step(
      makeMessage({
        type: MessageType.MsgProp,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  /**
   * Proposes several entries at once: one log append and one round of MsgApp for the whole batch, which
   * is much cheaper than calling propose() per entry. All or none are accepted.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    this.raft.step(
      makeMessage({
        type: MessageType.MsgProp,
        from: this.raft.id,
        entries: data.map((d) => ({ term: 0, index: 0, type: EntryType.Normal, data: d })),
      }),
    );
  }

  /** Proposes a membership change (a ConfChange or a ConfChangeV2). */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const entry: Entry = isConfChangeV2(cc)
      ? { term: 0, index: 0, type: EntryType.ConfChangeV2, data: encodeConfChangeV2(cc) }
      : { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
    this.raft.step(makeMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [entry] }));
  }

  /** Applies a committed conf change to raft's configuration; returns the new ConfState (for snapshots). */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(asV2(cc));
  }

  /**
   * Steps a message received from a peer. Throws StepLocalMessageError for message types only raft may
   * raise, and StepPeerNotFoundError for a response from a node not in the configuration (both safe to
   * log and ignore). A proposal forwarded by a follower that this node cannot take is dropped silently,
   * as the network could have lost it: the proposing client times out and retries.
   */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new StepLocalMessageError();
    if (isResponseMessage(m.type) && !this.raft.trk.progress.has(m.from)) {
      throw new StepPeerNotFoundError();
    }
    try {
      this.raft.step(m);
    } catch (e) {
      if (e instanceof ProposalDroppedError && m.type === MessageType.MsgProp && m.from !== this.raft.id) {
        this.raft.logger.debug(
          `${fmtId(this.raft.id)} dropped proposal forwarded by ${fmtId(m.from)}: ${e.message}`,
        );
        return;
      }
      throw e;
    }
  }

  /**
   * Requests a linearizable read point. The answer arrives as a ReadState carrying `ctx` in a later
   * Ready (on the leader, or on a follower via the leader); it may never come if leadership changes, so
   * callers retry on timeout.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(
      makeMessage({
        type: MessageType.MsgReadIndex,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data: ctx }],
      }),
    );
  }

  /** Asks the leader to hand leadership to `transferee` (it catches up, then gets MsgTimeoutNow). */
  transferLeader(transferee: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /** Tells the leader that the last message to `id` could not be delivered. */
  reportUnreachable(id: bigint): void {
    this.raft.step(makeMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Tells the leader whether the snapshot sent to `id` was installed (`ok`) or failed. */
  reportSnapshot(id: bigint, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.MsgSnapStatus, from: id, reject: !ok }));
  }

  /**
   * Whether ready() has something to hand out. False while a Ready is outstanding (handed out, not yet
   * advanced), so an asynchronous loop that checks it during its write cannot start a second batch.
   */
  hasReady(): boolean {
    if (this.inFlight) return false;
    const r = this.raft;
    // Field by field rather than through softState()/hardState(): this runs several times per Ready and
    // would build two objects each time (in code V8 has not optimized yet, nothing removes them).
    const ps = this.prevSoftState;
    if (r.lead !== ps.lead || r.state !== ps.raftState) return true;
    const ph = this.prevHardState;
    if (r.term !== ph.term || r.vote !== ph.vote || r.log.committed !== ph.commit) return true;
    if (r.log.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.log.unstable.entries.length > 0 || r.log.hasNextCommittedEntries())
      return true;
    return r.readStates.length > 0;
  }

  /**
   * Returns the pending work and marks it handed out. Call advance() once it has been handled; ready()
   * throws if called again before that. tick(), step() and propose() may be called while a Ready is
   * outstanding (for example during an asynchronous fsync): what they produce waits for the next Ready.
   */
  ready(): Ready {
    if (this.inFlight) throw new RaftInvariantError('ready() called again before advance()');
    const r = this.raft;
    const rd: Ready = {
      readStates: r.readStates,
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) {
      rd.softState = ss;
      this.prevSoftState = ss;
    }
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHardState)) {
      rd.hardState = hs;
      rd.mustSync = hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote;
      this.prevHardState = hs;
    }
    if (rd.entries.length > 0) rd.mustSync = true;
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot;
    r.msgs = [];
    r.readStates = [];
    // Not entries[length - 1] on an empty list: index -1 is a named-property miss (a megamorphic load).
    const last = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1] : undefined;
    this.inFlight = {
      committed: rd.committedEntries,
      ...(last ? { lastEntry: { index: last.index, term: last.term } } : {}),
      ...(rd.snapshot ? { snapIndex: rd.snapshot.metadata.index } : {}),
    };
    return rd;
  }

  /**
   * Acknowledges the last Ready: its entries and snapshot are persisted and its committed entries applied.
   */
  advance(): void {
    const r = this.raft;
    const done = this.inFlight;
    if (!done) return;
    this.inFlight = undefined;
    if (done.snapIndex !== undefined) {
      r.log.stableSnapTo(done.snapIndex);
      // The application installed the snapshot: its state is now as of the snapshot index.
      if (done.snapIndex > r.log.applied) r.log.appliedTo(done.snapIndex);
    }
    if (done.lastEntry) {
      r.log.stableTo(done.lastEntry.index, done.lastEntry.term);
      r.onPersisted(done.lastEntry.index, done.lastEntry.term);
    }
    if (done.committed.length > 0) {
      const lastApplied = done.committed[done.committed.length - 1]!.index;
      if (r.state === StateType.Leader) r.reduceUncommittedSize(done.committed);
      r.log.appliedTo(lastApplied);
      r.onApplied(lastApplied);
    }
  }

  /** Current state for monitoring (progress per peer only on the leader). */
  status(): Status {
    const r = this.raft;
    const s: Status = {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.log.applied,
      config: r.trk.confState(),
      leadTransferee: r.leadTransferee,
    };
    if (r.state === StateType.Leader) {
      const progress = new Map<bigint, ProgressStatus>();
      r.trk.visit((id, pr) => {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: PROGRESS_STATE_NAMES[pr.state],
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
          paused: pr.isPaused(),
          pendingSnapshot: pr.pendingSnapshot,
          inflight: pr.inflights.length,
        });
      });
      s.progress = progress;
    }
    return s;
  }
}
