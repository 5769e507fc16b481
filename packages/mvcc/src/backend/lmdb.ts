/**
 * The `lmdb` engine: a memory-mapped copy-on-write B+tree like etcd's bbolt; read views are LMDB read
 * transactions, which never block the single writer.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { BaseBackend, compareBytes, type RawOp, type RawView } from './base.js';
import type { Entry } from './types.js';

const SCAN_CHUNK = 1024;

interface LmdbStats {
  pageSize: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
}

export class LmdbBackend extends BaseBackend {
  readonly engine = 'lmdb' as const;

  private constructor(
    private db: RootDatabase<Buffer, Buffer>,
    private readonly path: string,
    private readonly sync: boolean,
    private readonly mapSize: number,
  ) {
    super();
  }

  private static openDb(path: string, sync: boolean, mapSize: number): RootDatabase<Buffer, Buffer> {
    return open<Buffer, Buffer>({
      path,
      keyEncoding: 'binary',
      encoding: 'binary',
      mapSize,
      noSync: !sync,
      overlappingSync: false,
      cache: false,
    });
  }

  static async open(path: string, sync: boolean, mapSize: number): Promise<LmdbBackend> {
    return new LmdbBackend(LmdbBackend.openDb(path, sync, mapSize), path, sync, mapSize);
  }

  protected openRawView(): RawView {
    const db = this.db;
    // lmdb-js reuses one read txn per event-loop turn; force a fresh one so the view includes every
    // commit that has already resolved (the store drops its write buffers as soon as commits resolve).
    db.resetReadTxn();
    const transaction = db.useReadTransaction();
    let done = false;
    const getOne = (key: Uint8Array): Uint8Array | undefined => {
      const v = db.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength), { transaction });
      return v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    };
    return {
      get: async (key) => getOne(key),
      getMany: async (keys) => keys.map(getOne),
      async *scan(lo, hi, reverse): AsyncIterable<Entry[]> {
        const loB = Buffer.from(lo.buffer, lo.byteOffset, lo.byteLength);
        const hiB = Buffer.from(hi.buffer, hi.byteOffset, hi.byteLength);
        let chunk: Entry[] = [];
        const range = reverse
          ? // lmdb-js reverse ranges include `start` (the high end) and exclude `end` (the low end).
            db.getRange({ start: hiB, end: loB, reverse: true, transaction })
          : db.getRange({ start: loB, end: hiB, transaction });
        for (const { key, value } of range) {
          if (reverse && compareBytes(key, hiB) >= 0) continue;
          // Values from getRange are fresh buffers: wrap, don't copy. Keys are copied (small).
          chunk.push([new Uint8Array(key), new Uint8Array(value.buffer, value.byteOffset, value.byteLength)]);
          if (chunk.length >= SCAN_CHUNK) {
            yield chunk;
            chunk = [];
          }
        }
        if (reverse) {
          const low = db.get(loB, { transaction });
          if (low !== undefined) chunk.push([new Uint8Array(lo), new Uint8Array(low)]);
        }
        if (chunk.length > 0) yield chunk;
      },
      close: () => {
        if (!done) {
          done = true;
          transaction.done();
        }
      },
    };
  }

  protected async writeRaw(ops: RawOp[]): Promise<void> {
    const db = this.db;
    await db.transaction(() => {
      for (const op of ops) {
        const key = Buffer.from(op.key.buffer, op.key.byteOffset, op.key.byteLength);
        if (op.value) db.put(key, Buffer.from(op.value));
        else db.remove(key);
      }
    });
    if (this.sync) await db.flushed;
  }

  protected async clearAll(): Promise<void> {
    await this.db.clearAsync();
  }

  async size(): Promise<number> {
    return (await stat(join(this.path, 'data.mdb'))).size;
  }

  async sizeInUse(): Promise<number> {
    const s = this.db.getStats() as LmdbStats;
    return (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages + 2) * s.pageSize;
  }

  /** Copies live pages into a fresh file (lmdb's compacting backup) and swaps it in. */
  async defragment(): Promise<void> {
    this.checkOpen();
    const tmp = `${this.path}.defrag`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    // The environment is a directory, so LMDB's copy writes `data.mdb` into an existing directory.
    await this.db.backup(tmp, true);
    const copy = join(tmp, 'data.mdb');
    await this.db.close();
    await rename(copy, join(this.path, 'data.mdb'));
    await rm(join(this.path, 'lock.mdb'), { force: true });
    await rm(tmp, { recursive: true, force: true });
    this.db = LmdbBackend.openDb(this.path, this.sync, this.mapSize);
  }

  protected async closeEngine(): Promise<void> {
    await this.db.close();
  }
}
