/**
 * Revisions and their on-disk key form.
 *
 * A revision is {main, sub}: main is the store revision of a write transaction, sub numbers the changes
 * inside it. The key bucket stores `main(8 bytes BE) '_' sub(8 bytes BE)` plus a trailing 't' for
 * tombstones, exactly as etcd does, so byte order equals revision order and hashKV matches etcd's.
 */

/** A change's position in history. */
export interface Revision {
  main: number;
  sub: number;
}

export const REV_BYTES_LEN = 17;
const TOMBSTONE_MARK = 0x74; // 't'

function writeUint64(out: Uint8Array, offset: number, n: number): void {
  // Byte arithmetic instead of a DataView: this runs for every write and read by revision.
  let hi = Math.floor(n / 0x100000000);
  let lo = n >>> 0;
  for (let i = 3; i >= 0; i--) {
    out[offset + i] = hi & 0xff;
    hi >>>= 8;
    out[offset + 4 + i] = lo & 0xff;
    lo >>>= 8;
  }
}

function readUint64(bytes: Uint8Array, offset: number): number {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 4; i++) {
    hi = hi * 256 + bytes[offset + i]!;
    lo = lo * 256 + bytes[offset + 4 + i]!;
  }
  // `| 0` for values below 2^31: V8 then keeps the result a small integer instead of a boxed heap number,
  // which matters for the key index (it stores revisions inline, see key-index.ts).
  if (hi === 0 && lo <= 0x7fffffff) return lo | 0;
  return hi * 0x100000000 + lo;
}

/** Encodes a revision as a key-bucket key; tombstones get the trailing 't'. */
export function revToBytes(main: number, sub: number, tombstone = false): Uint8Array {
  return writeRevBytes(new Uint8Array(tombstone ? REV_BYTES_LEN + 1 : REV_BYTES_LEN), main, sub, tombstone);
}

/** Shared scratch keys for {@link revKeyScratch}: 17 bytes, and 18 for a tombstone. */
const scratchKeys = [new Uint8Array(REV_BYTES_LEN), new Uint8Array(REV_BYTES_LEN + 1)] as const;

/**
 * A key-bucket key in shared scratch bytes, overwritten by the next call: for a caller that copies it
 * at once (a write batch's put does), so a put allocates no key of its own.
 */
export function revKeyScratch(main: number, sub: number, tombstone: boolean): Uint8Array {
  return writeRevBytes(scratchKeys[tombstone ? 1 : 0], main, sub, tombstone);
}

function writeRevBytes(out: Uint8Array, main: number, sub: number, tombstone: boolean): Uint8Array {
  writeUint64(out, 0, main);
  out[8] = 0x5f; // '_'
  writeUint64(out, 9, sub);
  if (tombstone) out[REV_BYTES_LEN] = TOMBSTONE_MARK;
  return out;
}

/** Decodes a key-bucket key that starts at `at` (past a physical key's bucket prefix, say). */
export function bytesToRev(bytes: Uint8Array, at = 0): Revision & { tombstone: boolean } {
  return {
    main: readUint64(bytes, at),
    sub: readUint64(bytes, at + 9),
    tombstone: bytes.length === at + REV_BYTES_LEN + 1 && bytes[at + REV_BYTES_LEN] === TOMBSTONE_MARK,
  };
}

/** The smallest key-bucket key at main revision `main` (a scan bound). */
export function revLowerBound(main: number): Uint8Array {
  return revToBytes(main, 0);
}

/** Encodes a non-negative integer as 8 bytes big-endian (meta values). */
export function uint64ToBytes(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeUint64(out, 0, n);
  return out;
}

/** Decodes 8 bytes big-endian. */
export function bytesToUint64(bytes: Uint8Array): number {
  return readUint64(bytes, 0);
}
