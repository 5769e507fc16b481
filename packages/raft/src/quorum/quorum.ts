/**
 * Quorum arithmetic for majority and joint (two-majority) configurations: which index is committed and
 * whether an election is won. Pure functions over sets of ids; no raft state.
 */

/** Orders node ids ascending (for `Array.prototype.sort`; bigint subtraction would not give a number). */
export function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Outcome of counting votes. */
export enum VoteResult {
  /** Not decided yet: missing votes could still swing it. */
  Pending = 1,
  /** A quorum voted no (or cannot vote yes any more). */
  Lost = 2,
  /** A quorum voted yes. */
  Won = 3,
}

/**
 * Returned as the committed index of an empty configuration, so that in a joint configuration whose
 * outgoing half is empty only the incoming half decides (min(x, MAX) = x). Mirrors etcd's MaxUint64.
 */
export const NO_LIMIT_INDEX = Number.MAX_SAFE_INTEGER;

/** Looks up how far a voter's log is known to match the leader's; undefined means "not known" (0). */
export type AckedIndexer = (id: bigint) => number | undefined;

/** A set of voters deciding by simple majority. */
export class MajorityConfig {
  readonly ids: Set<bigint>;
  /** Reused by {@link committedIndex}; holds nothing between calls. */
  private readonly scratch: number[] = [];

  constructor(ids: Iterable<bigint> = []) {
    this.ids = new Set(ids);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Ids in ascending order. */
  sorted(): bigint[] {
    return [...this.ids].sort(compareIds);
  }

  /**
   * The largest index that a majority has acknowledged. An empty config returns NO_LIMIT_INDEX.
   */
  committedIndex(acked: AckedIndexer): number {
    const n = this.ids.size;
    if (n === 0) return NO_LIMIT_INDEX;
    // The leader asks after every append response: reuse one scratch array and insertion-sort it
    // (voter sets are a handful of ids) instead of allocating and calling sort with a comparator.
    const idx = this.scratch;
    idx.length = n;
    let filled = 0;
    for (const id of this.ids) {
      const v = acked(id) ?? 0;
      let j = filled++;
      while (j > 0 && idx[j - 1]! > v) {
        idx[j] = idx[j - 1]!;
        j--;
      }
      idx[j] = v;
    }
    // With the acks sorted ascending, the entry at n - quorum is held by at least `quorum` voters.
    const quorum = Math.floor(n / 2) + 1;
    return idx[n - quorum]!;
  }

  /** Counts `votes` (id -> granted); ids missing from `votes` have not answered yet. */
  voteResult(votes: ReadonlyMap<bigint, boolean>): VoteResult {
    if (this.ids.size === 0) return VoteResult.Won; // an empty config accepts anything (joint halves)
    let yes = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) yes++;
    }
    const quorum = Math.floor(this.ids.size / 2) + 1;
    if (yes >= quorum) return VoteResult.Won;
    if (yes + missing >= quorum) return VoteResult.Pending;
    return VoteResult.Lost;
  }
}

/**
 * Joint consensus: decisions need a majority of the incoming AND of the outgoing config. When not in a
 * joint config the outgoing half is empty and the incoming half alone decides.
 */
export class JointConfig {
  incoming: MajorityConfig;
  outgoing: MajorityConfig;

  constructor(incoming: Iterable<bigint> = [], outgoing: Iterable<bigint> = []) {
    this.incoming = new MajorityConfig(incoming);
    this.outgoing = new MajorityConfig(outgoing);
  }

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  /** Every voter of either half, ascending. */
  ids(): bigint[] {
    const all = new Set<bigint>(this.incoming.ids);
    for (const id of this.outgoing.ids) all.add(id);
    return [...all].sort(compareIds);
  }

  has(id: bigint): boolean {
    return this.incoming.ids.has(id) || this.outgoing.ids.has(id);
  }

  committedIndex(acked: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(acked), this.outgoing.committedIndex(acked));
  }

  voteResult(votes: ReadonlyMap<bigint, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === VoteResult.Lost || r2 === VoteResult.Lost) return VoteResult.Lost;
    // One half won, the other is pending.
    return VoteResult.Pending;
  }
}
