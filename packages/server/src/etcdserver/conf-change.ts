/**
 * Membership changes at apply time (etcd's applyConfChange + ValidateConfigurationChange): a committed
 * ConfChange is checked against the current member list; a rejected one is applied to raft as a no-op
 * (node 0) so every member's raft configuration stays the same, and its proposer gets etcd's error.
 */
import { type ConfChange, ConfChangeType } from '@kv/raft';
import { Errors, type EtcdError } from './errors.js';
import type { Member, Membership } from './membership.js';

/** The error etcd answers for a change the current membership does not allow, or undefined. */
export function validateConfChange(ms: Membership, cc: ConfChange): EtcdError | undefined {
  const existing = ms.get(cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.AddNode:
      if (ms.removed.has(cc.nodeId)) return Errors.memberNotFound();
      // Adding an existing learner as a voter is a promotion; an existing voter is a conflict.
      if (existing && !existing.isLearner) return Errors.memberExist();
      return undefined;
    case ConfChangeType.AddLearnerNode:
      if (ms.removed.has(cc.nodeId)) return Errors.memberNotFound();
      if (existing) return Errors.memberExist();
      return undefined;
    case ConfChangeType.RemoveNode:
    case ConfChangeType.UpdateNode:
      return existing ? undefined : Errors.memberNotFound();
    default:
      return undefined;
  }
}

/** What an applied change did to the member list (so the server can update its peer transport). */
export type MembershipEffect =
  | { kind: 'added'; member: Member }
  | { kind: 'promoted'; id: bigint }
  | { kind: 'removed'; id: bigint }
  | { kind: 'updated'; id: bigint; peerURLs: string[] };

/** Applies a validated change to the member list. `member` is the ConfChange's context. */
export function applyToMembership(
  ms: Membership,
  cc: ConfChange,
  member: Member | undefined,
): MembershipEffect | undefined {
  switch (cc.type) {
    case ConfChangeType.AddNode: {
      if (ms.get(cc.nodeId)?.isLearner) {
        ms.promote(cc.nodeId);
        return { kind: 'promoted', id: cc.nodeId };
      }
      if (!member) return undefined;
      ms.add({ ...member, id: cc.nodeId, isLearner: false });
      return { kind: 'added', member: ms.get(cc.nodeId)! };
    }
    case ConfChangeType.AddLearnerNode:
      if (!member) return undefined;
      ms.add({ ...member, id: cc.nodeId, isLearner: true });
      return { kind: 'added', member: ms.get(cc.nodeId)! };
    case ConfChangeType.RemoveNode:
      ms.remove(cc.nodeId);
      return { kind: 'removed', id: cc.nodeId };
    case ConfChangeType.UpdateNode:
      if (!member) return undefined;
      ms.updatePeerURLs(cc.nodeId, member.peerURLs);
      return { kind: 'updated', id: cc.nodeId, peerURLs: member.peerURLs };
    default:
      return undefined;
  }
}
