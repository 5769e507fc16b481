/**
 * Identifiers: member id and cluster id (etcd's exact uint64s, re-exported from member-id.ts), and a
 * generator of unique request/lease ids laid out as etcd's (IdGenerator below).
 */

// Member and cluster ids are etcd's exact uint64s: see member-id.ts.
export { computeClusterId, computeMemberId } from './member-id.js';

// ---- Request and lease ids (etcd's pkg/idutil) -------------------------------------------------

/** Bits of the millisecond timestamp in a generated id. */
const TS_BITS = 40n;
/** Bits of the per-millisecond counter below the timestamp. */
const COUNT_BITS = 8n;
/** Timestamp and counter together: the part of an id that increments. */
const SUFFIX_BITS = TS_BITS + COUNT_BITS;
const SUFFIX_MASK = (1n << SUFFIX_BITS) - 1n;
/** etcd hands out only positive int64 lease ids. */
const INT63_MASK = (1n << 63n) - 1n;

/**
 * Unique 64-bit ids for requests and leases, laid out like etcd's idutil.Generator:
 * | 16 bits: low bits of the member id | 40 bits: unix ms at start | 8 bits: counter |.
 * Each call adds one to the lower 48 bits (the counter may carry into the timestamp, as in etcd), so
 * ids from one process are unique, and ids after a restart start from a later millisecond. Different
 * members use different prefixes, so their ids do not collide either.
 *
 * @example
 * ```ts
 * const gen = new IdGenerator(0x8e9e05c52164694dn);
 * const requestId = gen.next(); // 0x694d...n
 * const leaseId = gen.nextLeaseId((id) => lessor.lookup(id) !== undefined);
 * ```
 */
export class IdGenerator {
  private readonly prefix: bigint;
  private suffix: bigint;

  /**
   * @param memberId this member's id; only its low 16 bits are used (etcd's `uint16(id)`)
   * @param nowMs the start time in unix ms (injectable for tests)
   */
  constructor(memberId: number | bigint, nowMs = Date.now()) {
    this.prefix = (BigInt(memberId) & 0xffffn) << SUFFIX_BITS;
    this.suffix = (BigInt(Math.floor(nowMs)) & ((1n << TS_BITS) - 1n)) << COUNT_BITS;
  }

  /** The next request id (uint64, never repeated by this generator). */
  next(): bigint {
    this.suffix += 1n;
    return this.prefix | (this.suffix & SUFFIX_MASK);
  }

  /**
   * The next lease id, as etcd's LeaseGrant picks one: a generator id masked to 63 bits (lease ids are
   * int64 and only positive ones are handed out), never 0 (0 means "no lease"), and here also never
   * an id `taken` reports as in use, so a grant cannot fail on a client-chosen id that happens to match.
   */
  nextLeaseId(taken: (id: bigint) => boolean = () => false): bigint {
    for (;;) {
      const id = this.next() & INT63_MASK;
      if (id !== 0n && !taken(id)) return id;
    }
  }
}

/** Lower-case hex like etcd's `%x` / types.ID.String(). */
export const idHex = (id: number | bigint): string => id.toString(16);

/** Parses a member id written as hex (etcd's `types.ID` string, v2 store paths). */
export const parseIdHex = (hex: string): bigint => BigInt(`0x${hex}`);
