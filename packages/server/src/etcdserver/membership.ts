/**
 * Cluster membership as the apply layer sees it: members with names, peer and client URLs, learner
 * flag. Changes arrive as raft ConfChange entries whose context carries the member as JSON (like
 * etcd's membership.Member in ConfChange.Context).
 */

/** One member (etcd's membership.Member). */
export interface Member {
  id: number;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/** What a ConfChange's context holds. */
export interface ConfChangeContext {
  /** Id of the proposing request, to find its waiter. */
  requestId: number;
  member: Member;
}

/** The member list plus the ids of removed members (never reusable, like etcd). */
export class Membership {
  readonly members = new Map<number, Member>();
  readonly removed = new Set<number>();

  constructor(public clusterId: number) {}

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  /** Voting members. */
  voters(): Member[] {
    return this.list().filter((m) => !m.isLearner);
  }

  learners(): Member[] {
    return this.list().filter((m) => m.isLearner);
  }

  /** A member counts as started once it has a name (published its attributes). */
  static isStarted(m: Member): boolean {
    return m.name !== '';
  }

  add(m: Member): void {
    this.members.set(m.id, { ...m, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs] });
  }

  remove(id: number): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  /**
   * Replaces a member's raft attributes. Like etcd 3.4 (UpdateRaftAttributes with the request's
   * attributes), this also clears the learner flag in the member record.
   */
  updatePeerURLs(id: number, peerURLs: string[]): void {
    const m = this.members.get(id);
    if (m) {
      m.peerURLs = [...peerURLs];
      m.isLearner = false;
    }
  }

  promote(id: number): void {
    const m = this.members.get(id);
    if (m) m.isLearner = false;
  }

  /** The peer URLs used by any member other than `except`. */
  peerUrlInUse(urls: readonly string[], except?: number): boolean {
    for (const m of this.members.values()) {
      if (m.id === except) continue;
      if (m.peerURLs.some((u) => urls.includes(u))) return true;
    }
    return false;
  }

  toJSON(): { clusterId: number; members: Member[]; removed: number[] } {
    return { clusterId: this.clusterId, members: this.list(), removed: [...this.removed] };
  }

  static fromJSON(j: { clusterId: number; members: Member[]; removed?: number[] }): Membership {
    const m = new Membership(j.clusterId);
    for (const mem of j.members) m.add(mem);
    for (const id of j.removed ?? []) m.removed.add(id);
    return m;
  }
}
