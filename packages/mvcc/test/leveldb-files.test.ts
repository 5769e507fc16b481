/**
 * The `level` engine's bulk read path (src/backend/leveldb-files/): LevelDB's own files read with plain
 * reads, checked against LevelDB itself on real databases: a random workload's bulk view equals a
 * LevelDB snapshot taken at the same moment and the model of every write made before it, with writes
 * queued while it opens; the MANIFEST's torn tail; checksums; uncompressed and snappy tables; and the
 * link directories' lifetime.
 */
import { copyFile, mkdir, readdir, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from '@kv/raft';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { SCAN_CHUNK_BYTES } from '../src/backend/level.js';
import { maskedCrc32c } from '../src/backend/leveldb-files/coding.js';
import {
  decodeVersionEdit,
  LevelDbFileError,
  mergeTables,
  readLiveFiles,
  readLogRecords,
  TableReader,
  tableFileName,
} from '../src/backend/leveldb-files/index.js';
import { replayEdits } from '../src/backend/leveldb-files/manifest.js';
import { type Backend, type Entry, openBackend } from '../src/index.js';
import { collect, enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

/** Seeded PRNG (mulberry32, @kv/raft's), so a failing seed can be replayed. */
const rng = seededRandom;

const BUCKETS = ['a', 'key', 'meta'];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Keys with shared prefixes (`k`, `k1`, `k12`, ...) and a spread of lengths. */
function randomKey(r: () => number): Uint8Array {
  const n = Math.floor(r() * 400);
  const shape = Math.floor(r() * 3);
  if (shape === 0) return enc(`k${String(n).slice(0, 1 + Math.floor(r() * 3))}`);
  if (shape === 1) return enc(`rev/${String(n).padStart(6, '0')}`);
  return enc(`long/${'x'.repeat(Math.floor(r() * 40))}/${n}`);
}

/** Empty values, small ones, and values over LevelDB's 4 KiB block size; some compressible. */
function randomValue(r: () => number): Uint8Array {
  const kind = r();
  const size = kind < 0.1 ? 0 : kind < 0.7 ? Math.floor(r() * 200) : 4096 + Math.floor(r() * 20_000);
  const v = new Uint8Array(size);
  if (r() < 0.5) v.fill(Math.floor(r() * 256));
  else for (let i = 0; i < size; i++) v[i] = Math.floor(r() * 256);
  return v;
}

type Model = Map<string, Map<string, Uint8Array>>;

function modelEntries(model: Model, bucket: string): Array<[string, string]> {
  return [...(model.get(bucket) ?? new Map<string, Uint8Array>()).entries()]
    .map(([k, v]): [string, string] => [k, hex(v)])
    .sort((x, y) => Buffer.compare(Buffer.from(x[0], 'hex'), Buffer.from(y[0], 'hex')));
}

const asHex = (entries: Entry[]) => entries.map(([k, v]): [string, string] => [hex(k), hex(v)]);

/** Applies `n` random writes to the backend and the model, in batches. */
async function randomWrites(backend: Backend, model: Model, r: () => number, n: number): Promise<void> {
  for (let done = 0; done < n; ) {
    const batch = backend.batch();
    const size = 1 + Math.floor(r() * 50);
    for (let i = 0; i < size; i++, done++) {
      const bucket = BUCKETS[Math.floor(r() * BUCKETS.length)]!;
      const key = randomKey(r);
      const m = model.get(bucket) ?? new Map<string, Uint8Array>();
      model.set(bucket, m);
      if (r() < 0.25) {
        batch.delete(bucket, key);
        m.delete(hex(key));
      } else {
        const value = randomValue(r);
        batch.put(bucket, key, value);
        m.set(hex(key), value);
      }
    }
    await batch.commit();
  }
}

function cloneModel(model: Model): Model {
  return new Map([...model].map(([b, m]) => [b, new Map(m)]));
}

describe('LevelBackend scans', () => {
  it("fill their chunks up to SCAN_CHUNK_BYTES, not classic-level's 16 KiB default", async () => {
    // Key-bucket entries of a real store are a few hundred bytes; at the default byte cap a 4 096-entry
    // request returned ~55 of them, one thread-pool round trip each (a restart's index rebuild).
    const path = await tempDir('chunks');
    const backend = await openBackend({ engine: 'level', path });
    try {
      const n = 4_000;
      const value = new Uint8Array(300).fill(7);
      const batch = backend.batch();
      for (let i = 0; i < n; i++) batch.put('key', enc(`k${String(i).padStart(6, '0')}`), value);
      await batch.commit();
      const chunkBytes: number[] = [];
      let seen = 0;
      for await (const chunk of backend.scanChunks('key')) {
        chunkBytes.push(chunk.reduce((sum, [k, v]) => sum + k.length + v.length, 0));
        seen += chunk.length;
      }
      expect(seen).toBe(n);
      const largest = Math.max(...chunkBytes);
      expect(largest).toBeGreaterThan(SCAN_CHUNK_BYTES * 0.9);
      expect(largest).toBeLessThanOrEqual(SCAN_CHUNK_BYTES + 400); // the cap is checked after each entry
      expect(chunkBytes.length).toBeLessThan(10); // 1.2 MB in chunks of 64, 256, then ~800 entries
    } finally {
      await backend.close();
    }
  });
});

describe('LevelBackend.bulkView', () => {
  for (const seed of [1, 2, 3]) {
    it(`equals a LevelDB snapshot of the same moment over random writes, flushes and compactions (seed ${seed})`, async () => {
      const r = rng(seed);
      const path = await tempDir('bulk');
      const backend = await openBackend({ engine: 'level', path });
      const model: Model = new Map();
      try {
        for (let round = 0; round < 6; round++) {
          await randomWrites(backend, model, r, 300 + Math.floor(r() * 1500));
          if (r() < 0.3) await backend.defragment(); // compactRange over everything
          const expected = cloneModel(model);
          // Taken together, with no await between: the same moment.
          const view = backend.view();
          const opening = backend.bulkView();
          // Writes issued while the bulk view opens queue behind it and must not show in it.
          const later = randomWrites(backend, model, r, 200);
          const bulk = await opening;
          try {
            for (const bucket of BUCKETS) {
              const got = asHex(await collect(bulk.scan(bucket)));
              expect(got).toEqual(modelEntries(expected, bucket));
              expect(got).toEqual(asHex(await collect(view.scan(bucket))));
              // Bounded and limited scans, reverse scans and point reads agree too.
              const start = randomKey(r);
              const end = randomKey(r);
              const opts = { start, end, limit: Math.floor(r() * 20) };
              expect(asHex(await collect(bulk.scan(bucket, opts)))).toEqual(
                asHex(await collect(view.scan(bucket, opts))),
              );
              expect(asHex(await collect(bulk.scan(bucket, { start })))).toEqual(
                asHex(await collect(view.scan(bucket, { start }))),
              );
              expect(asHex(await collect(bulk.scan(bucket, { reverse: true, limit: 30 })))).toEqual(
                asHex(await collect(view.scan(bucket, { reverse: true, limit: 30 }))),
              );
              const keys = [start, end, randomKey(r)];
              expect((await bulk.getMany(bucket, keys)).map((v) => v && hex(v))).toEqual(
                (await view.getMany(bucket, keys)).map((v) => v && hex(v)),
              );
            }
            await later;
            // Still the state of the moment it opened, after the queued writes landed.
            expect(asHex(await collect(bulk.scan('key')))).toEqual(modelEntries(expected, 'key'));
          } finally {
            bulk.close();
            view.close();
          }
          expect(asHex(await collect(backend.scan('key')))).toEqual(modelEntries(model, 'key'));
        }
      } finally {
        await backend.close();
      }
    }, 120_000);
  }

  it('keeps its tables while compaction replaces them, and removes its link directory on close', async () => {
    const path = await tempDir('bulk-links');
    const backend = await openBackend({ engine: 'level', path });
    const model: Model = new Map();
    const r = rng(9);
    try {
      await randomWrites(backend, model, r, 3000);
      const bulk = await backend.bulkView();
      const links = (await readdir(path)).filter((n) => n.startsWith('bulk-read-'));
      expect(links).toHaveLength(1);
      // Overwrite everything and compact: LevelDB deletes the tables the view was linked to.
      const expected = cloneModel(model);
      await randomWrites(backend, model, r, 3000);
      await backend.defragment();
      for (const bucket of BUCKETS) {
        expect(asHex(await collect(bulk.scan(bucket)))).toEqual(modelEntries(expected, bucket));
      }
      bulk.close();
      for (let i = 0; i < 100 && (await readdir(path)).some((n) => n.startsWith('bulk-read-')); i++) {
        await new Promise((ok) => setTimeout(ok, 10));
      }
      expect((await readdir(path)).filter((n) => n.startsWith('bulk-read-'))).toEqual([]);
    } finally {
      await backend.close();
    }
  });

  it('links tables with the legacy .sst name too', async () => {
    const path = await tempDir('bulk-sst');
    const model: Model = new Map();
    const first = await openBackend({ engine: 'level', path });
    await randomWrites(first, model, rng(12), 1500);
    (await first.bulkView()).close(); // flushes the memtable into a table
    await first.close();
    // LevelDB before 1.14 named tables .sst, and still opens them by that name.
    const ldb = (await readdir(path)).filter((n) => n.endsWith('.ldb'));
    expect(ldb.length).toBeGreaterThan(0);
    for (const name of ldb) await rename(join(path, name), join(path, name.replace('.ldb', '.sst')));
    const backend = await openBackend({ engine: 'level', path });
    try {
      const bulk = await backend.bulkView();
      try {
        // The view's links came from the .sst names (no compaction rewrote them meanwhile).
        expect((await readdir(path)).filter((n) => n.endsWith('.sst')).length).toBe(ldb.length);
        for (const bucket of BUCKETS) {
          expect(asHex(await collect(bulk.scan(bucket)))).toEqual(modelEntries(model, bucket));
        }
      } finally {
        bulk.close();
      }
    } finally {
      await backend.close();
    }
  });

  it('removes a link directory left by a crash when the backend opens', async () => {
    const path = await tempDir('bulk-leftover');
    const first = await openBackend({ engine: 'level', path });
    await first.close();
    await mkdir(join(path, 'bulk-read-4242-1'));
    await writeFile(join(path, 'bulk-read-4242-1', '000005.ldb'), 'left behind');
    const backend = await openBackend({ engine: 'level', path });
    try {
      expect((await readdir(path)).filter((n) => n.startsWith('bulk-read-'))).toEqual([]);
    } finally {
      await backend.close();
    }
  });

  it('memory and lmdb return their normal view', async () => {
    for (const engine of ['memory', 'lmdb'] as const) {
      const backend = await openBackend({ engine, path: await tempDir(engine) });
      try {
        const batch = backend.batch();
        batch.put('key', enc('a'), enc('1'));
        await batch.commit();
        const view = await backend.bulkView();
        expect(asHex(await collect(view.scan('key')))).toEqual([[hex(enc('a')), hex(enc('1'))]]);
        view.close();
      } finally {
        await backend.close();
      }
    }
  });
});

/** A LevelDB database written and flushed with classic-level directly, and its expected contents. */
async function classicDb(compression: boolean, compressible: boolean) {
  const path = await tempDir(`classic-${compression}`);
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    compression,
    writeBufferSize: 256 * 1024,
  });
  await db.open();
  const r = rng(compression ? 5 : 6);
  for (let round = 0; round < 20; round++) {
    const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }> =
      [];
    for (let i = 0; i < 100; i++) {
      const key = randomKey(r);
      if (r() < 0.2) ops.push({ type: 'del', key });
      else {
        const value = compressible
          ? new Uint8Array(1000 + Math.floor(r() * 8000)).fill(97 + (i % 3))
          : randomValue(r);
        ops.push({ type: 'put', key, value });
      }
    }
    await db.batch(ops);
  }
  // The memtable goes to a table (CompactRange flushes it first); nothing writes after this.
  await db.compactRange(new Uint8Array([0]), new Uint8Array([0, 0]));
  const entries = (await db.iterator().all()) as Entry[];
  // Bytes of the live values: what the tables hold at least (older versions may still be there too).
  const liveBytes = entries.reduce((n, [, v]) => n + v.length, 0);
  return { path, db, expected: asHex(entries), liveBytes };
}

async function tableBytes(path: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(path)) if (name.endsWith('.ldb')) n += (await stat(join(path, name))).size;
  return n;
}

describe('table reader', () => {
  it('reads uncompressed tables entry for entry as LevelDB does', async () => {
    const { path, db, expected, liveBytes } = await classicDb(false, true);
    // Closed first: LevelDB's background compaction would otherwise delete tables while they are read.
    await db.close();
    const live = await readLiveFiles(path);
    expect(live.levels.flat().length).toBeGreaterThan(1);
    // Compressible values, stored as they are: compression is off.
    expect(await tableBytes(path)).toBeGreaterThan(liveBytes);
    const got = (
      await collect(mergeTables(path, live.levels, new Uint8Array(0), new Uint8Array([0xff])))
    ).flat();
    expect(asHex(got)).toEqual(expected);
  });

  it('reads snappy-compressed tables entry for entry as LevelDB does', async () => {
    const { path, db, expected, liveBytes } = await classicDb(true, true);
    // Closed first: LevelDB's background compaction would otherwise delete tables while they are read.
    await db.close();
    const live = await readLiveFiles(path);
    // The blocks are compressed: the tables hold far less than the values.
    expect(await tableBytes(path)).toBeLessThan(liveBytes / 4);
    const got = (
      await collect(mergeTables(path, live.levels, new Uint8Array(0), new Uint8Array([0xff])))
    ).flat();
    expect(asHex(got)).toEqual(expected);
  });

  it('raises a typed checksum error for a corrupted block byte, and a format error for a bad footer', async () => {
    const { path, db } = await classicDb(false, false);
    await db.close(); // no background compaction deletes the table while it is copied
    const live = await readLiveFiles(path);
    const table = join(path, tableFileName(live.levels.flat()[0]!.number));
    const dir = await tempDir('corrupt');
    const copy = join(dir, '000001.ldb');
    await copyFile(table, copy);
    const bytes = await readFile(copy);
    bytes[100] = bytes[100]! ^ 0x01; // inside the first data block
    await writeFile(copy, bytes);
    const reader = await TableReader.open(copy);
    const read = async () => {
      for await (const _ of reader.blocks()) {
      }
    };
    await expect(read()).rejects.toSatisfy(
      (err: unknown) => err instanceof LevelDbFileError && err.problem === 'checksum' && err.file === copy,
    );
    await reader.close();

    const footer = Buffer.from(await readFile(table));
    footer[footer.length - 1] = footer[footer.length - 1]! ^ 0xff; // the magic number
    await writeFile(copy, footer);
    await expect(TableReader.open(copy)).rejects.toSatisfy(
      (err: unknown) => err instanceof LevelDbFileError && err.problem === 'format',
    );
  });
});

/** Writes `records` in LevelDB's log format (for the fragmenting cases a small database never makes). */
function logBytes(records: Uint8Array[]): Buffer {
  const BLOCK = 32 * 1024;
  const out: Buffer[] = [];
  let pos = 0;
  const physical = (type: number, data: Uint8Array) => {
    const header = Buffer.alloc(7);
    header.writeUInt16LE(data.length, 4);
    header[6] = type;
    header.writeUInt32LE(maskedCrc32c(header.subarray(6), data), 0);
    out.push(header, Buffer.from(data));
    pos += 7 + data.length;
  };
  for (const record of records) {
    let at = 0;
    let first = true;
    do {
      const left = BLOCK - (pos % BLOCK);
      if (left < 7) {
        out.push(Buffer.alloc(left));
        pos += left;
        continue;
      }
      const n = Math.min(record.length - at, left - 7);
      const last = at + n === record.length;
      physical(first && last ? 1 : first ? 2 : last ? 4 : 3, record.subarray(at, at + n));
      at += n;
      first = false;
    } while (at < record.length);
  }
  return Buffer.concat(out);
}

describe('MANIFEST log', () => {
  it('reads records split over blocks, and a torn tail ends the log at the last whole record', () => {
    const r = rng(11);
    const records = Array.from({ length: 12 }, (_, i) => {
      const size = i % 3 === 0 ? 70_000 : Math.floor(r() * 3000);
      return Uint8Array.from({ length: size }, () => Math.floor(r() * 256));
    });
    const bytes = logBytes(records);
    const whole = readLogRecords(bytes, 'log');
    expect(whole.torn).toBe(false);
    expect(whole.records.map(hex)).toEqual(records.map(hex));
    // Every cut: the whole records before it, never a damaged or partial one.
    let ends = 0;
    for (let cut = 0; cut < bytes.length; cut += 997) {
      const got = readLogRecords(bytes.subarray(0, cut), 'log');
      expect(got.records.map(hex)).toEqual(records.slice(0, got.records.length).map(hex));
      expect(got.records.length).toBeGreaterThanOrEqual(ends);
      ends = got.records.length;
    }
    expect(readLogRecords(bytes.subarray(0, bytes.length - 1), 'log')).toMatchObject({ torn: true });
    expect(readLogRecords(bytes.subarray(0, bytes.length - 1), 'log').records).toHaveLength(
      records.length - 1,
    );
  });

  it('raises a checksum error for a damaged record before the tail', () => {
    const bytes = logBytes([enc('one'), enc('two'), enc('three')]);
    bytes[8] = bytes[8]! ^ 0x20; // a byte of the first record's data
    expect(() => readLogRecords(bytes, 'log')).toThrow(LevelDbFileError);
  });

  it("parses a real database's torn MANIFEST to its last whole edit", async () => {
    const { path, db } = await classicDb(true, false);
    await db.compactRange(new Uint8Array(0), new Uint8Array([0xff])); // more edits
    const manifest = (await readFile(join(path, 'CURRENT'), 'latin1')).trim();
    await db.close();
    const full = await readFile(join(path, manifest));
    const { records } = readLogRecords(full, manifest);
    expect(records.length).toBeGreaterThan(2);
    const copyDir = await tempDir('torn');
    await writeFile(join(copyDir, 'CURRENT'), `${manifest}\n`);
    await writeFile(join(copyDir, manifest), full);
    // Cut inside the last record: the file set is the one of the edits before it.
    await truncate(join(copyDir, manifest), full.length - 3);
    const torn = await readLiveFiles(copyDir);
    expect(torn.torn).toBe(true);
    const want = replayEdits(
      records.slice(0, -1).map((rec) => decodeVersionEdit(rec, manifest)),
      manifest,
    );
    expect(torn.levels.map((l) => l.map((f) => f.number))).toEqual(
      want.levels.map((l) => l.map((f) => f.number)),
    );
    expect(torn.logNumber).toBe(want.logNumber);
    // And the whole file replays to what LevelDB keeps: every listed table exists.
    const live = await readLiveFiles(path);
    for (const f of live.levels.flat())
      expect((await stat(join(path, tableFileName(f.number)))).size).toBe(f.size);
  });
});
