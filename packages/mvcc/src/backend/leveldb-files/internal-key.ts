/**
 * LevelDB's internal keys (db/dbformat.h): the user key followed by an 8-byte little-endian trailer
 * `sequence << 8 | type`. They sort by user key ascending, then trailer descending, so the newest
 * version of a key comes first.
 */
import { fixed32 } from './coding.js';

/** Trailer type of a deletion marker (kTypeDeletion). */
export const TYPE_DELETION = 0;
/** Trailer type of a value (kTypeValue). */
export const TYPE_VALUE = 1;

/**
 * One table entry. The trailer is kept as its two little-endian 32-bit halves: sequences are 56-bit,
 * more than a JS number holds exactly, and comparing the halves orders them as LevelDB does.
 */
export interface InternalEntry {
  /** The user key (a copy owned by the entry). */
  key: Uint8Array;
  /** High 32 bits of the trailer. */
  hi: number;
  /** Low 32 bits of the trailer; the low byte is the type. */
  lo: number;
  /** The value (a copy owned by the entry); empty for a deletion. */
  value: Uint8Array;
}

/** Splits an encoded internal key into the user key view and the trailer halves. */
export function splitInternalKey(ikey: Uint8Array): { user: Uint8Array; hi: number; lo: number } {
  const n = ikey.length - 8;
  return { user: ikey.subarray(0, n), hi: fixed32(ikey, n + 4), lo: fixed32(ikey, n) };
}

/** LevelDB's InternalKeyComparator with the bytewise user comparator. */
export function compareEntries(a: InternalEntry, b: InternalEntry): number {
  return Buffer.compare(a.key, b.key) || b.hi - a.hi || b.lo - a.lo;
}

/** The entry type (value or deletion) in a trailer's low half. */
export function entryType(lo: number): number {
  return lo & 0xff;
}

/** Compares two encoded internal keys as LevelDB's InternalKeyComparator does. */
export function compareInternalKeys(a: Uint8Array, b: Uint8Array): number {
  const x = splitInternalKey(a);
  const y = splitInternalKey(b);
  return Buffer.compare(x.user, y.user) || y.hi - x.hi || y.lo - x.lo;
}
