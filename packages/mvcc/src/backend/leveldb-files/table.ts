/**
 * Reader of LevelDB table files (doc/table_format.md) with plain positioned reads. LevelDB itself
 * memory-maps the tables it caches, so a full read through it makes every page of up to 64 tables part
 * of the process's RSS; these reads go through the page cache instead, into one reused window per
 * open table.
 *
 * A table: data blocks, a meta-index block, an index block, then a 48-byte footer (two block handles,
 * padding, an 8-byte magic). Every block is followed by a 5-byte trailer: compression type (0 none,
 * 1 snappy) and the masked CRC-32C of the block and the type byte.
 */
import { type FileHandle, open } from 'node:fs/promises';
import snappy from 'snappyjs';
import { ByteReader, fixed32, maskedCrc32c, ShortInputError } from './coding.js';
import { LevelDbFileError } from './errors.js';
import { type InternalEntry, splitInternalKey } from './internal-key.js';

const FOOTER = 48;
const TRAILER = 5;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;
const NO_COMPRESSION = 0;
const SNAPPY = 1;
/**
 * Bytes read at once. Data blocks lie one after another, so one read serves many of them (LevelDB's
 * 4 KiB blocks) instead of one system call each.
 */
const WINDOW = 256 * 1024;

/** Where a data block lies, and the index key that bounds it (≥ its last key, < the next block's first). */
interface IndexEntry {
  /** User key part of the index key. */
  bound: Uint8Array;
  offset: number;
  size: number;
}

/**
 * One open table. Not safe for concurrent use: one reader walks it at a time.
 *
 * @example
 * ```ts
 * const table = await TableReader.open('/tmp/bulk-read-1/000012.ldb');
 * try { for await (const block of table.blocks()) for (const e of block) use(e); } finally { await table.close(); }
 * ```
 */
export class TableReader {
  private window = Buffer.allocUnsafe(0);
  private windowStart = 0;
  private windowEnd = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    private readonly fileSize: number,
    private index: IndexEntry[],
  ) {}

  /** Opens the table at `path` and reads its footer and index block. */
  static async open(path: string): Promise<TableReader> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size < FOOTER) throw new LevelDbFileError(path, 'format', `${size} bytes, shorter than a footer`);
      const table = new TableReader(fh, path, size, []);
      const footer = await table.read(size - FOOTER, FOOTER);
      if (fixed32(footer, FOOTER - 8) !== MAGIC_LO || fixed32(footer, FOOTER - 4) !== MAGIC_HI)
        throw new LevelDbFileError(path, 'format', 'not a table (bad magic number)');
      const handles = new ByteReader(footer, 0, FOOTER - 8);
      table.guard(() => {
        handles.varint(); // meta-index offset
        handles.varint(); // meta-index size
      });
      const [offset, length] = table.guard(() => [handles.varint(), handles.varint()]);
      const block = await table.readBlock(offset, length);
      table.index = table.guard(() => parseIndex(block));
      return table;
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * The table's entries in order, one decoded block at a time, from the first block that can hold a
   * user key ≥ `from` (entries below `from` in that block are skipped). Each entry owns its bytes.
   */
  async *blocks(from?: Uint8Array): AsyncGenerator<InternalEntry[]> {
    let i = 0;
    if (from) while (i < this.index.length && Buffer.compare(this.index[i]!.bound, from) < 0) i++;
    for (let first = true; i < this.index.length; i++, first = false) {
      const { offset, size } = this.index[i]!;
      const block = await this.readBlock(offset, size);
      let entries = this.guard(() => parseDataBlock(block));
      if (first && from) entries = entries.filter((e) => Buffer.compare(e.key, from) >= 0);
      if (entries.length > 0) yield entries;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** Runs a parse step, turning a short input into a typed format error naming this file. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ShortInputError) throw new LevelDbFileError(this.path, 'format', err.message);
      throw err;
    }
  }

  /**
   * The contents of the block at `offset` (checked, decompressed). An uncompressed block is a view
   * into the window: valid until the next read.
   */
  private async readBlock(offset: number, size: number): Promise<Uint8Array> {
    if (offset + size + TRAILER > this.fileSize)
      throw new LevelDbFileError(this.path, 'format', `block at ${offset} (+${size}) runs past the end`);
    const raw = await this.read(offset, size + TRAILER);
    const type = raw[size]!;
    if (maskedCrc32c(raw.subarray(0, size + 1)) !== fixed32(raw, size + 1))
      throw new LevelDbFileError(this.path, 'checksum', `block at offset ${offset}`);
    const contents = raw.subarray(0, size);
    if (type === NO_COMPRESSION) return contents;
    if (type === SNAPPY) {
      try {
        return snappy.uncompress(contents);
      } catch (err) {
        throw new LevelDbFileError(
          this.path,
          'format',
          `block at ${offset}: snappy: ${(err as Error).message}`,
        );
      }
    }
    throw new LevelDbFileError(this.path, 'format', `block at ${offset}: compression type ${type}`);
  }

  /** `length` bytes at `offset`, served from the window, which is refilled when it does not hold them. */
  private async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.windowStart || offset + length > this.windowEnd) {
      const want = Math.min(Math.max(WINDOW, length), this.fileSize - offset);
      if (this.window.length < want) this.window = Buffer.allocUnsafe(Math.max(WINDOW, want));
      let got = 0;
      while (got < want) {
        const { bytesRead } = await this.fh.read(this.window, got, want - got, offset + got);
        if (bytesRead === 0) throw new LevelDbFileError(this.path, 'format', `ends at ${offset + got}`);
        got += bytesRead;
      }
      this.windowStart = offset;
      this.windowEnd = offset + want;
    }
    const at = offset - this.windowStart;
    return this.window.subarray(at, at + length);
  }
}

/** Entries of a block: prefix-compressed keys, then the restart array and its count (table/block.cc). */
function* blockEntries(block: Uint8Array): Generator<[key: Uint8Array, value: Uint8Array]> {
  if (block.length < 4) throw new ShortInputError('block shorter than its restart count');
  const restarts = fixed32(block, block.length - 4);
  const limit = block.length - 4 - 4 * restarts;
  if (limit < 0) throw new ShortInputError(`block of ${block.length} bytes with ${restarts} restarts`);
  const r = new ByteReader(block, 0, limit);
  let key = Buffer.allocUnsafe(64);
  let keyLength = 0;
  while (!r.atEnd) {
    const shared = r.varint();
    const unshared = r.varint();
    const valueLength = r.varint();
    if (shared > keyLength)
      throw new ShortInputError(`entry shares ${shared} bytes of a ${keyLength}-byte key`);
    const delta = r.take(unshared);
    if (shared + unshared > key.length) {
      const grown = Buffer.allocUnsafe(2 * (shared + unshared));
      key.copy(grown, 0, 0, shared);
      key = grown;
    }
    key.set(delta, shared);
    keyLength = shared + unshared;
    yield [key.subarray(0, keyLength), r.take(valueLength)];
  }
}

function parseDataBlock(block: Uint8Array): InternalEntry[] {
  const out: InternalEntry[] = [];
  for (const [ikey, value] of blockEntries(block)) {
    if (ikey.length < 8) throw new ShortInputError(`internal key of ${ikey.length} bytes`);
    const { user, hi, lo } = splitInternalKey(ikey);
    // Copies: the key scratch and the window are reused for the next entry and block.
    out.push({ key: new Uint8Array(user), hi, lo, value: new Uint8Array(value) });
  }
  return out;
}

function parseIndex(block: Uint8Array): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (const [ikey, handle] of blockEntries(block)) {
    if (ikey.length < 8) throw new ShortInputError(`index key of ${ikey.length} bytes`);
    const h = new ByteReader(handle);
    out.push({
      bound: new Uint8Array(ikey.subarray(0, ikey.length - 8)),
      offset: h.varint(),
      size: h.varint(),
    });
  }
  return out;
}
