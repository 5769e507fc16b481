/**
 * Segment file names, like etcd: `%016x-%016x.wal` = sequence number, then the raft index of the
 * first entry the segment may hold. Opening from a snapshot starts at the last segment whose first
 * index is <= the snapshot index.
 */

export interface SegmentName {
  name: string;
  seq: number;
  firstIndex: number;
}

const PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

const hex16 = (n: number): string => n.toString(16).padStart(16, '0');

export function segmentFileName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function parseSegmentName(name: string): SegmentName | undefined {
  const m = PATTERN.exec(name);
  if (!m) return undefined;
  return { name, seq: Number.parseInt(m[1]!, 16), firstIndex: Number.parseInt(m[2]!, 16) };
}

/** Segment names in a directory listing, ordered by sequence. */
export function segmentNames(listing: string[]): SegmentName[] {
  const out: SegmentName[] = [];
  for (const n of listing) {
    const parsed = parseSegmentName(n);
    if (parsed) out.push(parsed);
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Position of the last segment whose first index is <= `index`, or -1. */
export function searchIndex(segments: SegmentName[], index: number): number {
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i]!.firstIndex <= index) return i;
  return -1;
}

/** True when sequence numbers are consecutive (no segment missing in the middle). */
export function isConsecutive(segments: SegmentName[]): boolean {
  for (let i = 1; i < segments.length; i++) if (segments[i]!.seq !== segments[i - 1]!.seq + 1) return false;
  return true;
}
