/**
 * bbolt's on-disk layout (go.etcd.io/bbolt page.go, db.go, bucket.go), shared by the reader and the
 * writer. All integers are little-endian (bbolt writes native order; every platform etcd ships on is
 * little-endian). Page ids are kept as JS numbers: a file would need 2^53 pages to overflow them.
 *
 * A page starts with a 16-byte header `id u64 | flags u16 | count u16 | overflow u32`; a page with
 * `overflow = n` spans n + 1 page-size blocks. Element arrays follow the header, each element's `pos`
 * counting from the element itself to its key.
 */
import { BboltFormatError } from './errors.js';

export const PAGE_HEADER_SIZE = 16;
/** branchPageElement: pos u32, ksize u32, pgid u64. */
export const BRANCH_ELEMENT_SIZE = 16;
/** leafPageElement: flags u32, pos u32, ksize u32, vsize u32. */
export const LEAF_ELEMENT_SIZE = 16;
/** A bucket value starts with `root pgid u64 | sequence u64`; root 0 means an inline page follows. */
export const BUCKET_HEADER_SIZE = 16;
/** meta: magic, version, pageSize, flags (u32 each), root bucket (16), freelist, pgid, txid, checksum (u64 each). */
export const META_SIZE = 64;
const META_CHECKSUM_OFFSET = 56;

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;
/** A freelist page whose count field holds this keeps the real count in its first u64. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;
/** meta.freelist when the freelist is not stored in the file (bbolt's NoFreelistSync). */
export const NO_FREELIST = Number.MAX_SAFE_INTEGER + 1; // stands for 0xffffffffffffffff, see readU64

/** The decoded meta page. */
export interface BboltMeta {
  magic: number;
  version: number;
  pageSize: number;
  flags: number;
  /** Root page of the top-level bucket. */
  root: number;
  /** Sequence of the top-level bucket. */
  sequence: number;
  /** Freelist page, or {@link NO_FREELIST}. */
  freelist: number;
  /** High-water mark: pages in use, the file holds at least pgid * pageSize bytes. */
  pgid: number;
  txid: number;
  checksum: bigint;
}

/** The 16-byte page header. */
export interface PageHeader {
  id: number;
  flags: number;
  count: number;
  overflow: number;
}

/** Reads a u64; values above 2^53 (never a valid page id or txid in a real file) come back as 2^53. */
export function readU64(view: DataView, off: number): number {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi >= 0x200000) return Number.MAX_SAFE_INTEGER + 1;
  return hi * 0x100000000 + lo;
}

export function writeU64(view: DataView, off: number, n: number): void {
  view.setUint32(off, n >>> 0, true);
  view.setUint32(off + 4, Math.floor(n / 0x100000000), true);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function readPageHeader(bytes: Uint8Array): PageHeader {
  if (bytes.length < PAGE_HEADER_SIZE) throw new BboltFormatError('page header truncated');
  const v = viewOf(bytes);
  return {
    id: readU64(v, 0),
    flags: v.getUint16(8, true),
    count: v.getUint16(10, true),
    overflow: v.getUint32(12, true),
  };
}

export function writePageHeader(page: Uint8Array, h: PageHeader): void {
  const v = viewOf(page);
  writeU64(v, 0, h.id);
  v.setUint16(8, h.flags, true);
  v.setUint16(10, h.count, true);
  v.setUint32(12, h.overflow, true);
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-64a, bbolt's meta checksum (over the meta fields before the checksum). */
export function fnv64a(bytes: Uint8Array): bigint {
  let h = FNV64_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV64_PRIME) & MASK64;
  return h;
}

/** Decodes the meta stored at `bytes` (the page body after the header); checks nothing. */
export function decodeMeta(bytes: Uint8Array): BboltMeta {
  if (bytes.length < META_SIZE) throw new BboltFormatError('meta page truncated');
  const v = viewOf(bytes);
  return {
    magic: v.getUint32(0, true),
    version: v.getUint32(4, true),
    pageSize: v.getUint32(8, true),
    flags: v.getUint32(12, true),
    root: readU64(v, 16),
    sequence: readU64(v, 24),
    freelist: readU64(v, 32),
    pgid: readU64(v, 40),
    txid: readU64(v, 48),
    checksum: v.getBigUint64(META_CHECKSUM_OFFSET, true),
  };
}

/** The reason a meta is unusable, or undefined if it is valid (bbolt's meta.validate). */
export function metaProblem(bytes: Uint8Array, m: BboltMeta): string | undefined {
  if (m.magic !== MAGIC) return `invalid magic 0x${m.magic.toString(16)}`;
  if (m.version !== VERSION) return `unsupported version ${m.version}`;
  if (fnv64a(bytes.subarray(0, META_CHECKSUM_OFFSET)) !== m.checksum) return 'checksum mismatch';
  return undefined;
}

/** Encodes a meta (magic, version and checksum filled in) into a 64-byte buffer. */
export function encodeMeta(m: Omit<BboltMeta, 'magic' | 'version' | 'checksum'>): Uint8Array {
  const out = new Uint8Array(META_SIZE);
  const v = viewOf(out);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, VERSION, true);
  v.setUint32(8, m.pageSize, true);
  v.setUint32(12, m.flags, true);
  writeU64(v, 16, m.root);
  writeU64(v, 24, m.sequence);
  if (m.freelist === NO_FREELIST) v.setBigUint64(32, MASK64, true);
  else writeU64(v, 32, m.freelist);
  writeU64(v, 40, m.pgid);
  writeU64(v, 48, m.txid);
  v.setBigUint64(META_CHECKSUM_OFFSET, fnv64a(out.subarray(0, META_CHECKSUM_OFFSET)), true);
  return out;
}

/** Bytewise comparison (bbolt orders keys with bytes.Compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
