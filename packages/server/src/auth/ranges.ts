/**
 * Merged key-interval sets: the union of a user's permissions of one kind, kept as sorted, disjoint,
 * non-adjacent half-open intervals so a check is one binary search.
 *
 * Keys are held as latin1 strings (one char per byte), whose `<` order is the byte order etcd uses.
 * A permission on a single key k is the interval [k, k+"\0") (etcd's BytesAffinePoint), a range_end of
 * "\0" means "every key >= key" (end = +infinity); a request is permitted when the whole requested
 * interval lies inside the union, as etcd's IntervalTree.Contains decides.
 */
import { bytesToKey } from '@kv/mvcc';

/** One half-open interval [start, end); `end === null` is +infinity. */
export interface KeyInterval {
  start: string;
  end: string | null;
}

/**
 * The interval a (key, range_end) pair covers, with etcd's rules: empty range_end = the single key,
 * "\0" = from key to the end of the key space, otherwise [key, range_end). Returns undefined for an
 * empty interval (range_end <= key), which covers nothing.
 */
export function toInterval(
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined | null,
): KeyInterval | undefined {
  const start = bytesToKey(key);
  if (!rangeEnd || rangeEnd.length === 0) return { start, end: `${start}\0` };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  const end = bytesToKey(rangeEnd);
  return end > start ? { start, end } : undefined;
}

/** A union of intervals, normalised at construction. */
export class IntervalSet {
  private readonly items: KeyInterval[];

  constructor(intervals: Iterable<KeyInterval>) {
    const sorted = [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const out: KeyInterval[] = [];
    for (const iv of sorted) {
      const last = out[out.length - 1];
      // Merge when overlapping or adjacent ([a,b) + [b,c) = [a,c)): containment then needs one lookup.
      if (last && (last.end === null || iv.start <= last.end)) {
        if (last.end !== null && (iv.end === null || iv.end > last.end)) last.end = iv.end;
      } else {
        out.push({ start: iv.start, end: iv.end });
      }
    }
    this.items = out;
  }

  /** Number of disjoint intervals (for tests and diagnostics). */
  get size(): number {
    return this.items.length;
  }

  /** True when every key of `iv` is inside the union. */
  contains(iv: KeyInterval): boolean {
    // The last interval starting at or before iv.start is the only candidate.
    let lo = 0;
    let hi = this.items.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.items[mid]!.start <= iv.start) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return false;
    const cand = this.items[found]!;
    if (cand.end === null) return true;
    if (iv.end === null) return false;
    return iv.end <= cand.end;
  }
}
