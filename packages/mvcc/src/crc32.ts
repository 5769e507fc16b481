/**
 * CRC-32C (Castagnoli), the checksum etcd uses for hash() and hashKV(), and the saved key index's check.
 *
 * Slicing-by-8 (eight 256-entry tables, 8 bytes per step), the same algorithm as @kv/wal's crc32c (mvcc
 * does not depend on the WAL package): the byte-at-a-time loop it replaces spent ~70 ms checking a
 * 4 MB saved key index during a restart (docs/benchmarks.md "Restart and RSS (session 6)").
 */

const POLY = 0x82f63b78; // reversed Castagnoli polynomial

const TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let s = 1; s < 8; s++) {
    for (let n = 0; n < 256; n++) t[s]![n] = (t[s - 1]![n]! >>> 8) ^ t[0]![t[s - 1]![n]! & 0xff]!;
  }
  return t as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
})();
const [T0, T1, T2, T3, T4, T5, T6, T7] = TABLES;

/**
 * Incremental CRC-32C: feed bytes with update(), read the checksum with digest().
 * @example
 * new Crc32c().update(new TextEncoder().encode('123456789')).digest(); // 0xe3069283
 */
export class Crc32c {
  private crc = 0xffffffff;

  update(data: Uint8Array): this {
    let c = this.crc;
    let i = 0;
    const end = data.length;
    const fast = end - (end & 7);
    while (i < fast) {
      const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
      c =
        T7[lo & 0xff]! ^
        T6[(lo >>> 8) & 0xff]! ^
        T5[(lo >>> 16) & 0xff]! ^
        T4[lo >>> 24]! ^
        T3[data[i + 4]!]! ^
        T2[data[i + 5]!]! ^
        T1[data[i + 6]!]! ^
        T0[data[i + 7]!]!;
      i += 8;
    }
    while (i < end) c = T0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

/** One-shot CRC-32C of a byte string. */
export function crc32c(data: Uint8Array): number {
  return new Crc32c().update(data).digest();
}
