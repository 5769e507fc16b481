/**
 * On-disk record framing (hand-written; see README "File format") and the record payload codecs.
 *
 * Frame, 8-byte aligned, little endian:
 *   [0,4)  payload length            [4] record type      [5] padding length (0-7)
 *   [6,8)  header check: low 16 bits of crc32c(bytes [0,6)) -- detects a damaged length field
 *   [8,12) chained crc: crc32c(previous record's crc, bytes [0,6) ++ payload)
 *   [12, 12+len) payload, then `padding` zero bytes.
 * The 8-byte header never straddles a 512 B sector, so a crash leaves it either whole or zero; an
 * all-zero header is the end of written data (a valid header is never all zero: type 0 is unused).
 *
 * Payloads use protobuf wire format as described in proto/wal/walpb.proto, encoded by hand here
 * because they sit on the hot path of every save.
 */
import { crc32c } from './crc32c.js';
import type { WalEntry, WalHardState, WalSnapshotMarker } from './types.js';

/** Record types. Numbers 1-5 match etcd's walpb record types; 6 is ours. */
export const RecordType = {
  metadata: 1,
  entry: 2,
  state: 3,
  crc: 4,
  snapshot: 5,
  /** Closes one `save`/`saveSnapshot` batch; a batch without it never happened (see README). */
  batchEnd: 6,
} as const;
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

export const HEADER_SIZE = 12;
export const MAX_RECORD_TYPE = 6;

/** Bytes a record with a payload of `len` bytes occupies on disk, padding included. */
export function frameSize(len: number): number {
  return (HEADER_SIZE + len + 7) & ~7;
}

export function headerCheck(buf: Uint8Array, pos: number): number {
  return crc32c(0, buf, pos, pos + 6) & 0xffff;
}

// ---- protobuf wire helpers (terms, indexes and lengths are < 2^53; the vote is a uint64 id) ----

function putVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Writes a uint64 varint (the vote, a member id); small values take the number path. */
function putVarintBig(buf: Uint8Array, pos: number, v: bigint): number {
  if (v <= 0xffffffffn) return putVarint(buf, pos, Number(v));
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/**
 * Copies bytes out into a plain Uint8Array. (Buffer#slice would return a view that keeps the
 * whole segment buffer alive, and a Buffer rather than the Uint8Array callers expect.)
 */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}

/** Decodes protobuf fields; throws on malformed input (caller turns it into corruption). */
class PbReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new Error('varint exceeds 2^53');
        return result;
      }
      mul *= 128;
    }
    throw new Error('varint too long');
  }

  /** A uint64 varint, exact (for the vote). */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result > 0xffffffffffffffffn) throw new Error('varint exceeds 2^64');
        return result;
      }
      shift += 7n;
    }
    throw new Error('varint too long');
  }

  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated bytes field');
    const out = copyBytes(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Like bytes(), but a view into the input (no copy; it keeps the whole input alive). */
  bytesView(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new Error('truncated bytes field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  fixed32(): number {
    if (this.pos + 4 > this.end) throw new Error('truncated fixed32');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) {
      // Not `this.pos += this.varint()`: that adds the length to the position from before the varint.
      const len = this.varint();
      this.pos += len;
    } else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else throw new Error(`bad wire type ${wire}`);
    if (this.pos > this.end) throw new Error('truncated field');
  }
}

// ---- batch encoder ----

/**
 * Builds the bytes of one batch of records into a reusable buffer, chaining CRCs as it goes, so a
 * whole `save` becomes a single write.
 */
export class BatchEncoder {
  private buf = new Uint8Array(64 * 1024);
  private view = new DataView(this.buf.buffer);
  /** Bytes encoded so far. */
  length = 0;
  /** Chained CRC after the last record encoded. */
  crc = 0;
  private records = 0;

  /** Starts a new batch continuing the chain from `crc`. */
  reset(crc: number): void {
    this.length = 0;
    this.crc = crc;
    this.records = 0;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private reserve(maxPayload: number): number {
    const need = this.length + HEADER_SIZE + maxPayload + 8;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    return this.length + HEADER_SIZE;
  }

  /** Frames the payload just written at [start, payloadEnd) and advances. */
  private finish(type: number, start: number, payloadEnd: number): void {
    const pos = this.length;
    const len = payloadEnd - start;
    const total = frameSize(len);
    const pad = total - HEADER_SIZE - len;
    this.view.setUint32(pos, len, true);
    this.buf[pos + 4] = type;
    this.buf[pos + 5] = pad;
    this.view.setUint16(pos + 6, headerCheck(this.buf, pos), true);
    let c = crc32c(this.crc, this.buf, pos, pos + 6);
    c = crc32c(c, this.buf, start, payloadEnd);
    this.view.setUint32(pos + 8, c, true);
    this.buf.fill(0, payloadEnd, pos + total);
    this.crc = c;
    this.length = pos + total;
    this.records++;
  }

  addEntry(e: WalEntry): void {
    const data = e.data ?? new Uint8Array(0);
    const start = this.reserve(33 + 11 + data.length);
    let p = start;
    const b = this.buf;
    b[p++] = 0x08;
    p = putVarint(b, p, e.type);
    b[p++] = 0x10;
    p = putVarint(b, p, e.term);
    b[p++] = 0x18;
    p = putVarint(b, p, e.index);
    if (data.length > 0) {
      b[p++] = 0x22;
      p = putVarint(b, p, data.length);
      b.set(data, p);
      p += data.length;
    }
    this.finish(RecordType.entry, start, p);
  }

  addState(hs: WalHardState): void {
    const start = this.reserve(33);
    let p = start;
    const b = this.buf;
    b[p++] = 0x08;
    p = putVarint(b, p, hs.term);
    b[p++] = 0x10;
    p = putVarintBig(b, p, hs.vote);
    b[p++] = 0x18;
    p = putVarint(b, p, hs.commit);
    this.finish(RecordType.state, start, p);
  }

  addSnapshot(m: WalSnapshotMarker): void {
    const conf = m.confState;
    const start = this.reserve(22 + 11 + (conf?.length ?? 0));
    let p = start;
    const b = this.buf;
    b[p++] = 0x08;
    p = putVarint(b, p, m.index);
    b[p++] = 0x10;
    p = putVarint(b, p, m.term);
    if (conf && conf.length > 0) {
      b[p++] = 0x1a;
      p = putVarint(b, p, conf.length);
      b.set(conf, p);
      p += conf.length;
    }
    this.finish(RecordType.snapshot, start, p);
  }

  addMetadata(metadata: Uint8Array): void {
    const start = this.reserve(metadata.length);
    this.buf.set(metadata, start);
    this.finish(RecordType.metadata, start, start + metadata.length);
  }

  /** First record of every segment: carries the chain value so segments link up. */
  addCrc(prevCrc: number): void {
    const start = this.reserve(5);
    this.buf[start] = 0x0d; // field 1, fixed32
    this.view.setUint32(start + 1, prevCrc, true);
    // The crc record's chain starts from the value it carries, so a reader that starts at this
    // segment (after a release) can verify it without the previous segment.
    this.crc = prevCrc;
    this.finish(RecordType.crc, start, start + 5);
  }

  /**
   * Closes the batch. The payload repeats the chain value before this record, which makes a batch
   * end verifiable on its own (needed to tell mid-log damage from a torn tail, see decoder).
   * @param batchStart segment offset of the batch's first record
   */
  addBatchEnd(batchStart: number): void {
    const records = this.records;
    const start = this.reserve(5 + 11 + 6);
    let p = start;
    const b = this.buf;
    b[p++] = 0x0d;
    this.view.setUint32(p, this.crc, true);
    p += 4;
    b[p++] = 0x10;
    p = putVarint(b, p, batchStart);
    b[p++] = 0x18;
    p = putVarint(b, p, records);
    this.finish(RecordType.batchEnd, start, p);
  }
}

// ---- payload decoders ----

/**
 * Decodes an entry record's payload.
 * @param copyData false: `data` is a view into `buf` (the WAL scan uses this and copies only the entries
 *   it keeps, see {@link detachEntryData}); true: `data` owns its bytes
 */
export function decodeEntry(buf: Uint8Array, start: number, end: number, copyData = true): WalEntry {
  const r = new PbReader(buf, start, end);
  const e: WalEntry = { term: 0, index: 0, type: 0, data: new Uint8Array(0) };
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) e.type = r.varint();
    else if (field === 2 && wire === 0) e.term = r.varint();
    else if (field === 3 && wire === 0) e.index = r.varint();
    else if (field === 4 && wire === 2) e.data = copyData ? r.bytes() : r.bytesView();
    else r.skip(wire);
  }
  return e;
}

/**
 * The index of an entry record's payload, checking the payload's structure as {@link decodeEntry} does
 * but allocating nothing. Why: a restart scans every record of the WAL, yet keeps only the entries after
 * the snapshot (often none of 200 000); decoding each into an object with a data view was ~45 % of the
 * WAL read's CPU and garbage (docs/benchmarks.md "Restart and RSS (session 6)").
 */
export function entryIndex(buf: Uint8Array, start: number, end: number): number {
  const r = new PbReader(buf, start, end);
  let index = 0;
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 3 && wire === 0) index = r.varint();
    else r.skip(wire);
  }
  return index;
}

/** Target size of one block that {@link detachEntryData} copies entry data into. */
const DATA_BLOCK_BYTES = 1 << 20;

/**
 * Gives entries whose `data` views a segment buffer their own copies, packed into shared blocks of about
 * 1 MiB instead of one ArrayBuffer each. Why: after a restart raft holds every entry since the last
 * snapshot (100 000 by default); one ArrayBuffer per entry cost ~170 bytes of V8 objects each on top of
 * the data and 200k allocations that the restart's garbage collections had to track. A block is freed
 * once raft has dropped all of its entries (consecutive entries share a block, and raft drops a prefix).
 */
export function detachEntryData(entries: WalEntry[]): void {
  let i = 0;
  while (i < entries.length) {
    let size = 0;
    let j = i;
    while (j < entries.length && (size === 0 || size + entries[j]!.data.length <= DATA_BLOCK_BYTES)) {
      size += entries[j]!.data.length;
      j++;
    }
    const block = new Uint8Array(size);
    let off = 0;
    for (; i < j; i++) {
      const e = entries[i]!;
      const len = e.data.length;
      block.set(e.data, off);
      e.data = block.subarray(off, off + len);
      off += len;
    }
  }
}

export function decodeState(buf: Uint8Array, start: number, end: number): WalHardState {
  const r = new PbReader(buf, start, end);
  const hs: WalHardState = { term: 0, vote: 0n, commit: 0 };
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) hs.term = r.varint();
    else if (field === 2 && wire === 0) hs.vote = r.varintBig();
    else if (field === 3 && wire === 0) hs.commit = r.varint();
    else r.skip(wire);
  }
  return hs;
}

export function decodeSnapshot(buf: Uint8Array, start: number, end: number): WalSnapshotMarker {
  const r = new PbReader(buf, start, end);
  const m: WalSnapshotMarker = { index: 0, term: 0 };
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) m.index = r.varint();
    else if (field === 2 && wire === 0) m.term = r.varint();
    else if (field === 3 && wire === 2) m.confState = r.bytes();
    else r.skip(wire);
  }
  return m;
}

/** Decodes a crc record's payload: the chain value it carries. */
export function decodeCrc(buf: Uint8Array, start: number, end: number): number {
  const r = new PbReader(buf, start, end);
  let v: number | undefined;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x0d) v = r.fixed32();
    else r.skip(tag & 7);
  }
  if (v === undefined) throw new Error('crc record without value');
  return v;
}

export interface BatchEndPayload {
  prevCrc: number;
  batchStart: number;
  records: number;
}

export function decodeBatchEnd(buf: Uint8Array, start: number, end: number): BatchEndPayload {
  const r = new PbReader(buf, start, end);
  const out: BatchEndPayload = { prevCrc: 0, batchStart: 0, records: 0 };
  let seenCrc = false;
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x0d) {
      out.prevCrc = r.fixed32();
      seenCrc = true;
    } else if (tag === 0x10) out.batchStart = r.varint();
    else if (tag === 0x18) out.records = r.varint();
    else r.skip(tag & 7);
  }
  if (!seenCrc) throw new Error('batch end without crc');
  return out;
}
