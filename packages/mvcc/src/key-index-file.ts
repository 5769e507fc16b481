/**
 * The saved key index: what a clean close writes so the next open can skip rebuilding the index from
 * every revision in the key bucket (~0.8 s for 200 000 keys on the level engine, most of a restart:
 * docs/benchmarks.md "Restart and RSS (session 6)"). Pure encoding and decoding; the file I/O is in
 * key-index-io.ts and the decision to trust a decoded image in store.ts.
 *
 * Layout (integers are unsigned LEB128 varints unless noted):
 *
 *     "KVX1" | body length (u32 LE) | body | CRC-32C of body (u32 LE)
 *     body = consistentIndex compactRev lastKeyRev keyCount
 *            { keyLength keyBytes history }*keyCount
 *            leaseCount { keyOrdinal leaseId (i64 LE) }*leaseCount
 *     history = 0 main                   a KeyHistory that is a plain number
 *             | n number*n               a KeyHistory array of n >= 3 numbers
 *
 * The length and checksum reject a torn or damaged file; the header values let the store check that
 * the image describes the backend it is opening (see MvccStore.restore).
 */
import { Crc32c } from './crc32.js';
import { allocHistory, type KeyHistory } from './key-index.js';

/** A key index as saved: enough to resume without reading the key bucket. */
export interface KeyIndexImage {
  /** The backend's consistent index when the image was taken. */
  consistentIndex: number;
  /** Compacted revision (0: never compacted); the index is compacted at it. */
  compactRev: number;
  /** Highest main revision in the key bucket (0 if empty); the store's revision follows from it. */
  lastKeyRev: number;
  /** Tree keys (latin1 strings), strictly ascending. */
  keys: string[];
  /** `histories[i]` belongs to `keys[i]`. */
  histories: KeyHistory[];
  /** Live keys that carry a lease, and the lease. */
  leases: Map<string, bigint>;
}

const MAGIC = 'KVX1';
const HEAD = 8; // magic + body length
const TAIL = 4; // checksum

/**
 * Why a saved image was not used.
 * @example
 * try { decodeKeyIndexImage(bytes); } catch (err) { if (err instanceof KeyIndexFileError) scanInstead(); }
 */
export class KeyIndexFileError extends Error {
  constructor(message: string) {
    super(`key index file: ${message}`);
    this.name = 'KeyIndexFileError';
  }
}

/** Growable output buffer with varint writes. */
class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(v: number): void {
    this.ensure(10);
    // Numbers up to 2^53: division instead of 32-bit shifts.
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  latin1(s: string): void {
    this.ensure(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
}

/**
 * Encodes an image into the file's bytes.
 * @example
 * const bytes = encodeKeyIndexImage({ consistentIndex: 9, compactRev: 0, lastKeyRev: 2,
 *   keys: ['a'], histories: [2], leases: new Map() });
 * decodeKeyIndexImage(bytes).histories; // [2]
 */
export function encodeKeyIndexImage(img: KeyIndexImage): Uint8Array {
  const w = new Writer();
  w.ensure(HEAD);
  w.pos = HEAD;
  w.varint(img.consistentIndex);
  w.varint(img.compactRev);
  w.varint(img.lastKeyRev);
  w.varint(img.keys.length);
  const ordinal = new Map<string, number>();
  for (let i = 0; i < img.keys.length; i++) {
    const k = img.keys[i]!;
    if (img.leases.has(k)) ordinal.set(k, i);
    w.varint(k.length);
    w.latin1(k);
    const h = img.histories[i]!;
    if (typeof h === 'number') {
      w.varint(0);
      w.varint(h);
    } else {
      w.varint(h.length);
      for (const n of h) w.varint(n);
    }
  }
  w.varint(img.leases.size);
  for (const [k, lease] of img.leases) {
    const i = ordinal.get(k);
    if (i === undefined) throw new KeyIndexFileError(`leased key ${JSON.stringify(k)} is not in the index`);
    w.varint(i);
    w.ensure(8);
    w.buf.writeBigInt64LE(lease, w.pos);
    w.pos += 8;
  }
  const bodyLen = w.pos - HEAD;
  w.ensure(TAIL);
  w.buf.write(MAGIC, 0, 'latin1');
  w.buf.writeUInt32LE(bodyLen, 4);
  w.buf.writeUInt32LE(new Crc32c().update(w.buf.subarray(HEAD, w.pos)).digest(), w.pos);
  w.pos += TAIL;
  return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.pos);
}

/**
 * Decodes a file's bytes; throws {@link KeyIndexFileError} for anything but a complete, intact image
 * (wrong magic, torn, checksum mismatch, malformed or unordered contents).
 */
export function decodeKeyIndexImage(bytes: Uint8Array): KeyIndexImage {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEAD + TAIL || b.toString('latin1', 0, 4) !== MAGIC)
    throw new KeyIndexFileError('bad header');
  const bodyLen = b.readUInt32LE(4);
  if (b.length !== HEAD + bodyLen + TAIL) throw new KeyIndexFileError('torn (length mismatch)');
  const end = HEAD + bodyLen;
  if (new Crc32c().update(b.subarray(HEAD, end)).digest() !== b.readUInt32LE(end))
    throw new KeyIndexFileError('checksum mismatch');
  let pos = HEAD;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (pos >= end) throw new KeyIndexFileError('truncated body');
      const byte = b[pos++]!;
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new KeyIndexFileError('varint too long');
    }
  };
  const consistentIndex = varint();
  const compactRev = varint();
  const lastKeyRev = varint();
  const count = varint();
  if (count > bodyLen) throw new KeyIndexFileError('key count exceeds the body');
  const keys = new Array<string>(count);
  const histories = new Array<KeyHistory>(count);
  let prev: string | undefined;
  for (let i = 0; i < count; i++) {
    const len = varint();
    if (pos + len > end) throw new KeyIndexFileError('truncated key');
    const k = b.toString('latin1', pos, pos + len);
    pos += len;
    if (prev !== undefined && !(prev < k)) throw new KeyIndexFileError('keys out of order');
    prev = k;
    keys[i] = k;
    const n = varint();
    if (n === 0) histories[i] = varint();
    else {
      if (n < 3 || n > end - pos) throw new KeyIndexFileError('malformed history');
      const h = allocHistory(n);
      for (let j = 0; j < n; j++) h[j] = varint();
      // Generation records [ver, createdMain, pairs, main, sub, ...] must tile the array exactly.
      let p = 0;
      while (p < n) p += 3 + 2 * h[p + 2]!;
      if (p !== n) throw new KeyIndexFileError('malformed history');
      histories[i] = h;
    }
  }
  const leaseCount = varint();
  const leases = new Map<string, bigint>();
  for (let i = 0; i < leaseCount; i++) {
    const ordinal = varint();
    if (ordinal >= count || pos + 8 > end) throw new KeyIndexFileError('malformed lease');
    leases.set(keys[ordinal]!, b.readBigInt64LE(pos));
    pos += 8;
  }
  if (pos !== end) throw new KeyIndexFileError('trailing bytes');
  return { consistentIndex, compactRev, lastKeyRev, keys, histories, leases };
}
