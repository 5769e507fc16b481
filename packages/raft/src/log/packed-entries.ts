import { EMPTY_BYTES, type Entry, type EntryType } from '../types.js';

/** Bytes per shared data chunk. */
const CHUNK_SIZE = 64 * 1024;
/** Larger payloads get a chunk of their own (they would waste most of a shared one). */
const MAX_SHARED = CHUNK_SIZE / 4;

/**
 * A run of raft entries packed for a long stay in memory: terms, types and data locations in plain
 * number arrays, payloads copied into 64 KiB byte chunks. `entry(k)` builds an {@link Entry} (with its
 * data as a view into a chunk) each time it is asked.
 *
 * Why: a member keeps every entry until the next snapshot (`--snapshot-count`, 100 000 by default, so
 * that slow followers can catch up from the log). As one object plus one data array each, the entries
 * outlive two young-generation collections, which copy them twice, and then fill the old generation
 * that full collections mark over and over. Packed, a kept entry costs no heap object at all; the
 * objects `entry(k)` makes die young. Received payloads are views into network buffers, so copying
 * them also lets those buffers go.
 *
 * Chunk bytes are written once and never reused, so a view handed out stays valid (and unchanged)
 * after the entries it came from are truncated or dropped; dropping releases whole chunks.
 */
export class PackedEntries {
  private terms: number[] = [];
  private types: number[] = [];
  /** Absolute number of the chunk holding entry k's payload (see `firstChunk`). */
  private chunkOf: number[] = [];
  private starts: number[] = [];
  private lengths: number[] = [];
  private chunks: Uint8Array[] = [];
  /** Absolute number of `chunks[0]`. */
  private firstChunk = 0;
  /** Bytes used in the last chunk; new payloads go after them (a full or private chunk is "full"). */
  private fill = CHUNK_SIZE;

  /** Number of entries. */
  get length(): number {
    return this.terms.length;
  }

  /** Term of entry k (0-based). */
  term(k: number): number {
    return this.terms[k]!;
  }

  /** Payload bytes of entry k. */
  dataLength(k: number): number {
    return this.lengths[k]!;
  }

  /** Entry k as an object, given its raft index. */
  entry(k: number, index: number): Entry {
    const len = this.lengths[k]!;
    const start = this.starts[k]!;
    const data =
      len === 0 ? EMPTY_BYTES : this.chunks[this.chunkOf[k]! - this.firstChunk]!.subarray(start, start + len);
    return { term: this.terms[k]!, index, type: this.types[k] as EntryType, data };
  }

  /** Appends an entry, copying its payload. */
  push(e: Entry): void {
    const len = e.data.length;
    let chunk = 0;
    let start = 0;
    if (len > MAX_SHARED) {
      this.chunks.push(e.data.slice());
      this.fill = CHUNK_SIZE;
      chunk = this.lastChunk();
    } else if (len > 0) {
      if (this.fill + len > CHUNK_SIZE) {
        this.chunks.push(new Uint8Array(CHUNK_SIZE));
        this.fill = 0;
      }
      chunk = this.lastChunk();
      start = this.fill;
      this.chunks[this.chunks.length - 1]!.set(e.data, start);
      this.fill += len;
    }
    this.terms.push(e.term);
    this.types.push(e.type);
    this.chunkOf.push(chunk);
    this.starts.push(start);
    this.lengths.push(len);
  }

  /** Keeps the first `n` entries. */
  truncate(n: number): void {
    if (n >= this.length) return;
    for (const a of this.fields()) a.length = n;
    // Chunks after the last kept payload go; the fill stays, so no byte handed out is written again.
    const last = this.lastChunkUsed();
    const keep = last === undefined ? 0 : last - this.firstChunk + 1;
    if (keep < this.chunks.length) {
      this.chunks.length = keep;
      this.fill = CHUNK_SIZE;
    }
  }

  /** Drops the first `n` entries and every chunk only they used. */
  dropFront(n: number): void {
    if (n <= 0) return;
    for (const a of this.fields()) a.splice(0, n);
    const first = this.firstChunkUsed();
    if (first === undefined) {
      // No payload left: a partly filled last chunk may stay for the next entries.
      const drop = this.fill < CHUNK_SIZE ? this.chunks.length - 1 : this.chunks.length;
      this.chunks.splice(0, drop);
      this.firstChunk += drop;
    } else if (first > this.firstChunk) {
      this.chunks.splice(0, first - this.firstChunk);
      this.firstChunk = first;
    }
  }

  /** Removes every entry. */
  clear(): void {
    this.dropFront(this.length);
  }

  private fields(): number[][] {
    return [this.terms, this.types, this.chunkOf, this.starts, this.lengths];
  }

  private lastChunk(): number {
    return this.firstChunk + this.chunks.length - 1;
  }

  /** Chunk of the first entry with a payload. */
  private firstChunkUsed(): number | undefined {
    for (let k = 0; k < this.lengths.length; k++) if (this.lengths[k]! > 0) return this.chunkOf[k];
    return undefined;
  }

  /** Chunk of the last entry with a payload. */
  private lastChunkUsed(): number | undefined {
    for (let k = this.lengths.length - 1; k >= 0; k--) if (this.lengths[k]! > 0) return this.chunkOf[k];
    return undefined;
  }
}
