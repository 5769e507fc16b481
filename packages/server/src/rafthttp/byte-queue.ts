/**
 * A FIFO of received bytes for the stream decoders. Chunks are kept as they arrived and only the bytes
 * of a complete frame are copied out, so a multi-MiB frame spread over many socket reads is copied
 * once, not once per read (which a "concat on every chunk" buffer would do).
 */
/**
 * @example
 * ```ts
 * const q = new ByteQueue();
 * q.push(chunk);
 * const size = q.length >= 8 ? q.uint64At(0) : Number.POSITIVE_INFINITY;
 * if (q.length >= 8 + size) {
 *   q.skip(8);
 *   const body = q.take(size);
 * }
 * ```
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private total = 0;

  /** Bytes available. */
  get length(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The byte at `offset` from the front; the caller checks `offset < length`. */
  byteAt(offset: number): number {
    let off = offset + this.head;
    for (const c of this.chunks) {
      if (off < c.length) return c[off]!;
      off -= c.length;
    }
    throw new RangeError('ByteQueue.byteAt past the end');
  }

  /**
   * The big-endian uint64 at `offset`, as a number. Lengths and indexes above 2^53 cannot be carried
   * exactly and are refused (no real frame comes near that).
   */
  uint64At(offset: number): number {
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 4; i++) hi = hi * 256 + this.byteAt(offset + i);
    for (let i = 4; i < 8; i++) lo = lo * 256 + this.byteAt(offset + i);
    if (hi >= 0x200000) throw new RangeError(`uint64 value above 2^53 in stream (high word ${hi})`);
    return hi * 2 ** 32 + lo;
  }

  /** Removes and returns the first `n` bytes (n <= length), copying only when they span chunks. */
  take(n: number): Buffer {
    if (n > this.total) throw new RangeError('ByteQueue.take past the end');
    this.total -= n;
    const first = this.chunks[0];
    if (first && first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      const want = Math.min(avail, n - filled);
      c.copy(out, filled, this.head, this.head + want);
      filled += want;
      this.head += want;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    return out;
  }

  /** Drops the first `n` bytes (n <= length) without copying them or making a view of them. */
  skip(n: number): void {
    if (n > this.total) throw new RangeError('ByteQueue.skip past the end');
    this.total -= n;
    let left = n;
    while (left > 0) {
      const avail = this.chunks[0]!.length - this.head;
      if (left < avail) {
        this.head += left;
        return;
      }
      left -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }
}
