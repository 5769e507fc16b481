/**
 * Protobuf encoding of mvccpb.KeyValue (fields 1..6, proto3: zero values omitted), written by hand so the
 * package needs no codec dependency. Byte-identical to etcd's marshalling, which keeps hashKV comparable.
 */
import type { ByteSlab } from './byte-slab.js';
import type { KeyValue } from './types.js';

function varintLen(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

function bigVarintLen(n: bigint): number {
  let len = 1;
  for (let x = BigInt.asUintN(64, n); x >= 0x80n; x >>= 7n) len++;
  return len;
}

/** Writes a 64-bit varint (two's complement, like protobuf's int64). */
function writeBigVarint(out: Uint8Array, pos: number, n: bigint): number {
  let x = BigInt.asUintN(64, n);
  while (x >= 0x80n) {
    out[pos++] = Number(x & 0x7fn) | 0x80;
    x >>= 7n;
  }
  out[pos++] = Number(x);
  return pos;
}

/**
 * Reads an int64 varint at `buf[pos]` exactly; returns [value, next position]. Values below 2^49 (every
 * id kv wrote before ids were 64-bit) take the number path; larger ones switch to bigint arithmetic.
 */
function readIdVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    const b = buf[pos++]!;
    n += (b & 0x7f) * mul;
    if (b < 0x80) return [BigInt(n), pos];
    mul *= 128;
  }
  let big = BigInt(n);
  let shift = 49n;
  for (;;) {
    const b = buf[pos++]!;
    big |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [BigInt.asIntN(64, big), pos];
    shift += 7n;
  }
}

/** Serialises a KeyValue, into bytes of `slab` when given (else a buffer of its own). */
export function encodeKeyValue(kv: KeyValue, slab?: ByteSlab): Uint8Array {
  let len = 0;
  if (kv.key.length) len += 1 + varintLen(kv.key.length) + kv.key.length;
  if (kv.createRevision) len += 1 + varintLen(kv.createRevision);
  if (kv.modRevision) len += 1 + varintLen(kv.modRevision);
  if (kv.version) len += 1 + varintLen(kv.version);
  if (kv.value.length) len += 1 + varintLen(kv.value.length) + kv.value.length;
  if (kv.lease) len += 1 + bigVarintLen(kv.lease);
  const out = slab ? slab.alloc(len) : new Uint8Array(len);
  let p = 0;
  if (kv.key.length) {
    out[p++] = 0x0a;
    p = writeVarint(out, p, kv.key.length);
    out.set(kv.key, p);
    p += kv.key.length;
  }
  if (kv.createRevision) {
    out[p++] = 0x10;
    p = writeVarint(out, p, kv.createRevision);
  }
  if (kv.modRevision) {
    out[p++] = 0x18;
    p = writeVarint(out, p, kv.modRevision);
  }
  if (kv.version) {
    out[p++] = 0x20;
    p = writeVarint(out, p, kv.version);
  }
  if (kv.value.length) {
    out[p++] = 0x2a;
    p = writeVarint(out, p, kv.value.length);
    out.set(kv.value, p);
    p += kv.value.length;
  }
  if (kv.lease) {
    out[p++] = 0x30;
    p = writeBigVarint(out, p, kv.lease);
  }
  return out;
}

/**
 * Serialises a KeyValue being written into `slab` and points `kv.key` and `kv.value` at their bytes
 * inside the encoding: the revision then holds one copy of its key and value (the caller's are
 * usually views into a request that must not be kept alive) and no buffer of its own.
 */
export function encodeOwnedKeyValue(kv: KeyValue, slab: ByteSlab): Uint8Array {
  const out = encodeKeyValue(kv, slab);
  if (kv.key.length) {
    const start = 1 + varintLen(kv.key.length);
    kv.key = out.subarray(start, start + kv.key.length);
  }
  if (kv.value.length) {
    const end = out.length - (kv.lease ? 1 + bigVarintLen(kv.lease) : 0);
    kv.value = out.subarray(end - kv.value.length, end);
  }
  return out;
}

/** Parses a KeyValue; key and value are views into `buf` (callers must not mutate them). */
export function decodeKeyValue(buf: Uint8Array): KeyValue {
  const kv: KeyValue = {
    key: new Uint8Array(0),
    createRevision: 0,
    modRevision: 0,
    version: 0,
    value: new Uint8Array(0),
    lease: 0n,
  };
  let p = 0;
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[p++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (p < buf.length) {
    const tag = buf[p++]!;
    switch (tag) {
      case 0x0a: {
        const n = varint();
        kv.key = buf.subarray(p, p + n);
        p += n;
        break;
      }
      case 0x10:
        kv.createRevision = varint();
        break;
      case 0x18:
        kv.modRevision = varint();
        break;
      case 0x20:
        kv.version = varint();
        break;
      case 0x2a: {
        const n = varint();
        kv.value = buf.subarray(p, p + n);
        p += n;
        break;
      }
      case 0x30:
        [kv.lease, p] = readIdVarint(buf, p);
        break;
      default:
        throw new Error(`mvcc: unexpected KeyValue field tag ${tag}`);
    }
  }
  return kv;
}

/** What rebuilding the key index needs from a stored KeyValue. */
export interface IndexFields {
  /** The key as a latin1 string (one char per byte), the key index's tree key. */
  key: string;
  createRevision: number;
  version: number;
  /** Lease id (0n: none). */
  lease: bigint;
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(start: number, end: number): string })
  .latin1Slice;

/** Parses only key, create_revision and version, without allocating views (rebuild at open). */
export function decodeIndexFields(buf: Uint8Array): IndexFields {
  const out: IndexFields = { key: '', createRevision: 0, version: 0, lease: 0n };
  let p = 0;
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[p++]!;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (p < buf.length) {
    const tag = buf[p++]!;
    if (tag === 0x0a || tag === 0x2a) {
      const n = varint();
      if (tag === 0x0a) out.key = latin1Slice.call(buf, p, p + n);
      p += n;
    } else if (tag === 0x30) {
      [out.lease, p] = readIdVarint(buf, p);
    } else {
      const v = varint();
      if (tag === 0x10) out.createRevision = v;
      else if (tag === 0x20) out.version = v;
    }
  }
  return out;
}
