/**
 * Reads a bbolt database file (etcd's backend, `etcdctl snapshot save` output) without bbolt.
 *
 * Every offset read from the file is checked against its page and the file before use, every page id
 * against the meta's high-water mark, and every walk carries a visited set and a depth limit, so a
 * corrupt file ends in a {@link BboltFormatError} rather than a crash, a huge allocation or a loop.
 * Pages are read on demand (positional reads for files), so memory stays at a few pages per level.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BboltFormatError } from './errors.js';
import {
  type BboltMeta,
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  compareBytes,
  DEFAULT_PAGE_SIZE,
  decodeMeta,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE,
  META_SIZE,
  metaProblem,
  NO_FREELIST,
  PAGE_HEADER_SIZE,
  readPageHeader,
  readU64,
  viewOf,
} from './format.js';

/** Random access to the file's bytes. */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes at `offset`; the caller has checked the range lies inside `size`. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

/** Deepest branch-page tree or bucket nesting accepted (a real file is a handful of levels deep). */
const MAX_DEPTH = 64;
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 1 << 20;

/** One item of a bucket: a key with a value, or a key naming a nested bucket. */
export type BboltItem =
  | { key: Uint8Array; value: Uint8Array; bucket?: undefined }
  | { key: Uint8Array; value?: undefined; bucket: BboltBucket };

function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (off, len) => bytes.subarray(off, off + len), close: () => {} };
}

function fileSource(path: string): ByteSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(off, len) {
      const out = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const n = readSync(fd, out, got, len - got, off + got);
        if (n === 0) throw new BboltFormatError(`unexpected end of file at offset ${off + got}`);
        got += n;
      }
      return new Uint8Array(out.buffer, out.byteOffset, len);
    },
    close: () => closeSync(fd),
  };
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * A read-only view of a bbolt file, at its newest valid meta page.
 *
 * @example
 * ```ts
 * const db = BboltReader.open('snapshot.db');
 * try {
 *   for (const { key, value } of db.bucket('key')?.items() ?? []) console.log(key, value);
 * } finally {
 *   db.close();
 * }
 * ```
 */
export class BboltReader {
  readonly meta: BboltMeta;
  readonly pageSize: number;
  /** The top-level bucket (its items are the named buckets). */
  readonly root: BboltBucket;
  /**
   * Root page of every non-inline bucket met so far -> that bucket's path. Two paths sharing a root
   * page (a bucket nested in itself, two buckets on one tree) would make a recursive walk exponential.
   */
  private readonly bucketRoots = new Map<number, string>();

  private constructor(private readonly src: ByteSource) {
    this.meta = pickMeta(src);
    this.pageSize = this.meta.pageSize;
    const need = this.meta.pgid * this.pageSize;
    if (this.meta.pgid < 2) throw new BboltFormatError(`meta pgid ${this.meta.pgid} is below 2`);
    if (need > src.size) {
      throw new BboltFormatError(
        `file truncated: ${src.size} bytes, meta says ${this.meta.pgid} pages of ${this.pageSize}`,
      );
    }
    this.root = new BboltBucket(
      this,
      new Uint8Array(0),
      this.meta.root,
      this.meta.sequence,
      undefined,
      0,
      '',
    );
    this.bucketRoots.set(this.meta.root, '');
  }

  /** @internal Records that bucket `path` has its root at page `id`; refuses a page shared by two buckets. */
  claimBucketRoot(id: number, path: string): void {
    const owner = this.bucketRoots.get(id);
    if (owner !== undefined && owner !== path) {
      throw new BboltFormatError(`page ${id}: root of two buckets (${owner || '(root)'} and ${path})`);
    }
    this.bucketRoots.set(id, path);
  }

  /** Parses a whole file held in memory (e.g. a snapshot with its sha256 trailer: trailing bytes are ignored). */
  static fromBytes(bytes: Uint8Array): BboltReader {
    return new BboltReader(bytesSource(bytes));
  }

  /** Opens a file for positional reads; call {@link close} when done. */
  static open(path: string): BboltReader {
    const src = fileSource(path);
    try {
      return new BboltReader(src);
    } catch (err) {
      src.close();
      throw err;
    }
  }

  /** Bytes the database occupies (meta pgid × page size, what `etcdctl snapshot status` reports). */
  get size(): number {
    return this.meta.pgid * this.pageSize;
  }

  close(): void {
    this.src.close();
  }

  /** Names of the top-level buckets, in order. */
  bucketNames(): string[] {
    const out: string[] = [];
    for (const item of this.root.items()) {
      if (item.bucket) out.push(new TextDecoder().decode(item.key));
    }
    return out;
  }

  /** A top-level bucket, or undefined if absent. */
  bucket(name: string | Uint8Array): BboltBucket | undefined {
    return this.root.bucket(name);
  }

  /** Page ids on the freelist ([] when the file does not store one). */
  freePages(): number[] {
    if (this.meta.freelist === NO_FREELIST) return [];
    const page = this.page(this.meta.freelist);
    if (!(page.flags & FREELIST_PAGE))
      throw new BboltFormatError(`page ${this.meta.freelist}: not a freelist page`);
    const v = viewOf(page.bytes);
    let count = page.count;
    let at = PAGE_HEADER_SIZE;
    if (count === FREELIST_COUNT_OVERFLOW) {
      checkRange(page, at, 8);
      count = readU64(v, at);
      at += 8;
    }
    checkRange(page, at, count * 8);
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push(readU64(v, at + i * 8));
    return out;
  }

  /** Reads page `id` with its overflow pages; checks its header against the id and the file. */
  page(id: number): { id: number; flags: number; count: number; bytes: Uint8Array } {
    if (!Number.isSafeInteger(id) || id < 2 || id >= this.meta.pgid) {
      throw new BboltFormatError(`page ${id}: out of bounds (high-water mark ${this.meta.pgid})`);
    }
    const offset = id * this.pageSize;
    const header = readPageHeader(this.src.read(offset, PAGE_HEADER_SIZE));
    if (header.id !== id) throw new BboltFormatError(`page ${id}: header says page ${header.id}`);
    if (id + header.overflow + 1 > this.meta.pgid) {
      throw new BboltFormatError(
        `page ${id}: ${header.overflow} overflow pages run past the high-water mark`,
      );
    }
    const bytes = this.src.read(offset, (header.overflow + 1) * this.pageSize);
    return { id, flags: header.flags, count: header.count, bytes };
  }
}

function pickMeta(src: ByteSource): BboltMeta {
  if (src.size < PAGE_HEADER_SIZE + META_SIZE)
    throw new BboltFormatError(`file too small (${src.size} bytes)`);
  const readAt = (off: number): { meta?: BboltMeta; problem?: string } => {
    if (off + PAGE_HEADER_SIZE + META_SIZE > src.size) return { problem: 'beyond end of file' };
    const body = src.read(off + PAGE_HEADER_SIZE, META_SIZE);
    const meta = decodeMeta(body);
    const problem = metaProblem(body, meta);
    if (problem) return { problem };
    if (!isPowerOfTwo(meta.pageSize) || meta.pageSize < MIN_PAGE_SIZE || meta.pageSize > MAX_PAGE_SIZE) {
      return { problem: `invalid page size ${meta.pageSize}` };
    }
    return { meta };
  };
  const m0 = readAt(0);
  // Meta 1 sits one page in; without a valid meta 0 the page size is a guess, as in bbolt.
  const sizes = m0.meta
    ? [m0.meta.pageSize]
    : [DEFAULT_PAGE_SIZE, 512, 1024, 2048, 8192, 16384, 32768, 65536];
  let m1: { meta?: BboltMeta; problem?: string } = { problem: 'not found' };
  for (const size of sizes) {
    m1 = readAt(size);
    if (m1.meta && m1.meta.pageSize === size) break;
    if (m1.meta) m1 = { problem: `page size ${m1.meta.pageSize} at offset ${size}` };
  }
  const valid = [m0.meta, m1.meta].filter((m): m is BboltMeta => m !== undefined);
  if (valid.length === 0) {
    throw new BboltFormatError(`not a bbolt database: meta page 0 ${m0.problem}, meta page 1 ${m1.problem}`);
  }
  return valid.reduce((a, b) => (b.txid > a.txid ? b : a));
}

interface Page {
  id: number;
  flags: number;
  count: number;
  bytes: Uint8Array;
}

function checkRange(page: Page, off: number, len: number): void {
  if (off < 0 || len < 0 || off + len > page.bytes.length) {
    throw new BboltFormatError(
      `page ${page.id}: element data [${off}, ${off + len}) outside the page (${page.bytes.length} bytes)`,
    );
  }
}

/**
 * A bucket: its items in key order, nested buckets by name. Iteration reads pages as it goes; each
 * call of {@link items} walks the tree afresh.
 */
export class BboltBucket {
  /** @internal */
  constructor(
    private readonly db: BboltReader,
    readonly name: Uint8Array,
    /** Root page id, 0 for an inline bucket. */
    readonly rootPage: number,
    readonly sequence: number,
    private readonly inline: Uint8Array | undefined,
    private readonly depth: number,
    /** Names from the top, hex, '/'-separated: identifies the bucket for the shared-root check. */
    private readonly path: string,
  ) {
    if (depth > MAX_DEPTH) throw new BboltFormatError(`buckets nested deeper than ${MAX_DEPTH}`);
  }

  /** Items in key order (values and nested buckets). */
  *items(): Generator<BboltItem> {
    let last: Uint8Array | undefined;
    for (const item of this.walk()) {
      if (last !== undefined && compareBytes(last, item.key) >= 0) {
        throw new BboltFormatError(`bucket ${this.label()}: keys out of order`);
      }
      last = item.key;
      yield item;
    }
  }

  /** Key/value pairs in key order, skipping nested buckets. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const item of this.items()) if (!item.bucket) yield [item.key, item.value];
  }

  /** A nested bucket by name. */
  bucket(name: string | Uint8Array): BboltBucket | undefined {
    const want = typeof name === 'string' ? new TextEncoder().encode(name) : name;
    for (const item of this.items()) {
      const c = compareBytes(item.key, want);
      if (c === 0) return item.bucket;
      if (c > 0) return undefined;
    }
    return undefined;
  }

  private label(): string {
    return this.depth === 0 ? '(root)' : JSON.stringify(new TextDecoder().decode(this.name));
  }

  private *walk(): Generator<BboltItem> {
    if (this.inline) {
      const page = { ...readPageHeader(this.inline), id: 0, bytes: this.inline };
      if (page.flags !== LEAF_PAGE) {
        throw new BboltFormatError(
          `inline bucket ${this.label()}: page flags 0x${page.flags.toString(16)}, want a leaf`,
        );
      }
      yield* this.leafItems(page);
      return;
    }
    const seen = new Set<number>();
    yield* this.walkPage(this.rootPage, seen, 0);
  }

  private *walkPage(id: number, seen: Set<number>, level: number): Generator<BboltItem> {
    if (level > MAX_DEPTH)
      throw new BboltFormatError(`bucket ${this.label()}: page tree deeper than ${MAX_DEPTH}`);
    if (seen.has(id)) throw new BboltFormatError(`page ${id}: referenced twice in bucket ${this.label()}`);
    seen.add(id);
    const page = this.db.page(id);
    if (page.flags === LEAF_PAGE) {
      yield* this.leafItems(page);
      return;
    }
    if (page.flags !== BRANCH_PAGE) {
      throw new BboltFormatError(
        `page ${id}: invalid type (flags 0x${page.flags.toString(16)}) in bucket ${this.label()}`,
      );
    }
    if (page.count === 0) throw new BboltFormatError(`page ${id}: empty branch page`);
    const v = viewOf(page.bytes);
    checkRange(page, PAGE_HEADER_SIZE, page.count * BRANCH_ELEMENT_SIZE);
    const children: number[] = [];
    for (let i = 0; i < page.count; i++) {
      const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
      const pos = v.getUint32(at, true);
      const ksize = v.getUint32(at + 4, true);
      checkRange(page, at + pos, ksize);
      children.push(readU64(v, at + 8));
    }
    for (const child of children) yield* this.walkPage(child, seen, level + 1);
  }

  private *leafItems(page: Page): Generator<BboltItem> {
    const v = viewOf(page.bytes);
    checkRange(page, PAGE_HEADER_SIZE, page.count * LEAF_ELEMENT_SIZE);
    for (let i = 0; i < page.count; i++) {
      const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
      const flags = v.getUint32(at, true);
      const pos = v.getUint32(at + 4, true);
      const ksize = v.getUint32(at + 8, true);
      const vsize = v.getUint32(at + 12, true);
      checkRange(page, at + pos, ksize + vsize);
      const key = page.bytes.subarray(at + pos, at + pos + ksize);
      const value = page.bytes.subarray(at + pos + ksize, at + pos + ksize + vsize);
      if (flags & BUCKET_LEAF_FLAG) yield { key, bucket: this.nested(page, key, value) };
      else yield { key, value };
    }
  }

  private nested(page: Page, key: Uint8Array, value: Uint8Array): BboltBucket {
    if (value.length < BUCKET_HEADER_SIZE) {
      throw new BboltFormatError(
        `page ${page.id}: bucket value of ${value.length} bytes is shorter than a bucket header`,
      );
    }
    const v = viewOf(value);
    const root = readU64(v, 0);
    const sequence = readU64(v, 8);
    const path = `${this.path}/${Buffer.from(key).toString('hex')}`;
    if (root !== 0) {
      this.db.claimBucketRoot(root, path);
      return new BboltBucket(this.db, key, root, sequence, undefined, this.depth + 1, path);
    }
    const inline = value.subarray(BUCKET_HEADER_SIZE);
    if (inline.length < PAGE_HEADER_SIZE) {
      throw new BboltFormatError(
        `page ${page.id}: inline bucket ${JSON.stringify(new TextDecoder().decode(key))} truncated`,
      );
    }
    return new BboltBucket(this.db, key, 0, sequence, inline, this.depth + 1, path);
  }
}
