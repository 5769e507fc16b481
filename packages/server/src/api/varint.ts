/**
 * Protobuf varints for the hand-written encoders of this directory (snapshot frames, watch fragment
 * sizes), which write or measure a message without the generated codec. Values must be below 2^53.
 */

/**
 * Bytes of `n` as a protobuf varint.
 * @example varintLength(300); // 2
 */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * Writes `n` as a protobuf varint into `buf` at `at`; returns the offset after it.
 * @example writeVarint(buf, 0, 300); // 2 (bytes 0xac 0x02)
 */
export function writeVarint(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}
