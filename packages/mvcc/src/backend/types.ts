/** The storage-engine contract every engine implements and the conformance suite checks. */

/** Engines selectable by name. */
export type EngineName = 'memory' | 'level' | 'lmdb';

/** Options for {@link openBackend}. */
export interface BackendOptions {
  /** Engine to use; default `level`. */
  engine?: EngineName;
  /** Directory for on-disk engines (required for `level` and `lmdb`). */
  path?: string;
  /** fsync every commit (default false: the server's WAL provides durability; commits stay atomic). */
  sync?: boolean;
  /** LMDB map size in bytes (default 8 GiB, grown automatically by lmdb-js). */
  mapSize?: number;
  /**
   * `level` only: LevelDB's `max_open_files`, which sizes its table cache (this minus 10 tables stay
   * open). Each open table is also memory-mapped, and a full read through LevelDB (hash, the key-index
   * rebuild at start; snapshots use {@link Backend.bulkView}, which does not) touches every page, so
   * this bounds the file-backed RSS of the process at about
   * (maxOpenFiles - 10) x 2 MiB (tables are ~2 MiB: level.ts sets a 2 MiB write buffer). Default
   * {@link DEFAULT_LEVEL_MAX_OPEN_FILES}; LevelDB raises anything below 74 to 74.
   */
  maxOpenFiles?: number;
}

/**
 * The `level` engine's default `maxOpenFiles`: LevelDB's smallest (64 cached tables, ≤ 128 MiB mapped).
 * LevelDB's own default, 1000, mapped a whole 1 GiB database into the server (1.07 GiB of RSS after a
 * restart); measured costs of the small cache are in docs/benchmarks.md ("LevelDB table cache").
 */
export const DEFAULT_LEVEL_MAX_OPEN_FILES = 74;

/** A key/value pair from a scan. */
export type Entry = [key: Uint8Array, value: Uint8Array];

/** Bounds of a scan inside one bucket: `[start, end)`, open where undefined. */
export interface ScanOptions {
  start?: Uint8Array | undefined;
  end?: Uint8Array | undefined;
  /** Walk from the high end down. */
  reverse?: boolean | undefined;
  /** Stop after this many entries (0 or undefined: no limit). */
  limit?: number | undefined;
}

/** A consistent point-in-time view; writers are never blocked by it. Close it when done. */
export interface ReadView {
  get(bucket: string, key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Point reads of many keys in one call (LevelDB does them in one native round trip). */
  getMany(bucket: string, keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
  scan(bucket: string, opts?: ScanOptions): AsyncIterable<Entry>;
  /** Like scan() but in chunks of entries (far fewer async steps for bulk readers). */
  scanChunks(bucket: string, opts?: ScanOptions): AsyncIterable<Entry[]>;
  close(): void;
}

/**
 * A set of writes committed atomically. Keys are copied in by put/delete (the caller may reuse its key
 * bytes at once); values are owned by the batch once put: don't mutate them.
 */
export interface WriteBatch {
  put(bucket: string, key: Uint8Array, value: Uint8Array): void;
  delete(bucket: string, key: Uint8Array): void;
  /** Number of queued operations. */
  readonly length: number;
  /** Drops the operations queued after the first `length` (undoing a failed transaction). */
  truncate(length: number): void;
  /** Applies every queued write atomically; resolves when the engine has committed it. */
  commit(): Promise<void>;
}

/** Options for {@link Backend.hash}. */
export interface HashOptions {
  /** Entries to leave out (etcd leaves out the consistent index, which differs between members). */
  ignore?: (bucket: string, key: Uint8Array) => boolean;
}

/** Named buckets of ordered binary keys. */
export interface Backend {
  readonly engine: EngineName;
  /** Starts a write batch. */
  batch(): WriteBatch;
  /** Opens a consistent read view. */
  view(): ReadView;
  /**
   * Opens a consistent read view for reading most of the database once (a snapshot stream). Same
   * contents and contract as {@link Backend.view}. The `level` engine serves its forward scans from
   * LevelDB's table files with plain reads, so they grow the page cache, not the process's RSS (LevelDB
   * memory-maps the tables it caches); opening it flushes LevelDB's memtable and holds this backend's
   * writes meanwhile (they queue; none fail). `memory` and `lmdb` return their normal view.
   *
   * @example
   * ```ts
   * const view = await backend.bulkView();
   * try {
   *   for await (const chunk of view.scanChunks('key')) out.write(chunk);
   * } finally {
   *   view.close();
   * }
   * ```
   */
  bulkView(): Promise<ReadView>;
  /** Reads one key from the latest committed state. */
  get(bucket: string, key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Scans the latest committed state (a view held for the duration of the scan). */
  scan(bucket: string, opts?: ScanOptions): AsyncIterable<Entry>;
  /** Chunked scan() of the latest committed state. */
  scanChunks(bucket: string, opts?: ScanOptions): AsyncIterable<Entry[]>;
  /**
   * Every entry of `bucket` in the latest committed state, in key order, handed to `visit` as the engine
   * holds it: `key` still starts with the bucket's prefix (its first `keyStart` bytes), and either array
   * may be an engine's Buffer that the next chunk replaces. For one-pass readers that only look at the
   * bytes: a restart's key index rebuild over every revision, where scanChunks' plain per-entry views
   * were ~0.1 s of 200 000 (docs/benchmarks.md "Session 19").
   * @example
   * let n = 0;
   * await backend.scanRaw('key', (key, keyStart, value) => { n += value.length; });
   */
  scanRaw(
    bucket: string,
    visit: (key: Uint8Array, keyStart: number, value: Uint8Array) => void,
  ): Promise<void>;
  /** Bytes the engine occupies on disk (memory: bytes held). */
  size(): Promise<number>;
  /** Bytes holding live data (after defragment, size() approaches this). */
  sizeInUse(): Promise<number>;
  /** The whole contents as a byte stream (framed, checksummed). */
  snapshot(): AsyncIterable<Uint8Array>;
  /** Replaces the whole contents with a stream produced by snapshot() of any engine. */
  restore(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void>;
  /** Reclaims space freed by deletes. */
  defragment(): Promise<void>;
  /** CRC-32C over every bucket name, key and value in order. */
  hash(opts?: HashOptions): Promise<number>;
  close(): Promise<void>;
}
