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

/**
 * A member as etcd's JSON writes it (ConfChange contexts, the peer `/members` answer):
 * `{"id":…,"peerURLs":[…],"name":…,"clientURLs":[…],"isLearner":true}`, empty fields left out.
 */
export function memberToJson(m: Member): Record<string, unknown> {
  const j: Record<string, unknown> = { id: m.id, peerURLs: m.peerURLs };
  if (m.name) j.name = m.name;
  if (m.clientURLs.length) j.clientURLs = m.clientURLs;
  if (m.isLearner) j.isLearner = true;
  return j;
}

/** Reads a member from etcd's JSON shape (missing fields are empty). */
export function memberFromJson(j: Record<string, unknown>): Member {
  return {
    id: Number(j.id ?? 0),
    name: typeof j.name === 'string' ? j.name : '',
    peerURLs: Array.isArray(j.peerURLs) ? (j.peerURLs as string[]) : [],
    clientURLs: Array.isArray(j.clientURLs) ? (j.clientURLs as string[]) : [],
    isLearner: j.isLearner === true,
  };
}

/** A ConfChange's context as etcd writes it: the member's JSON. The request id is `ConfChange.id`. */
export function encodeMemberContext(m: Member): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(memberToJson(m)));
}

/**
 * Reads a ConfChange context: etcd's member JSON, or the `{requestId, member}` shape that kv wrote
 * before it used etcd's (data dirs made by older versions). Undefined when there is none or it is not JSON.
 */
export function decodeMemberContext(bytes: Uint8Array): Member | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return memberFromJson((j.member as Record<string, unknown> | undefined) ?? j);
  } catch {
    return undefined;
  }
}

/** The member list plus the ids of removed members (never reusable, like etcd). */
export class Membership {
  readonly members = new Map<number, Member>();
  /** The cluster version the leader decided (etcd's `PUT /0/version`), once one was applied. */
  clusterVersion: string | undefined;
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

  /** A member's published name and client URLs (etcd's member attributes). */
  setAttributes(id: number, name: string, clientURLs: string[]): void {
    const m = this.members.get(id);
    if (m) {
      m.name = name;
      m.clientURLs = [...clientURLs];
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

  /** Takes over another list's members and removed ids (a snapshot from the leader replaces ours). */
  replaceWith(other: Membership): void {
    this.members.clear();
    for (const m of other.members.values()) this.add(m);
    for (const id of other.removed) this.removed.add(id);
    this.clusterId = other.clusterId;
    if (other.clusterVersion) this.clusterVersion = other.clusterVersion;
  }

  toJSON(): { clusterId: number; members: Member[]; removed: number[]; clusterVersion?: string } {
    const j: ReturnType<Membership['toJSON']> = {
      clusterId: this.clusterId,
      members: this.list(),
      removed: [...this.removed],
    };
    if (this.clusterVersion) j.clusterVersion = this.clusterVersion;
    return j;
  }

  static fromJSON(j: {
    clusterId: number;
    members: Member[];
    removed?: number[];
    clusterVersion?: string;
  }): Membership {
    const m = new Membership(j.clusterId);
    m.clusterVersion = j.clusterVersion;
    for (const mem of j.members) m.add(mem);
    for (const id of j.removed ?? []) m.removed.add(id);
    return m;
  }
}
