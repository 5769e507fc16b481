// biome-ignore-all lint/correctness/noUnusedVariables: template; each helper is used by some generated file.
// biome-ignore-all lint/correctness/noUnusedPrivateClassMembers: template, see above.
// ---------------------------------------------------------------------------------------------------
// Codec runtime. tools/gen-proto.mjs copies this block verbatim into every generated file so each file
// stands alone (no runtime dependency, not even protobufjs). Edit tools/gen-proto/runtime.ts, never the
// generated copy.
// ---------------------------------------------------------------------------------------------------

/** Thrown when bytes cannot be decoded as the requested message (truncated, bad wire type, ...). */
export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

/** Thrown when a JSON value cannot be mapped onto the requested message. */
export class ProtoJsonError extends Error {
  override name = 'ProtoJsonError';
}

/** Recursively optional input shape accepted by `encode`, `create` and `toJSON`. */
export type DeepPartial<T> = T extends Uint8Array
  ? Uint8Array
  : T extends readonly (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** A JSON value as produced by `toJSON`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object as produced by `toJSON`. */
export type JsonObject = { [key: string]: JsonValue };

const TWO_32 = 4294967296;
const EMPTY_BYTES = new Uint8Array(0);
const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

function truncated(): never {
  throw new ProtoDecodeError('truncated message: read past the end of the input');
}

/** Sequential protobuf reader over one input buffer. */
class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;
  /** High 32 bits of the last 64-bit varint read by `varint64`. */
  private hi = 0;
  private view: DataView | undefined;

  constructor(buf: Uint8Array, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Points this reader at new input. Decoding is synchronous, so one reader serves every call. */
  reset(buf: Uint8Array, pos: number, end: number): Reader {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.view = undefined;
    return this;
  }

  /** Reads a varint and returns its low 32 bits as an unsigned number. */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    // Tags, lengths and small values are one byte; take that path even near the end of the input.
    if (pos < this.end && buf[pos]! < 0x80) {
      this.pos = pos + 1;
      return buf[pos]!;
    }
    if (pos + 10 <= this.end) {
      let b = buf[pos++]!;
      let v = b & 0x7f;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      b = buf[pos++]!;
      v |= (b & 0x7f) << 7;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      b = buf[pos++]!;
      v |= (b & 0x7f) << 14;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      b = buf[pos++]!;
      v |= (b & 0x7f) << 21;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
      b = buf[pos++]!;
      v |= (b & 0x0f) << 28;
      if (b < 0x80) {
        this.pos = pos;
        return v >>> 0;
      }
      // Bytes 6..10 carry bits above 32 (e.g. a negative int32); drop them but check the varint ends.
      for (let i = 0; i < 5; i++) {
        if (buf[pos++]! < 0x80) {
          this.pos = pos;
          return v >>> 0;
        }
      }
      throw new ProtoDecodeError('malformed varint: more than 10 bytes');
    }
    this.varint64();
    return this.lastLo >>> 0;
  }

  private lastLo = 0;

  /** Reads a varint of up to 64 bits, bounds-checked; leaves the halves in `lastLo` and `hi`. */
  private varint64(): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) truncated();
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lastLo = lo;
        this.hi = 0;
        return;
      }
    }
    if (pos >= end) truncated();
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) {
      this.pos = pos;
      this.lastLo = lo;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift < 32; shift += 7) {
      if (pos >= end) truncated();
      b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lastLo = lo;
        this.hi = hi;
        return;
      }
    }
    throw new ProtoDecodeError('malformed varint: more than 10 bytes');
  }

  int32(): number {
    return this.uint32() | 0;
  }

  sint32(): number {
    const v = this.uint32();
    return (v >>> 1) ^ -(v & 1);
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  /** Returns a varint below 2^28 (at most 4 bytes) directly, or -1 to ask for the general path. */
  private smallVarint(): number {
    const buf = this.buf;
    const pos = this.pos;
    if (pos + 4 > this.end) return -1;
    let b = buf[pos]!;
    if (b < 0x80) {
      this.pos = pos + 1;
      return b;
    }
    let v = b & 0x7f;
    b = buf[pos + 1]!;
    v |= (b & 0x7f) << 7;
    if (b < 0x80) {
      this.pos = pos + 2;
      return v;
    }
    b = buf[pos + 2]!;
    v |= (b & 0x7f) << 14;
    if (b < 0x80) {
      this.pos = pos + 3;
      return v;
    }
    b = buf[pos + 3]!;
    v |= (b & 0x7f) << 21;
    if (b < 0x80) {
      this.pos = pos + 4;
      return v;
    }
    return -1;
  }

  uint64(): number {
    const small = this.smallVarint();
    if (small >= 0) return small;
    this.varint64();
    return (this.hi >>> 0) * TWO_32 + (this.lastLo >>> 0);
  }

  int64(): number {
    const small = this.smallVarint();
    if (small >= 0) return small;
    this.varint64();
    return joinSigned(this.lastLo, this.hi);
  }

  /** A uint64 varint as an exact bigint (fields selected with `bigint` in proto-gen.json). */
  uint64n(): bigint {
    this.varint64();
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lastLo >>> 0);
  }

  /** An int64 varint as an exact (signed) bigint. */
  int64n(): bigint {
    return BigInt.asIntN(64, this.uint64n());
  }

  /** A zig-zag sint64 varint as an exact bigint. */
  sint64n(): bigint {
    const u = this.uint64n();
    return (u >> 1n) ^ -(u & 1n);
  }

  sint64(): number {
    this.varint64();
    const lo = this.lastLo;
    const hi = this.hi;
    const mask = -(lo & 1);
    return joinSigned(((lo >>> 1) | (hi << 31)) ^ mask, (hi >>> 1) ^ mask);
  }

  private need(n: number): number {
    const pos = this.pos;
    if (pos + n > this.end) truncated();
    this.pos = pos + n;
    return pos;
  }

  fixed32(): number {
    const p = this.need(4);
    const b = this.buf;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  sfixed32(): number {
    return this.fixed32() | 0;
  }

  fixed64(): number {
    const lo = this.fixed32();
    return this.fixed32() * TWO_32 + lo;
  }

  sfixed64(): number {
    const lo = this.fixed32();
    return joinSigned(lo, this.fixed32());
  }

  fixed64n(): bigint {
    const lo = this.fixed32();
    return (BigInt(this.fixed32()) << 32n) | BigInt(lo);
  }

  sfixed64n(): bigint {
    return BigInt.asIntN(64, this.fixed64n());
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  float(): number {
    return this.dataView().getFloat32(this.need(4), true);
  }

  double(): number {
    return this.dataView().getFloat64(this.need(8), true);
  }

  /** Reads a length prefix and returns the end offset of the delimited payload. */
  delimited(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) truncated();
    return end;
  }

  /**
   * Reads a length-delimited bytes field as a view into the reader's buffer. `startDecode` hands the
   * reader a private copy of the caller's input, so views never alias memory the caller may reuse;
   * one copy per message is ~10x cheaper than one allocation per bytes field.
   */
  bytes(): Uint8Array {
    const end = this.delimited();
    const start = this.pos;
    this.pos = end;
    if (end === start) return EMPTY_BYTES;
    // The reader's buffer is always our own plain Uint8Array, so subarray (V8's fastest view) yields
    // plain Uint8Arrays even when the caller passed a Buffer.
    return this.buf.subarray(start, end);
  }

  string(): string {
    const end = this.delimited();
    const buf = this.buf;
    const start = this.pos;
    this.pos = end;
    if (end - start > 24) return utf8Decoder.decode(buf.subarray(start, end));
    let s = '';
    for (let pos = start; pos < end; pos++) {
      const c = buf[pos]!;
      if (c >= 0x80) return utf8Decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }

  /** Skips the payload of a field whose tag was just read. */
  skip(tag: number): void {
    const wireType = tag & 7;
    if (tag >>> 3 === 0) throw new ProtoDecodeError('invalid field number 0');
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.need(8);
        return;
      case 2:
        this.pos = this.delimited();
        return;
      case 5:
        this.need(4);
        return;
      case 3: {
        const field = tag >>> 3;
        for (;;) {
          if (this.pos >= this.end) truncated();
          const inner = this.uint32();
          if ((inner & 7) === 4) {
            if (inner >>> 3 !== field) throw new ProtoDecodeError('mismatched end-group tag');
            return;
          }
          this.skip(inner);
        }
      }
      default:
        throw new ProtoDecodeError(`invalid wire type ${wireType} for field ${tag >>> 3}`);
    }
  }
}

/** Joins two's-complement 32-bit halves into a (possibly negative) number. */
function joinSigned(lo: number, hi: number): number {
  if (hi & 0x80000000) {
    return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
  }
  return (hi >>> 0) * TWO_32 + (lo >>> 0);
}

/** Checks that a nested message ended exactly at its length prefix. */
function checkEnd(r: Reader, end: number): void {
  if (r.pos !== end) throw new ProtoDecodeError('nested message overran its length prefix');
}

/** Growable protobuf writer. One scratch instance is reused by all top-level encodes. */
class Writer {
  buf: Uint8Array;
  pos = 0;
  private view: DataView | undefined;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = undefined;
  }

  /** Writes a precomputed tag (field number and wire type). */
  tag(t: number): void {
    this.uint32(t);
  }

  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    v >>>= 0;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  int32(v: number): void {
    if (v >= 0) this.uint32(v);
    else this.varint64(v | 0, -1);
  }

  sint32(v: number): void {
    this.uint32((v << 1) ^ (v >> 31));
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  /** Writes a 64-bit varint from its two's-complement halves. */
  varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    lo >>>= 0;
    hi >>>= 0;
    while (hi !== 0) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  uint64(v: number): void {
    if (v >= 0 && v <= 0xffffffff) this.uint32(v);
    else {
      const [lo, hi] = splitInt64(v);
      this.varint64(lo, hi);
    }
  }

  int64(v: number): void {
    this.uint64(v);
  }

  /** Writes an exact 64-bit value (two's complement for negatives, as int64 on the wire). */
  uint64n(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.varint64(Number(u & 0xffffffffn), Number(u >> 32n));
  }

  int64n(v: bigint): void {
    this.uint64n(v);
  }

  sint64n(v: bigint): void {
    const s = BigInt.asIntN(64, v);
    this.uint64n((s << 1n) ^ (s >> 63n));
  }

  fixed64n(v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.fixed32(Number(u & 0xffffffffn));
    this.fixed32(Number(u >> 32n));
  }

  sfixed64n(v: bigint): void {
    this.fixed64n(v);
  }

  sint64(v: number): void {
    const [lo, hi] = splitInt64(v);
    const mask = hi >> 31;
    this.varint64(((lo << 1) ^ mask) >>> 0, (((hi << 1) | (lo >>> 31)) ^ mask) >>> 0);
  }

  fixed32(v: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v & 0xff;
    buf[p + 1] = (v >>> 8) & 0xff;
    buf[p + 2] = (v >>> 16) & 0xff;
    buf[p + 3] = (v >>> 24) & 0xff;
    this.pos = p + 4;
  }

  sfixed32(v: number): void {
    this.fixed32(v);
  }

  fixed64(v: number): void {
    const [lo, hi] = splitInt64(v);
    this.fixed32(lo);
    this.fixed32(hi);
  }

  sfixed64(v: number): void {
    this.fixed64(v);
  }

  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  float(v: number): void {
    this.ensure(4);
    this.dataView().setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  double(v: number): void {
    this.ensure(8);
    this.dataView().setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  bytes(v: Uint8Array): void {
    const len = v.length;
    this.uint32(len);
    this.ensure(len);
    this.buf.set(v, this.pos);
    this.pos += len;
  }

  string(s: string): void {
    const n = s.length;
    if (n < 43) {
      // At most 3 bytes per UTF-16 unit, so the byte length fits a one-byte prefix.
      this.ensure(1 + n * 3);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      for (let i = 0; i < n; i++) {
        let c = s.charCodeAt(i);
        if (c < 0x80) buf[pos++] = c;
        else if (c < 0x800) {
          buf[pos++] = (c >> 6) | 0xc0;
          buf[pos++] = (c & 0x3f) | 0x80;
        } else {
          if ((c & 0xfc00) === 0xd800 && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
            c = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff);
            buf[pos++] = (c >> 18) | 0xf0;
            buf[pos++] = ((c >> 12) & 0x3f) | 0x80;
          } else {
            if ((c & 0xf800) === 0xd800) c = 0xfffd; // lone surrogate, as TextEncoder does
            buf[pos++] = (c >> 12) | 0xe0;
          }
          buf[pos++] = ((c >> 6) & 0x3f) | 0x80;
          buf[pos++] = (c & 0x3f) | 0x80;
        }
      }
      buf[start] = pos - start - 1;
      this.pos = pos;
      return;
    }
    const max = n * 3;
    const prefix = varintSize(max);
    this.ensure(prefix + max);
    const start = this.pos;
    const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(start + prefix, start + prefix + max));
    const actual = varintSize(written);
    if (actual < prefix) this.buf.copyWithin(start + actual, start + prefix, start + prefix + written);
    this.uint32(written);
    this.pos = start + actual + written;
  }

  /** Reserves a one-byte length prefix for a nested message; returns its offset for `join`. */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Fills in the length prefix reserved by `fork`, moving the payload if the prefix needs more bytes. */
  join(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    const buf = this.buf;
    buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    let pos = at;
    let v = len;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos] = v;
    this.pos += extra;
  }
}

/** Splits an integral number into two's-complement 32-bit halves (low, high). */
function splitInt64(v: number): [number, number] {
  if (!Number.isFinite(v)) throw new RangeError(`cannot encode ${v} as a 64-bit integer`);
  v = Math.trunc(v);
  const neg = v < 0;
  if (neg) v = -v;
  let lo = (v % TWO_32) >>> 0;
  let hi = Math.floor(v / TWO_32) >>> 0;
  if (neg) {
    lo = ~lo >>> 0;
    hi = ~hi >>> 0;
    if (lo === 0xffffffff) {
      lo = 0;
      hi = (hi + 1) >>> 0;
    } else lo += 1;
  }
  return [lo, hi];
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

let scratch = new Writer(1024);

/** Returns the shared scratch writer, reset; pair with `finishEncode`. */
function startEncode(): Writer {
  const w = scratch;
  w.pos = 0;
  return w;
}

/** Returns an exact-size copy of what was written since `startEncode`. */
function finishEncode(w: Writer): Uint8Array {
  const out = w.buf.slice(0, w.pos);
  // Do not pin a huge buffer after encoding one large message.
  if (w.buf.length > 1 << 20) scratch = new Writer(1024);
  return out;
}

/** Inputs up to this size are copied into a shared slab (as Node's Buffer pool does): allocating a
 * typed array per small message costs more than decoding it. */
const SLAB_MAX_COPY = 2048;
const SLAB_SIZE = 16 * 1024;
let slab = new Uint8Array(0);
let slabPos = 0;
const sharedReader = new Reader(slab, 0, 0);

/** Copies `bytes` so decoded views never alias the caller's (possibly reused) buffer. */
function privateCopyReader(bytes: Uint8Array): Reader {
  const n = bytes.length;
  if (n > SLAB_MAX_COPY) {
    const own = new Uint8Array(n);
    own.set(bytes);
    return sharedReader.reset(own, 0, n);
  }
  if (slabPos + n > slab.length) {
    slab = new Uint8Array(SLAB_SIZE);
    slabPos = 0;
  }
  const start = slabPos;
  // The reader works on the slab between offsets, so small inputs cost no allocation at all.
  slab.set(bytes, start);
  slabPos = (start + n + 7) & ~7;
  return sharedReader.reset(slab, start, start + n);
}

/**
 * Starts decoding a top-level message from a private copy of `bytes`. Decoded bytes fields are views
 * into that copy: retaining one keeps the copy (or its 16 KiB slab) alive, so `slice()` small pieces of
 * large messages that are kept for long. Each generated `decode` calls its own reader function directly
 * (a shared helper taking the reader as a callback would make that call site megamorphic).
 */
function startDecode(bytes: Uint8Array, name: string): Reader {
  if (!(bytes instanceof Uint8Array)) throw new ProtoDecodeError(`${name}: decode expects a Uint8Array`);
  return privateCopyReader(bytes);
}

/** Wraps any failure during decoding (including stack exhaustion on absurd nesting) as a ProtoDecodeError. */
function decodeError(e: unknown, name: string): ProtoDecodeError {
  return new ProtoDecodeError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
}

// ---- JSON mapping helpers (grpc-gateway / protojson conventions) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  t['-'.charCodeAt(0)] = 62; // URL-safe alphabet is accepted on input
  t['_'.charCodeAt(0)] = 63;
  return t;
})();

const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

function base64Encode(b: Uint8Array): string {
  // Node's native encoder is much faster for large values; the loop below serves other runtimes.
  if (NodeBuffer !== undefined && b.length > 32) {
    return NodeBuffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
  }
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = b.length - i;
  if (rest === 1) {
    const n = b[i]! << 16;
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8);
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`;
  }
  return out;
}

function base64Decode(s: string, path: string): Uint8Array {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) end--;
  if (end % 4 === 1) throw new ProtoJsonError(`${path}: invalid base64`);
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new ProtoJsonError(`${path}: invalid base64`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function jsonObject(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new ProtoJsonError(`${path}: expected an object`);
  }
  return v as Record<string, unknown>;
}

function jsonArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new ProtoJsonError(`${path}: expected an array`);
  return v;
}

function jsonInt(v: unknown, path: string, min: number, max: number): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = Number(v.trim());
  else throw new ProtoJsonError(`${path}: expected an integer`);
  if (!Number.isInteger(n) || n < min || n > max) throw new ProtoJsonError(`${path}: integer out of range`);
  return n;
}

function jsonInt32(v: unknown, path: string): number {
  return jsonInt(v, path, -0x80000000, 0x7fffffff);
}

function jsonUint32(v: unknown, path: string): number {
  return jsonInt(v, path, 0, 0xffffffff);
}

function jsonInt64(v: unknown, path: string): number {
  return jsonInt(v, path, -(2 ** 63), 2 ** 63);
}

function jsonUint64(v: unknown, path: string): number {
  return jsonInt(v, path, 0, 2 ** 64);
}

/** A 64-bit integer given as a JSON number or decimal string, exactly (for `bigint` fields). */
function jsonBig(v: unknown, path: string, unsigned: boolean): bigint {
  let n: bigint;
  if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = BigInt(v.trim());
  else throw new ProtoJsonError(`${path}: expected an integer`);
  const ok = unsigned ? n >= 0n && n < 1n << 64n : n >= -(1n << 63n) && n < 1n << 63n;
  if (!ok) throw new ProtoJsonError(`${path}: integer out of range`);
  return n;
}

function jsonFloat(v: unknown, path: string): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw new ProtoJsonError(`${path}: expected a number`);
}

function jsonFloatOut(v: number): JsonValue {
  return Number.isFinite(v) ? v : String(v);
}

function jsonBool(v: unknown, path: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ProtoJsonError(`${path}: expected a boolean`);
}

function jsonString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ProtoJsonError(`${path}: expected a string`);
  return v;
}

function jsonBytes(v: unknown, path: string): Uint8Array {
  if (typeof v !== 'string') throw new ProtoJsonError(`${path}: expected a base64 string`);
  return base64Decode(v, path);
}

function jsonEnum(v: unknown, path: string, values: Readonly<Record<string, number>>): number {
  if (typeof v === 'string') {
    const n = values[v];
    if (n !== undefined && Object.hasOwn(values, v)) return n;
    if (/^-?\d+$/.test(v)) return jsonInt32(v, path);
    throw new ProtoJsonError(`${path}: unknown enum value ${JSON.stringify(v)}`);
  }
  return jsonInt32(v, path);
}

function jsonEnumOut(v: number, names: Readonly<Record<number, string>>): JsonValue {
  return names[v] ?? v;
}

/** Reads a JSON member by its proto name or its lowerCamelCase JSON name; null means absent. */
function jsonField(o: Record<string, unknown>, protoName: string, jsonName: string): unknown {
  let v = o[protoName];
  if (v === undefined && jsonName !== protoName) v = o[jsonName];
  return v === null ? undefined : v;
}

// ---- end of runtime ----
