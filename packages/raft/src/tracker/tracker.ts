import { type AckedIndexer, compareIds, JointConfig, VoteResult } from '../quorum/quorum.js';
import type { ConfState } from '../types.js';
import type { Progress } from './progress.js';

/** A membership configuration: voters (possibly joint) and learners. */
export interface TrackerConfig {
  voters: JointConfig;
  /** Learners: receive the log, never vote. Disjoint from both voter halves. */
  learners: Set<bigint>;
  /** Outgoing voters that turn into learners when the joint configuration is left. */
  learnersNext: Set<bigint>;
  /** Leave the joint configuration automatically once it is applied. */
  autoLeave: boolean;
}

export function emptyTrackerConfig(): TrackerConfig {
  return { voters: new JointConfig(), learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: new JointConfig(c.voters.incoming.ids, c.voters.outgoing.ids),
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export type ProgressMap = Map<bigint, Progress>;

function sortedIds(s: Iterable<bigint>): bigint[] {
  return [...s].sort(compareIds);
}

/** Membership plus the leader's per-peer progress and the votes of the current election. */
export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  votes = new Map<bigint, boolean>();
  private progressMap: ProgressMap = new Map();
  /** Ids of `progress` in ascending order, cached: visit() runs for every broadcast. */
  private sortedProgressIds: bigint[] = [];

  /** Progress of every voter and learner. Replace the map as a whole (as config changes do). */
  get progress(): ProgressMap {
    return this.progressMap;
  }

  set progress(p: ProgressMap) {
    this.progressMap = p;
    this.sortedProgressIds = sortedIds(p.keys());
  }

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes = 0,
  ) {}

  confState(): ConfState {
    return {
      voters: this.config.voters.incoming.sorted(),
      votersOutgoing: this.config.voters.outgoing.sorted(),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** True when exactly one voter exists (then reads and commits need no round trip). */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  /** One bound lookup for committed(), which runs after every append response. */
  private readonly ackedIndex: AckedIndexer = (id) => this.progressMap.get(id)?.match;

  /** Highest index acknowledged by a quorum of voters. */
  committed(): number {
    return this.config.voters.committedIndex(this.ackedIndex);
  }

  /** Calls `f` for every peer in ascending id order (deterministic message order). */
  visit(f: (id: bigint, pr: Progress) => void): void {
    for (const id of this.sortedProgressIds) {
      const pr = this.progressMap.get(id);
      if (pr) f(id, pr);
    }
  }

  /** Whether a quorum of voters was heard from recently (CheckQuorum). */
  quorumActive(): boolean {
    const votes = new Map<bigint, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return this.config.voters.voteResult(votes) === VoteResult.Won;
  }

  voterIds(): bigint[] {
    return this.config.voters.ids();
  }

  learnerIds(): bigint[] {
    return sortedIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote; only the first answer of each voter counts. */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}
