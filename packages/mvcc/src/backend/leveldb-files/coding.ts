/**
 * LevelDB's primitive encodings (util/coding.h): little-endian fixed-width integers, varints, and
 * length-prefixed strings, plus its "masked" CRC-32C (util/crc32c.h), which every log record and table
 * block carries.
 */
import { Crc32c } from '../../crc32.js';

/** Thrown by {@link ByteReader} when the bytes end inside a value; callers turn it into a typed error. */
export class ShortInputError extends Error {}

/** Sequential reader over one byte range. */
export class ByteReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {}

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /**
   * An unsigned varint of up to 64 bits as a JS number. Every varint64 LevelDB writes into a manifest
   * or index (file numbers, sizes, offsets) is far below 2^53, so a number holds it exactly.
   */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new ShortInputError('varint runs past the end');
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new ShortInputError('varint longer than 10 bytes');
  }

  /** `n` bytes as a view into the input (not a copy). */
  take(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new ShortInputError('length runs past the end');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A varint32 length, then that many bytes (GetLengthPrefixedSlice). */
  lengthPrefixed(): Uint8Array {
    return this.take(this.varint());
  }
}

/** Little-endian uint32 at `at`. */
export function fixed32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

const MASK_DELTA = 0xa282ead8;

/**
 * LevelDB's masked CRC-32C of the concatenation of `parts`: the CRC rotated right 15 bits plus a
 * constant. LevelDB masks because a CRC of bytes that themselves hold CRCs is weak.
 */
export function maskedCrc32c(...parts: Uint8Array[]): number {
  const crc = new Crc32c();
  for (const p of parts) crc.update(p);
  const c = crc.digest();
  return (((c >>> 15) | (c << 17)) + MASK_DELTA) >>> 0;
}
