/**
 * Identifiers: member id and cluster id (exact uint64s, re-exported from member-id.ts), and a generator
 * of unique request/lease ids, which kv keeps below 2^53.
 */
const TWO_53 = 2 ** 53;

// Member and cluster ids are etcd's exact uint64s: see member-id.ts.
export { computeClusterId, computeMemberId } from './member-id.js';

/**
 * Unique ids for requests and leases, like etcd's idutil.Generator: a member prefix, a millisecond
 * timestamp at start, and a counter, laid out in 53 bits as 13 bits prefix | 40 bits (time+counter).
 */
export class IdGenerator {
  private next: number;
  private readonly prefix: number;

  constructor(memberId: number, nowMs = Date.now()) {
    this.prefix = (memberId % 0x1fff) + 1; // 13 bits, never 0 so ids stay >= 2^40
    // 40 bits: the low 32 bits of the time in ms shifted by 8, leaving 8 bits of counter headroom.
    this.next = ((nowMs % 2 ** 32) * 256) % 2 ** 40;
  }

  /** Returns a fresh id in [2^40, 2^53). */
  nextId(): number {
    this.next = (this.next + 1) % 2 ** 40;
    const id = this.prefix * 2 ** 40 + this.next;
    return id < TWO_53 ? id : this.nextId();
  }
}

/** Lower-case hex like etcd's `%x` / types.ID.String(). */
export const idHex = (id: number | bigint): string => id.toString(16);
