/**
 * A merging iterator over a table set (LevelDB's MergingIterator plus DBIter, forward only): the
 * user-visible entries in `[lo, hi)`, ascending. Level-0 tables may overlap, so each is a source of its
 * own; the tables of each deeper level are sorted and disjoint, so a level is one source that opens its
 * tables one at a time. Memory: one decoded block per open table.
 */
import { join } from 'node:path';
import type { Entry } from '../types.js';
import {
  compareEntries,
  entryType,
  type InternalEntry,
  splitInternalKey,
  TYPE_VALUE,
} from './internal-key.js';
import { type TableFile, tableFileName } from './manifest.js';
import { TableReader } from './table.js';

/** Entries per yielded chunk, and the value bytes after which a chunk is yielded early. */
const CHUNK_ENTRIES = 1024;
const CHUNK_BYTES = 1 << 20;

/** One source's position: the current block and the index of its head entry. */
class Cursor {
  private block: InternalEntry[] = [];
  private i = 0;

  constructor(private readonly blocks: AsyncGenerator<InternalEntry[]>) {}

  get head(): InternalEntry | undefined {
    return this.block[this.i];
  }

  /** Loads blocks until there is a head entry; false when the source is exhausted. */
  async fill(): Promise<boolean> {
    while (this.i >= this.block.length) {
      const r = await this.blocks.next();
      if (r.done) return false;
      this.block = r.value;
      this.i = 0;
    }
    return true;
  }

  step(): void {
    this.i++;
  }

  async close(): Promise<void> {
    await this.blocks.return(undefined);
  }
}

function userKey(ikey: Uint8Array): Uint8Array {
  return splitInternalKey(ikey).user;
}

/** Blocks of the tables `files` (sorted, disjoint), each opened in turn, from user key `lo` on. */
async function* levelBlocks(dir: string, files: TableFile[], lo: Uint8Array, hi: Uint8Array) {
  for (const file of files) {
    if (Buffer.compare(userKey(file.largest), lo) < 0) continue;
    if (Buffer.compare(userKey(file.smallest), hi) >= 0) return;
    const table = await TableReader.open(join(dir, tableFileName(file.number)));
    try {
      yield* table.blocks(lo);
    } finally {
      await table.close();
    }
  }
}

/**
 * The live entries with `lo <= key < hi` of the tables `levels` (as {@link readLiveFiles} lists them)
 * whose files are in `dir`, in chunks. For a key, the entry with the highest sequence wins; a deletion
 * hides the key. Every entry of every table is taken as visible: the caller guarantees no write is
 * newer than the view (see LevelBackend.bulkView).
 *
 * @example
 * ```ts
 * for await (const chunk of mergeTables(dir, live.levels, lo, hi)) for (const [k, v] of chunk) use(k, v);
 * ```
 */
export async function* mergeTables(
  dir: string,
  levels: TableFile[][],
  lo: Uint8Array,
  hi: Uint8Array,
): AsyncGenerator<Entry[]> {
  const cursors: Cursor[] = [];
  for (const file of levels[0] ?? []) cursors.push(new Cursor(levelBlocks(dir, [file], lo, hi)));
  for (const files of levels.slice(1))
    if (files.length > 0) cursors.push(new Cursor(levelBlocks(dir, files, lo, hi)));
  try {
    let live = cursors;
    let chunk: Entry[] = [];
    let chunkBytes = 0;
    let lastKey: Uint8Array | undefined;
    for (;;) {
      // Only a cursor whose block ran out awaits; within blocks the merge is synchronous.
      if (live.some((c) => !c.head)) {
        const next: Cursor[] = [];
        for (const c of live) if (c.head || (await c.fill())) next.push(c);
        live = next;
      }
      let min: Cursor | undefined;
      for (const c of live) if (!min || compareEntries(c.head!, min.head!) < 0) min = c;
      if (!min) break;
      const e = min.head!;
      if (Buffer.compare(e.key, hi) >= 0) break;
      min.step();
      // Older versions of a key follow its newest one: skip them (and whatever a deletion hides).
      if (lastKey && Buffer.compare(e.key, lastKey) === 0) continue;
      lastKey = e.key;
      if (entryType(e.lo) !== TYPE_VALUE) continue;
      chunk.push([e.key, e.value]);
      chunkBytes += e.value.length;
      if (chunk.length >= CHUNK_ENTRIES || chunkBytes >= CHUNK_BYTES) {
        yield chunk;
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) yield chunk;
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
}
