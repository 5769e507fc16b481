/**
 * Small immutable byte strings carved out of shared chunks, the way Node's Buffer pool serves
 * `Buffer.allocUnsafe`: `alloc(n)` returns a view into the current chunk and starts a new chunk when
 * it is full.
 *
 * Why: every put encodes its KeyValue. As a standalone typed array it costs an ArrayBuffer object on
 * the V8 heap, and above 64 bytes a malloc'd backing store that the young generation's ArrayBuffer
 * sweeper frees again; the encoded KeyValue lives in the read cache for a second or two, so both
 * objects are copied by every scavenge it outlives. A view into a chunk is one object and no malloc.
 * The cost: a chunk stays allocated while any view into it is reachable, so only bytes with similar
 * lifetimes should share a slab, and holders that keep single views for long (a memory engine's stored
 * values) copy them out.
 *
 * Bytes handed out are never written again by the slab: callers fill them once, right after `alloc`.
 */
export class ByteSlab {
  private chunk = new Uint8Array(0);
  private pos = 0;

  /**
   * @param chunkSize bytes per shared chunk
   * @param maxShared larger requests get their own buffer (a big value must not pin a chunk's
   *   neighbours, nor waste the rest of one)
   */
  constructor(
    private readonly chunkSize = 16 * 1024,
    private readonly maxShared = 2048,
  ) {}

  /** `n` fresh bytes, zero until the caller fills them. */
  alloc(n: number): Uint8Array {
    if (n > this.maxShared) return new Uint8Array(n);
    let start = this.pos;
    if (start + n > this.chunk.length) {
      this.chunk = new Uint8Array(this.chunkSize);
      start = 0;
    }
    this.pos = start + n;
    return this.chunk.subarray(start, start + n);
  }
}

/**
 * Whether `bytes` is a view into a larger buffer (e.g. a slab chunk), so that keeping it keeps more
 * memory alive than its length.
 */
export function isPartialView(bytes: Uint8Array): boolean {
  return bytes.byteLength !== bytes.buffer.byteLength;
}

/** The slab of per-revision bytes written on the apply path (encoded KeyValues). */
export const revisionSlab = new ByteSlab();
