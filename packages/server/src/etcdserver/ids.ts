/**
 * Identifiers: member id, cluster id, and a generator of unique request/lease ids. etcd uses 64-bit
 * ids; kv keeps every id it hands out below 2^53 so JavaScript numbers (and JSON) carry them exactly,
 * and at least 2^44 so they print with 12+ hex digits like etcd's.
 */
import { createHash } from 'node:crypto';

const TWO_44 = 2 ** 44;
const TWO_53 = 2 ** 53;

/** Folds the first 8 bytes of a SHA-1 digest into [2^44, 2^53). */
function digestToId(parts: readonly string[]): number {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  const d = h.digest();
  const hi = d.readUInt32BE(0) & 0x1fffff; // 21 bits
  const lo = d.readUInt32BE(4); // 32 bits
  const v = hi * 2 ** 32 + lo;
  return v < TWO_44 ? v + TWO_44 : v;
}

/** Member id from its peer URLs and the cluster token (like etcd's computeMemberId). */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string, now?: number): number {
  const parts = [...peerUrls].sort();
  parts.push(clusterToken);
  if (now !== undefined) parts.push(String(now));
  return digestToId(parts);
}

/** Cluster id from the sorted member ids (like etcd's genID). */
export function computeClusterId(memberIds: readonly number[]): number {
  return digestToId([...memberIds].sort((a, b) => a - b).map((id) => id.toString(16)));
}

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
export const idHex = (id: number): string => id.toString(16);

/** Parses a member id written as hex (etcd's `types.ID` string, v2 store paths). */
export const parseIdHex = (hex: string): number => Number.parseInt(hex, 16);
