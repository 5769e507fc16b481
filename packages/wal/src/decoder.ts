/**
 * Reads one segment's bytes into records and decides what any damage means.
 *
 * Durability model: a batch (one `save`) is written with one write and one fdatasync, and the next
 * batch is only written after that fdatasync returned. So after a crash, every batch but the last
 * one written is whole on disk; the last may be missing any subset of its 512 B sectors, which then
 * read as zeros (segments are preallocated with zeros and never reused). From that:
 *  - damage in a segment that is not the last one is corruption;
 *  - damage followed by a valid batch-end record of a LATER batch is corruption (that later batch
 *    could not have been written before the damaged one was durable);
 *  - damage inside a batch whose own batch-end record is intact, with no all-zero sector between
 *    the damage and that record, is corruption (every sector of that batch reached the disk);
 *  - anything else is a torn tail: the last incomplete batch is dropped.
 * Records are only returned for complete batches, so a `save` is all-or-nothing.
 */
import { Buffer } from 'node:buffer';
import { crc32c } from './crc32c.js';
import { CrcMismatchError, WalCorruptionError } from './errors.js';
import {
  copyBytes,
  decodeBatchEnd,
  decodeCrc,
  decodeSnapshot,
  decodeState,
  entryIndex,
  frameSize,
  HEADER_SIZE,
  headerCheck,
  MAX_RECORD_TYPE,
  RecordType,
} from './record.js';
import type { WalHardState, WalSnapshotMarker } from './types.js';

const SECTOR = 512;

export type DecodedRecord =
  | { type: typeof RecordType.metadata; offset: number; metadata: Uint8Array }
  /**
   * An entry, not yet decoded: its index, and where its payload is in the segment buffer `buf`
   * (collect() decodes only the entries it keeps: those after the snapshot).
   */
  | {
      type: typeof RecordType.entry;
      offset: number;
      index: number;
      buf: Uint8Array;
      start: number;
      end: number;
    }
  | { type: typeof RecordType.state; offset: number; state: WalHardState }
  | { type: typeof RecordType.snapshot; offset: number; snapshot: WalSnapshotMarker };

export interface SegmentScan {
  /** Records of complete batches, in order (crc and batch-end records left out). */
  records: DecodedRecord[];
  /** Offset just after the last complete batch: where appending continues. */
  validEnd: number;
  /** Chain CRC at `validEnd`. */
  crc: number;
  /** Set when an incomplete or torn last batch was dropped. */
  torn?: { offset: number; reason: string };
}

interface Failure {
  offset: number;
  reason: string;
  crc?: { stored: number; computed: number };
}

const u32 = (b: Uint8Array, p: number): number =>
  (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;

/**
 * True if a record's padding (0-7 bytes) is all zeros. Checked for every record a restart reads: the
 * general {@link allZero} was ~60 ms of a 200 000-record open (docs/benchmarks.md "Session 19").
 */
function zeroPadding(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** 1 MiB of zeros: what preallocation and tail repairs write, and what `allZero` compares against. */
export const ZERO_CHUNK = new Uint8Array(1024 * 1024);

/**
 * True if `b[start, end)` is all zeros. Opening a WAL checks the whole preallocated tail of its newest
 * segment (up to 64 MB), so ranges are compared natively (`Buffer.compare`, a memcmp) chunk by chunk: a
 * byte loop in a freshly started process took 174 ms of a profiled restart, and opening is ~45 ms
 * sooner without it (docs/benchmarks.md "Session 17", item 5).
 */
export function allZero(b: Uint8Array, start: number, end: number): boolean {
  if (end - start <= 64) {
    for (let i = start; i < end; i++) if (b[i] !== 0) return false;
    return true;
  }
  for (let i = start; i < end; i += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, end - i);
    if (
      Buffer.compare(
        b.subarray(i, i + n),
        n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n),
      ) !== 0
    ) {
      return false;
    }
  }
  return true;
}

/** Validates a frame's header at `pos`; returns the frame end or a reason it is bad. */
function checkHeader(buf: Uint8Array, pos: number): { end: number; len: number; type: number } | string {
  const len = u32(buf, pos);
  const type = buf[pos + 4]!;
  const pad = buf[pos + 5]!;
  if (((buf[pos + 6]! | (buf[pos + 7]! << 8)) & 0xffff) !== headerCheck(buf, pos)) return 'bad header check';
  if (type < 1 || type > MAX_RECORD_TYPE) return `unknown record type ${type}`;
  const end = pos + frameSize(len);
  if (pad !== end - pos - HEADER_SIZE - len) return 'bad padding length';
  if (end > buf.length) return 'record extends past end of file';
  return { end, len, type };
}

/**
 * Looks past a failure at `from` for valid batch-end records (each verifies on its own because it
 * carries the chain value it continues from). Returns whether one of a later batch exists, and where
 * the failing batch's own batch-end is, if intact.
 */
function findBatchEnds(
  buf: Uint8Array,
  from: number,
  failingBatchStart: number,
): { later: number | undefined; own: number | undefined } {
  let own: number | undefined;
  for (let pos = (from + 8) & ~7; pos + HEADER_SIZE <= buf.length; pos += 8) {
    if (buf[pos + 4] !== RecordType.batchEnd) continue;
    const h = checkHeader(buf, pos);
    if (typeof h === 'string') continue;
    const start = pos + HEADER_SIZE;
    let payload: ReturnType<typeof decodeBatchEnd>;
    try {
      payload = decodeBatchEnd(buf, start, start + h.len);
    } catch {
      continue;
    }
    const computed = crc32c(crc32c(payload.prevCrc, buf, pos, pos + 6), buf, start, start + h.len);
    if (computed !== u32(buf, pos + 8)) continue;
    if (payload.batchStart > from) return { later: pos, own };
    if (payload.batchStart === failingBatchStart && own === undefined) own = pos;
  }
  return { later: undefined, own };
}

/** True if some whole 512 B sector in [start, end) is all zeros (a sector that never reached disk). */
function hasZeroSector(buf: Uint8Array, start: number, end: number): boolean {
  for (let s = Math.ceil(start / SECTOR) * SECTOR; s + SECTOR <= Math.min(end, buf.length); s += SECTOR) {
    if (allZero(buf, s, s + SECTOR)) return true;
  }
  // Sectors cut off by the end of the file never reached disk either.
  return end > buf.length;
}

/**
 * Decodes a segment.
 * @param chainCrc chain value the segment must continue from, or undefined for the first segment
 *   read (then the segment's leading crc record supplies it)
 * @param isLast whether this is the newest segment (the only one that may have a torn tail)
 * @throws WalCorruptionError (or CrcMismatchError) naming `file` and the offset of the damage
 */
export function scanSegment(
  buf: Uint8Array,
  file: string,
  chainCrc: number | undefined,
  isLast: boolean,
): SegmentScan {
  const committed: DecodedRecord[] = [];
  let pending: DecodedRecord[] = [];
  let pendingCount = 0; // records in the open batch, including crc records
  let batchStart = 0;
  let validEnd = 0;
  let validCrc = chainCrc ?? 0;
  let crc = chainCrc ?? 0;
  let pos = 0;
  let failure: Failure | undefined;

  for (;;) {
    if (pos + 8 > buf.length) {
      if (!allZero(buf, pos, buf.length)) failure = { offset: pos, reason: 'truncated record header' };
      break;
    }
    if (u32(buf, pos) === 0 && u32(buf, pos + 4) === 0) {
      if (!allZero(buf, pos + 8, buf.length)) failure = { offset: pos, reason: 'data after an empty header' };
      break;
    }
    const h = checkHeader(buf, pos);
    if (typeof h === 'string') {
      failure = { offset: pos, reason: h };
      break;
    }
    const start = pos + HEADER_SIZE;
    const end = start + h.len;
    if (!zeroPadding(buf, end, h.end)) {
      // Padding is outside the checksum, so insist it is zero: any damaged byte must be noticed.
      failure = { offset: pos, reason: 'non-zero padding' };
      break;
    }
    let prev = crc;
    if (h.type === RecordType.crc) {
      if (pos !== 0) {
        failure = { offset: pos, reason: 'crc record inside a segment' };
        break;
      }
      try {
        prev = decodeCrc(buf, start, end);
      } catch (err) {
        failure = { offset: pos, reason: (err as Error).message };
        break;
      }
    } else if (pos === 0) {
      failure = { offset: pos, reason: 'segment does not start with a crc record' };
      break;
    }
    const stored = u32(buf, pos + 8);
    const computed = crc32c(crc32c(prev, buf, pos, pos + 6), buf, start, end);
    if (stored !== computed) {
      failure = { offset: pos, reason: 'crc mismatch', crc: { stored, computed } };
      break;
    }
    if (h.type === RecordType.crc && chainCrc !== undefined && prev !== chainCrc) {
      failure = { offset: pos, reason: 'segment does not continue the previous segment (crc chain broken)' };
      break;
    }
    try {
      switch (h.type) {
        case RecordType.metadata:
          pending.push({ type: RecordType.metadata, offset: pos, metadata: copyBytes(buf, start, end) });
          break;
        case RecordType.entry:
          pending.push({
            type: RecordType.entry,
            offset: pos,
            index: entryIndex(buf, start, end),
            buf,
            start,
            end,
          });
          break;
        case RecordType.state:
          pending.push({ type: RecordType.state, offset: pos, state: decodeState(buf, start, end) });
          break;
        case RecordType.snapshot:
          pending.push({ type: RecordType.snapshot, offset: pos, snapshot: decodeSnapshot(buf, start, end) });
          break;
        case RecordType.batchEnd: {
          const be = decodeBatchEnd(buf, start, end);
          if (be.prevCrc !== prev || be.batchStart !== batchStart || be.records !== pendingCount) {
            throw new Error('batch end does not match its batch');
          }
          for (const r of pending) committed.push(r);
          pending = [];
          pendingCount = -1; // incremented below to 0
          validEnd = h.end;
          validCrc = computed;
          batchStart = h.end;
          break;
        }
      }
    } catch (err) {
      failure = { offset: pos, reason: `bad payload: ${(err as Error).message}` };
      break;
    }
    pendingCount++;
    crc = computed;
    pos = h.end;
  }

  if (failure) {
    if (!isLast || validEnd === 0) throw corruption(file, failure);
    const { later, own } = findBatchEnds(buf, failure.offset, batchStart);
    if (later !== undefined) throw corruption(file, failure, `; a later batch at offset ${later} is intact`);
    if (own !== undefined && !hasZeroSector(buf, failure.offset, own)) {
      throw corruption(file, failure, '; its batch reached disk whole');
    }
    return { records: committed, validEnd, crc: validCrc, torn: failure };
  }
  if (validEnd === 0) {
    // Segments become visible (renamed into place) only after their header batch was synced.
    throw new WalCorruptionError(file, 0, 'segment has no complete header batch');
  }
  if (pendingCount > 0) {
    if (!isLast) throw new WalCorruptionError(file, batchStart, 'segment ends inside a batch');
    return {
      records: committed,
      validEnd,
      crc: validCrc,
      torn: { offset: batchStart, reason: 'incomplete last batch' },
    };
  }
  return { records: committed, validEnd, crc: validCrc };
}

function corruption(file: string, f: Failure, why = ''): WalCorruptionError {
  if (f.crc) return new CrcMismatchError(file, f.offset, f.crc.stored, f.crc.computed);
  return new WalCorruptionError(file, f.offset, f.reason + why);
}

/** Offset just past the last non-zero byte at or after `from` (stale bytes a repair must clear). */
export function dirtyEnd(buf: Uint8Array, from: number): number {
  // Whole chunks of zeros are skipped natively (the tail of a torn segment is mostly preallocation).
  for (let hi = buf.length; hi > from; ) {
    const lo = Math.max(from, hi - ZERO_CHUNK.length);
    if (!allZero(buf, lo, hi)) {
      for (let i = hi - 1; i >= lo; i--) if (buf[i] !== 0) return i + 1;
    }
    hi = lo;
  }
  return from;
}
