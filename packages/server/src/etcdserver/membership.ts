/**
 * Cluster membership as the apply layer sees it: members with names, peer and client URLs, learner
 * flag. Changes arrive as raft ConfChange entries whose context carries the member as JSON (like
 * etcd's membership.Member in ConfChange.Context). Ids are exact uint64s (bigint).
 */
import { parseJsonExact, stringifyJsonExact } from './exact-json.js';
import { toId } from './member-id.js';

/** One member (etcd's membership.Member). */
export interface Member {
  /** etcd's member id (uint64). */
  id: bigint;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

/**
 * A member as etcd's JSON writes it (ConfChange contexts, the peer `/members` answer):
 * `{"id":…,"peerURLs":[…],"name":…,"clientURLs":[…],"isLearner":true}`, empty fields left out. The id
 * stays a bigint here: write the object with {@link stringifyJsonExact} (a bare uint64, as Go does).
 */
export function memberToJson(m: Member): Record<string, unknown> {
  const j: Record<string, unknown> = { id: m.id, peerURLs: m.peerURLs };
  if (m.name) j.name = m.name;
  if (m.clientURLs.length) j.clientURLs = m.clientURLs;
  if (m.isLearner) j.isLearner = true;
  return j;
}

/**
 * Reads a member from etcd's JSON shape (missing fields are empty). The id may be a bigint (from
 * {@link parseJsonExact}), a number, or a decimal/hex string (older kv data dirs wrote numbers).
 */
export function memberFromJson(j: Record<string, unknown>): Member {
  return {
    id: toId(j.id ?? 0),
    name: typeof j.name === 'string' ? j.name : '',
    peerURLs: Array.isArray(j.peerURLs) ? (j.peerURLs as string[]) : [],
    clientURLs: Array.isArray(j.clientURLs) ? (j.clientURLs as string[]) : [],
    isLearner: j.isLearner === true,
  };
}

/** A ConfChange's context as etcd writes it: the member's JSON. The request id is `ConfChange.id`. */
export function encodeMemberContext(m: Member, isPromote = false): Uint8Array {
  // etcd's ConfigChangeContext: the member's JSON plus `isPromote`, which tells etcd members that an
  // AddNode of an existing learner promotes it (without it etcd 3.4 refuses the change as a duplicate
  // add and its raft config would diverge from kv members').
  const j = memberToJson(m);
  if (isPromote) j.isPromote = true;
  return new TextEncoder().encode(stringifyJsonExact(j));
}

/**
 * Reads a ConfChange context: etcd's member JSON, or the `{requestId, member}` shape that kv wrote
 * before it used etcd's (data dirs made by older versions). Undefined when there is none or it is not JSON.
 */
export function decodeMemberContext(bytes: Uint8Array): Member | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const j = parseJsonExact(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    return memberFromJson((j.member as Record<string, unknown> | undefined) ?? j);
  } catch {
    return undefined;
  }
}

/** {@link Membership} as persisted: ids as decimal strings (numbers in data dirs of older versions). */
export interface MembershipJson {
  clusterId: string | number;
  members: (Omit<Member, 'id'> & { id: string | number })[];
  removed?: (string | number)[];
  clusterVersion?: string;
}

/** The member list plus the ids of removed members (never reusable, like etcd). */
export class Membership {
  readonly members = new Map<bigint, Member>();
  /** The cluster version the leader decided (etcd's `PUT /0/version`), once one was applied. */
  clusterVersion: string | undefined;
  readonly removed = new Set<bigint>();

  constructor(public clusterId: bigint) {}

  /** Members in ascending id order (etcd's MemberIDs order). */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  get(id: bigint): Member | undefined {
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

  remove(id: bigint): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  /**
   * Replaces a member's raft attributes. Like etcd 3.4 (UpdateRaftAttributes with the request's
   * attributes), this also clears the learner flag in the member record.
   */
  updatePeerURLs(id: bigint, peerURLs: string[]): void {
    const m = this.members.get(id);
    if (m) {
      m.peerURLs = [...peerURLs];
      m.isLearner = false;
    }
  }

  /** A member's published name and client URLs (etcd's member attributes). */
  setAttributes(id: bigint, name: string, clientURLs: string[]): void {
    const m = this.members.get(id);
    if (m) {
      m.name = name;
      m.clientURLs = [...clientURLs];
    }
  }

  promote(id: bigint): void {
    const m = this.members.get(id);
    if (m) m.isLearner = false;
  }

  /** The peer URLs used by any member other than `except`. */
  peerUrlInUse(urls: readonly string[], except?: bigint): boolean {
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

  /**
   * The persisted shape. Ids are decimal strings, exact in any JSON reader; {@link fromJSON} also reads
   * the plain numbers older versions wrote.
   */
  toJSON(): MembershipJson {
    const j: MembershipJson = {
      clusterId: this.clusterId.toString(),
      members: this.list().map((m) => ({ ...m, id: m.id.toString() })),
      removed: [...this.removed].map(String),
    };
    if (this.clusterVersion) j.clusterVersion = this.clusterVersion;
    return j;
  }

  static fromJSON(j: MembershipJson): Membership {
    const m = new Membership(toId(j.clusterId));
    m.clusterVersion = j.clusterVersion;
    for (const mem of j.members) m.add({ ...mem, id: toId(mem.id) });
    for (const id of j.removed ?? []) m.removed.add(toId(id));
    return m;
  }
}
