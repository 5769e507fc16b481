/**
 * Engine-independent parts of a Backend: bucket key mapping, scans with limits, snapshot streaming,
 * restore and hashing. An engine supplies raw point reads, raw ordered scans over its single key space,
 * atomic batch writes and a few maintenance hooks.
 */
import { Crc32c } from '../crc32.js';
import { ErrClosed, ErrCorruptSnapshot } from '../errors.js';
import { KeyLog } from './key-log.js';
import { bucketPrefix, physicalKey, scanBounds, splitKey } from './keys.js';
import type { Backend, EngineName, Entry, HashOptions, ReadView, ScanOptions, WriteBatch } from './types.js';

/** A queued raw write: value undefined means delete. */
export interface RawOp {
  key: Uint8Array;
  value: Uint8Array | undefined;
}

/** An engine's consistent view over physical keys. */
export interface RawView {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  /** Entries with lo <= key < hi, ascending or descending, in chunks. */
  scan(lo: Uint8Array, hi: Uint8Array, reverse: boolean): AsyncIterable<Entry[]>;
  close(): void;
}

const SNAPSHOT_MAGIC = 0x6b76736e; // 'kvsn'

/**
 * Length of the backend snapshot at the start of `bytes` (magic, length-prefixed key/value records, an
 * end mark, a CRC-32C), or undefined if `bytes` does not hold a whole one. Lets callers find a dump's
 * end inside a larger container, e.g. the 512-byte padded stream of Maintenance.Snapshot.
 */
export function backendSnapshotLength(bytes: Uint8Array): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12 || view.getUint32(0) !== SNAPSHOT_MAGIC) return undefined;
  let p = 4;
  for (;;) {
    if (p + 4 > bytes.length) return undefined;
    const klen = view.getUint32(p);
    p += 4;
    if (klen === 0xffffffff) return p + 4 <= bytes.length ? p + 4 : undefined;
    p += klen;
    if (p + 4 > bytes.length) return undefined;
    p += 4 + view.getUint32(p);
  }
}
const SNAPSHOT_CHUNK = 64 * 1024;
const RESTORE_BATCH = 10_000;

/** Orders physical entries so different engines hash identically. */
export abstract class BaseBackend implements Backend {
  abstract readonly engine: EngineName;
  protected closed = false;

  protected abstract openRawView(): RawView;
  protected abstract writeRaw(ops: RawOp[]): Promise<void>;
  /** Deletes every entry (restore starts from empty). */
  protected abstract clearAll(): Promise<void>;
  abstract size(): Promise<number>;
  abstract sizeInUse(): Promise<number>;
  abstract defragment(): Promise<void>;
  protected abstract closeEngine(): Promise<void>;

  protected checkOpen(): void {
    if (this.closed) throw new ErrClosed('backend: closed');
  }

  batch(): WriteBatch {
    this.checkOpen();
    // Keys are copied in at once (the caller may reuse its key bytes); values are the batch's from
    // put() on (WriteBatch contract).
    const keys = new KeyLog();
    const values: (Uint8Array | undefined)[] = [];
    return {
      put: (bucket, key, value) => {
        keys.push(bucketPrefix(bucket), key);
        values.push(value);
      },
      delete: (bucket, key) => {
        keys.push(bucketPrefix(bucket), key);
        values.push(undefined);
      },
      get length() {
        return values.length;
      },
      truncate: (length) => {
        if (length >= values.length) return;
        values.length = length;
        keys.truncate(length);
      },
      commit: async () => {
        this.checkOpen();
        if (values.length > 0) await this.writeRaw(keys.ops(values));
      },
    };
  }

  view(): ReadView {
    this.checkOpen();
    return this.wrapView(this.openRawView());
  }

  /** The engine's normal view: only the `level` engine has a separate bulk read path. */
  async bulkView(): Promise<ReadView> {
    return this.view();
  }

  /** The bucket-level view over an engine's raw view. */
  protected wrapView(raw: RawView): ReadView {
    return {
      get: async (bucket, key) => plain(await raw.get(physicalKey(bucket, key))),
      getMany: async (bucket, keys) =>
        (await raw.getMany(keys.map((k) => physicalKey(bucket, k)))).map(plain),
      scan: (bucket, opts) => flatten(scanBucket(raw, bucket, opts ?? {})),
      scanChunks: (bucket, opts) => scanBucket(raw, bucket, opts ?? {}),
      close: () => raw.close(),
    };
  }

  async get(bucket: string, key: Uint8Array): Promise<Uint8Array | undefined> {
    const view = this.view();
    try {
      return await view.get(bucket, key);
    } finally {
      view.close();
    }
  }

  scan(bucket: string, opts?: ScanOptions): AsyncIterable<Entry> {
    return flatten(this.scanChunks(bucket, opts));
  }

  async scanRaw(
    bucket: string,
    visit: (key: Uint8Array, keyStart: number, value: Uint8Array) => void,
  ): Promise<void> {
    this.checkOpen();
    const raw = this.openRawView();
    try {
      const [lo, hi] = scanBounds(bucket);
      const keyStart = bucketPrefix(bucket).length;
      for await (const chunk of raw.scan(lo, hi, false)) {
        for (let i = 0; i < chunk.length; i++) {
          const entry = chunk[i]!;
          visit(entry[0], keyStart, entry[1]);
        }
      }
    } finally {
      raw.close();
    }
  }

  async *scanChunks(bucket: string, opts?: ScanOptions): AsyncIterable<Entry[]> {
    const view = this.view();
    try {
      yield* view.scanChunks(bucket, opts);
    } finally {
      view.close();
    }
  }

  /** Every physical entry in order, from one view. */
  protected async *scanAll(): AsyncIterable<Entry> {
    const raw = this.openRawView();
    try {
      for await (const chunk of raw.scan(
        new Uint8Array(0),
        new Uint8Array([0xff, 0xff, 0xff, 0xff]),
        false,
      )) {
        yield* chunk;
      }
    } finally {
      raw.close();
    }
  }

  async hash(opts: HashOptions = {}): Promise<number> {
    const crc = new Crc32c();
    let lastBucket = '';
    for await (const [pk, value] of this.scanAll()) {
      const [bucket, key] = splitKey(pk);
      if (opts.ignore?.(bucket, key)) continue;
      if (bucket !== lastBucket) {
        crc.update(new TextEncoder().encode(bucket));
        lastBucket = bucket;
      }
      crc.update(key);
      crc.update(value);
    }
    return crc.digest();
  }

  /**
   * Stream format: u32 magic, then frames `u32 keyLen, key, u32 valueLen, value`, then a terminator
   * frame with keyLen 0xffffffff followed by the u32 CRC-32C of every preceding byte.
   */
  async *snapshot(): AsyncIterable<Uint8Array> {
    const crc = new Crc32c();
    let chunk = Buffer.allocUnsafe(SNAPSHOT_CHUNK);
    let used = 0;
    const emit = function* (bytes: Uint8Array): Generator<Uint8Array> {
      if (used + bytes.length > chunk.length) {
        if (used > 0) {
          const out = chunk.subarray(0, used);
          crc.update(out);
          yield out;
        }
        chunk = Buffer.allocUnsafe(Math.max(SNAPSHOT_CHUNK, bytes.length));
        used = 0;
      }
      chunk.set(bytes, used);
      used += bytes.length;
    };
    const u32 = (n: number) => {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32BE(n >>> 0);
      return b;
    };
    yield* emit(u32(SNAPSHOT_MAGIC));
    for await (const [k, v] of this.scanAll()) {
      yield* emit(u32(k.length));
      yield* emit(k);
      yield* emit(u32(v.length));
      yield* emit(v);
    }
    yield* emit(u32(0xffffffff));
    const out = chunk.subarray(0, used);
    crc.update(out);
    yield out;
    yield u32(crc.digest());
  }

  async restore(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    this.checkOpen();
    // Collect the entries first so a corrupt stream leaves the current contents untouched.
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
    const all = Buffer.concat(parts);
    if (all.length < 12 || all.readUInt32BE(0) !== SNAPSHOT_MAGIC)
      throw new ErrCorruptSnapshot('backend: not a snapshot');
    const body = all.subarray(0, all.length - 4);
    const crc = new Crc32c().update(body).digest();
    if (crc !== all.readUInt32BE(all.length - 4))
      throw new ErrCorruptSnapshot('backend: snapshot checksum mismatch');
    const ops: RawOp[] = [];
    let p = 4;
    for (;;) {
      if (p + 4 > body.length) throw new ErrCorruptSnapshot('backend: truncated snapshot');
      const klen = body.readUInt32BE(p);
      p += 4;
      if (klen === 0xffffffff) break;
      const key = new Uint8Array(body.subarray(p, p + klen));
      p += klen;
      const vlen = body.readUInt32BE(p);
      p += 4;
      const value = new Uint8Array(body.subarray(p, p + vlen));
      p += vlen;
      if (p > body.length) throw new ErrCorruptSnapshot('backend: truncated snapshot');
      ops.push({ key, value });
    }
    await this.clearAll();
    for (let i = 0; i < ops.length; i += RESTORE_BATCH) await this.writeRaw(ops.slice(i, i + RESTORE_BATCH));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeEngine();
  }
}

async function* scanBucket(raw: RawView, bucket: string, opts: ScanOptions): AsyncIterable<Entry[]> {
  const [lo, hi] = scanBounds(bucket, opts.start, opts.end);
  let left = opts.limit && opts.limit > 0 ? opts.limit : Number.POSITIVE_INFINITY;
  if (compareBytes(lo, hi) >= 0) return;
  for await (const chunk of raw.scan(lo, hi, opts.reverse ?? false)) {
    const n = Math.min(chunk.length, left);
    const out: Entry[] = new Array(n);
    const skip = bucketPrefix(bucket).length;
    for (let i = 0; i < n; i++) {
      const [k, v] = chunk[i]!;
      // One plain view per key (prefix stripped) instead of subarray + Buffer-to-Uint8Array wrapping.
      out[i] = [new Uint8Array(k.buffer, k.byteOffset + skip, k.byteLength - skip), plain(v)];
    }
    if (n > 0) yield out;
    left -= n;
    if (left <= 0) return;
  }
}

async function* flatten(chunks: AsyncIterable<Entry[]>): AsyncIterable<Entry> {
  for await (const chunk of chunks) yield* chunk;
}

/** Engines may hand out Buffers; callers always get plain Uint8Arrays (same bytes, no copy). */
function plain<T extends Uint8Array | undefined>(b: T): T {
  if (b === undefined || Object.getPrototypeOf(b) === Uint8Array.prototype) return b;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength) as T;
}

/** Byte-wise comparison of two keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}
