import { ConfChangeError } from '../errors.js';
import { Inflights } from '../tracker/inflights.js';
import { Progress } from '../tracker/progress.js';
import {
  cloneTrackerConfig,
  type ProgressMap,
  type ProgressTracker,
  type TrackerConfig,
} from '../tracker/tracker.js';
import { type ConfChangeSingle, ConfChangeType, type ConfState, fmtId } from '../types.js';

/** A configuration with its progress map, as a change produces it (not yet installed). */
export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

/**
 * Computes new configurations from the current one. Works on copies: the tracker is only updated when the
 * result is installed (raft's switchToConfig), so a rejected change leaves no trace.
 */
export class Changer {
  constructor(
    private readonly tracker: ProgressTracker,
    /** The leader's last index: new peers start probing right after it. */
    private readonly lastIndex: number,
  ) {}

  /**
   * Enters a joint configuration: the current voters become the outgoing half, the changes apply to the
   * incoming half. `autoLeave` makes raft leave it on its own once it is applied.
   */
  enterJoint(autoLeave: boolean, changes: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) throw new ConfChangeError('config is already joint');
    if (config.voters.incoming.size === 0) {
      // Also rejects entering a joint config from an empty (uninitialized) configuration.
      throw new ConfChangeError("can't make a zero-voter config joint");
    }
    for (const id of config.voters.incoming.ids) config.voters.outgoing.ids.add(id);
    this.apply(config, progress, changes);
    config.autoLeave = autoLeave;
    return this.checkAndReturn(config, progress);
  }

  /** Leaves a joint configuration: the outgoing half is dropped, learnersNext become learners. */
  leaveJoint(): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (!config.voters.isJoint()) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      progress.get(id)!.isLearner = true;
    }
    config.learnersNext.clear();
    for (const id of config.voters.outgoing.ids) {
      const stillVoter = config.voters.incoming.ids.has(id);
      const isLearner = config.learners.has(id);
      if (!stillVoter && !isLearner) progress.delete(id);
    }
    config.voters.outgoing.ids.clear();
    config.autoLeave = false;
    return this.checkAndReturn(config, progress);
  }

  /**
   * Applies changes without joint consensus; allowed only when at most one voter changes, because then
   * every majority of the old config overlaps every majority of the new one.
   */
  simple(changes: readonly ConfChangeSingle[]): ChangeResult {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.isJoint()) {
      throw new ConfChangeError("can't apply simple config change in joint config");
    }
    const before = new Set(config.voters.incoming.ids);
    this.apply(config, progress, changes);
    let diff = 0;
    for (const id of before) if (!config.voters.incoming.ids.has(id)) diff++;
    for (const id of config.voters.incoming.ids) if (!before.has(id)) diff++;
    if (diff > 1) throw new ConfChangeError('more than one voter changed without entering joint config');
    return this.checkAndReturn(config, progress);
  }

  private apply(config: TrackerConfig, progress: ProgressMap, changes: readonly ConfChangeSingle[]): void {
    for (const cc of changes) {
      // Id 0 means "ignore": etcd's server zeroes changes it decided not to apply.
      if (cc.nodeId === 0n) continue;
      switch (cc.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          this.remove(config, progress, cc.nodeId);
          break;
        case ConfChangeType.UpdateNode:
          break;
        default:
          throw new ConfChangeError(`unexpected conf type ${String(cc.type)}`);
      }
    }
    if (config.voters.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: bigint): void {
    const pr = progress.get(id);
    if (!pr) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters.incoming.ids.add(id);
  }

  /**
   * Makes `id` a learner. A voter of the outgoing config cannot become a learner while that config still
   * counts its vote, so it is parked in learnersNext until the joint config is left.
   */
  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: bigint): void {
    const pr = progress.get(id);
    if (!pr) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    this.remove(config, progress, id);
    progress.set(id, pr); // keep the replication progress
    if (config.voters.outgoing.ids.has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  private remove(config: TrackerConfig, progress: ProgressMap, id: bigint): void {
    if (!progress.has(id)) return;
    config.voters.incoming.ids.delete(id);
    config.learners.delete(id);
    config.learnersNext.delete(id);
    // An outgoing voter still votes until the joint config is left, so its progress stays.
    if (!config.voters.outgoing.ids.has(id)) progress.delete(id);
  }

  private initProgress(config: TrackerConfig, progress: ProgressMap, id: bigint, isLearner: boolean): void {
    if (isLearner) config.learners.add(id);
    else config.voters.incoming.ids.add(id);
    const pr = new Progress(
      Math.max(this.lastIndex, 1),
      new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes),
      isLearner,
    );
    // A new peer counts as active: otherwise CheckQuorum could depose the leader right after adding it.
    pr.recentActive = true;
    progress.set(id, pr);
  }

  private checkAndCopy(): ChangeResult {
    const config = cloneTrackerConfig(this.tracker.config);
    const progress: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) progress.set(id, pr.clone());
    checkInvariants(config, progress);
    return { config, progress };
  }

  private checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
    checkInvariants(config, progress);
    return { config, progress };
  }
}

/** Consistency rules every configuration must satisfy. */
function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  for (const id of config.voters.ids()) {
    if (!progress.has(id)) throw new ConfChangeError(`no progress for voter ${fmtId(id)}`);
  }
  for (const id of config.learners) {
    const pr = progress.get(id);
    if (!pr) throw new ConfChangeError(`no progress for learner ${fmtId(id)}`);
    if (config.voters.outgoing.ids.has(id))
      throw new ConfChangeError(`${fmtId(id)} is in learners and outgoing voters`);
    if (config.voters.incoming.ids.has(id))
      throw new ConfChangeError(`${fmtId(id)} is in learners and incoming voters`);
    if (!pr.isLearner) throw new ConfChangeError(`${fmtId(id)} is in learners, but is not marked as learner`);
  }
  for (const id of config.learnersNext) {
    const pr = progress.get(id);
    if (!pr) throw new ConfChangeError(`no progress for learner(next) ${fmtId(id)}`);
    if (!config.voters.outgoing.ids.has(id))
      throw new ConfChangeError(`${fmtId(id)} is in learnersNext, but not outgoing`);
    if (pr.isLearner)
      throw new ConfChangeError(`${fmtId(id)} is in learnersNext, but is already marked as learner`);
  }
  if (!config.voters.isJoint()) {
    if (config.learnersNext.size > 0) throw new ConfChangeError('learnersNext must be empty when not joint');
    if (config.autoLeave) throw new ConfChangeError('autoLeave must be false when not joint');
  }
}

/**
 * Rebuilds the configuration a ConfState describes (from a snapshot or storage) by replaying changes:
 * the outgoing voters one by one, then a single joint step to the incoming side.
 */
export function restoreConfState(tracker: ProgressTracker, lastIndex: number, cs: ConfState): ChangeResult {
  const outgoing: ConfChangeSingle[] = cs.votersOutgoing.map((id) => ({
    type: ConfChangeType.AddNode,
    nodeId: id,
  }));
  // The incoming changes first undo the outgoing adds, then describe the target config.
  const incoming: ConfChangeSingle[] = [
    ...cs.votersOutgoing.map((id) => ({ type: ConfChangeType.RemoveNode, nodeId: id })),
    ...cs.voters.map((id) => ({ type: ConfChangeType.AddNode, nodeId: id })),
    ...cs.learners.map((id) => ({ type: ConfChangeType.AddLearnerNode, nodeId: id })),
    ...cs.learnersNext.map((id) => ({ type: ConfChangeType.AddLearnerNode, nodeId: id })),
  ];
  const install = (r: ChangeResult): void => {
    tracker.config = r.config;
    tracker.progress = r.progress;
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) install(new Changer(tracker, lastIndex).simple([cc]));
  } else {
    for (const cc of outgoing) install(new Changer(tracker, lastIndex).simple([cc]));
    install(new Changer(tracker, lastIndex).enterJoint(cs.autoLeave, incoming));
  }
  return { config: tracker.config, progress: tracker.progress };
}
