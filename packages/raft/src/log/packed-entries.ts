import { EMPTY_BYTES, type Entry, type EntryType } from '../types.js';

/** Bytes per shared data chunk. */
const CHUNK_SIZE = 64 * 1024;
/** Larger payloads get a chunk of their own (they would waste most of a shared one). */
const MAX_SHARED = CHUNK_SIZE / 4;

/** Entries per block of per-entry numbers (see {@link PackedEntries}). */
const DEFAULT_BLOCK_ENTRIES = 1024;

// Per-entry fields, in this order, `FIELDS` numbers per entry in a block.
const TERM = 0;
const TYPE = 1;
/** Absolute number of the chunk holding the payload (see `firstChunk`). */
const CHUNK = 2;
const START = 3;
const LENGTH = 4;
const FIELDS = 5;

/**
 * A run of raft entries packed for a long stay in memory: each entry's term, type and payload location
 * in fixed-size blocks of numbers (`Float64Array`s), payloads copied into 64 KiB byte chunks.
 * `entry(k)` builds an {@link Entry} (with its data as a view into a chunk) each time it is asked.
 *
 * Why: a member keeps every entry until the next snapshot (`--snapshot-count`, 100 000 by default, so
 * that slow followers can catch up from the log). As one object plus one data array each, the entries
 * outlive two young-generation collections, which copy them twice, and then fill the old generation
 * that full collections mark over and over. Packed, a kept entry costs no heap object at all; the
 * objects `entry(k)` makes die young. Received payloads are views into network buffers, so copying
 * them also lets those buffers go.
 *
 * Why blocks of typed arrays rather than growing number arrays: a growing array is copied at every
 * growth step, and past ~16 000 entries each copy is a large object that only a full collection frees
 * (about three times the final size over a log's life; docs/benchmarks.md "Session 22", item 2).
 * A block is allocated once, its bytes live outside the JavaScript heap, and dropping entries from the
 * front releases whole blocks.
 *
 * Chunk bytes are written once and never reused, so a view handed out stays valid (and unchanged)
 * after the entries it came from are truncated or dropped; dropping releases whole chunks.
 */
export class PackedEntries {
  /** Per-entry numbers; entry k is at slot `head + k` counted across the blocks. */
  private blocks: Float64Array[] = [];
  /** Slot of entry 0 in `blocks[0]`. */
  private head = 0;
  private count = 0;
  private chunks: Uint8Array[] = [];
  /** Absolute number of `chunks[0]`. */
  private firstChunk = 0;
  /** Bytes used in the last chunk; new payloads go after them (a full or private chunk is "full"). */
  private fill = CHUNK_SIZE;

  /** @param blockEntries entries per block of numbers (small values are for tests). */
  constructor(private readonly blockEntries = DEFAULT_BLOCK_ENTRIES) {}

  /** Number of entries. */
  get length(): number {
    return this.count;
  }

  /** Term of entry k (0-based). */
  term(k: number): number {
    return this.field(k, TERM);
  }

  /** Payload bytes of entry k. */
  dataLength(k: number): number {
    return this.field(k, LENGTH);
  }

  /** Entry k as an object, given its raft index. */
  entry(k: number, index: number): Entry {
    const slot = this.head + k;
    const block = this.blocks[Math.floor(slot / this.blockEntries)]!;
    const at = (slot % this.blockEntries) * FIELDS;
    const len = block[at + LENGTH]!;
    const start = block[at + START]!;
    const data =
      len === 0
        ? EMPTY_BYTES
        : this.chunks[block[at + CHUNK]! - this.firstChunk]!.subarray(start, start + len);
    return { term: block[at + TERM]!, index, type: block[at + TYPE] as EntryType, data };
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
    const slot = this.head + this.count;
    const b = Math.floor(slot / this.blockEntries);
    if (b === this.blocks.length) this.blocks.push(new Float64Array(this.blockEntries * FIELDS));
    const block = this.blocks[b]!;
    const at = (slot % this.blockEntries) * FIELDS;
    block[at + TERM] = e.term;
    block[at + TYPE] = e.type;
    block[at + CHUNK] = chunk;
    block[at + START] = start;
    block[at + LENGTH] = len;
    this.count++;
  }

  /** Keeps the first `n` entries. */
  truncate(n: number): void {
    if (n >= this.count) return;
    // Chunks after the last kept payload go; the fill stays, so no byte handed out is written again.
    const last = this.lastChunkUsed(n);
    const keep = last === undefined ? 0 : last - this.firstChunk + 1;
    if (keep < this.chunks.length) {
      this.chunks.length = keep;
      this.fill = CHUNK_SIZE;
    }
    this.count = n;
    this.releaseBlocks();
  }

  /** Drops the first `n` entries and every chunk only they used. */
  dropFront(n: number): void {
    if (n <= 0) return;
    n = Math.min(n, this.count);
    this.head += n;
    this.count -= n;
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
    this.releaseBlocks();
  }

  /** Removes every entry. */
  clear(): void {
    this.dropFront(this.count);
  }

  private field(k: number, f: number): number {
    const slot = this.head + k;
    return this.blocks[Math.floor(slot / this.blockEntries)]![(slot % this.blockEntries) * FIELDS + f]!;
  }

  /** Drops blocks that hold no entry: whole ones before the first entry and after the last. */
  private releaseBlocks(): void {
    if (this.count === 0) {
      this.blocks.length = 0;
      this.head = 0;
      return;
    }
    const end = Math.ceil((this.head + this.count) / this.blockEntries);
    if (end < this.blocks.length) this.blocks.length = end;
    const before = Math.floor(this.head / this.blockEntries);
    if (before > 0) {
      this.blocks.splice(0, before);
      this.head -= before * this.blockEntries;
    }
  }

  private lastChunk(): number {
    return this.firstChunk + this.chunks.length - 1;
  }

  /** Chunk of the first entry with a payload. */
  private firstChunkUsed(): number | undefined {
    for (let k = 0; k < this.count; k++) if (this.field(k, LENGTH) > 0) return this.field(k, CHUNK);
    return undefined;
  }

  /** Chunk of the last of the first `n` entries with a payload. */
  private lastChunkUsed(n: number): number | undefined {
    for (let k = n - 1; k >= 0; k--) if (this.field(k, LENGTH) > 0) return this.field(k, CHUNK);
    return undefined;
  }
}
