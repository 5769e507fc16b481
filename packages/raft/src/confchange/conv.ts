import { compareIds } from '../quorum/quorum.js';
import {
  type ConfChange,
  ConfChangeTransition,
  type ConfChangeV2,
  type ConfState,
  EMPTY_BYTES,
} from '../types.js';

/** True for a ConfChangeV2 (has `changes`), false for a classic ConfChange. */
export function isConfChangeV2(cc: ConfChange | ConfChangeV2): cc is ConfChangeV2 {
  return Array.isArray((cc as ConfChangeV2).changes);
}

/** Views any conf change as a ConfChangeV2 (a classic one is a single-change Auto transition). */
export function asV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  if (isConfChangeV2(cc)) return cc;
  return {
    transition: ConfChangeTransition.Auto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context ?? EMPTY_BYTES,
  };
}

/**
 * Whether this change must go through a joint configuration, and if so whether raft leaves it on its own
 * (autoLeave). Joint is used when asked for explicitly or when more than one node changes.
 */
export function enterJoint(cc: ConfChangeV2): { joint: boolean; autoLeave: boolean } {
  if (cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1) {
    const autoLeave =
      cc.transition === ConfChangeTransition.Auto || cc.transition === ConfChangeTransition.JointImplicit;
    return { joint: true, autoLeave };
  }
  return { joint: false, autoLeave: false };
}

/** An empty ConfChangeV2 (no changes, Auto transition) means "leave the joint configuration". */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.Auto && cc.changes.length === 0;
}

/** Order-insensitive equality of two ConfStates. */
export function confStateEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: bigint[], y: bigint[]) => {
    if (x.length !== y.length) return false;
    const xs = [...x].sort(compareIds);
    const ys = [...y].sort(compareIds);
    return xs.every((v, i) => v === ys[i]);
  };
  return (
    same(a.voters, b.voters) &&
    same(a.learners, b.learners) &&
    same(a.votersOutgoing, b.votersOutgoing) &&
    same(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave
  );
}
