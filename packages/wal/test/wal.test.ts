import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  adaptiveFileSystem,
  LOCK_FILE,
  nodeFileSystem,
  PREPARED_SEGMENT_NAME,
  SnapshotMismatchError,
  SnapshotNotFoundError,
  syncFileSystem,
  Wal,
  WalClosedError,
  WalError,
  WalExistsError,
  type WalFileSystem,
  WalLockedError,
  WalNotFoundError,
  workerFileSystem,
} from '../src/index.js';
import { entries, FaultyFs, meta, payload, tempDir } from './helpers.js';

const small = { segmentSize: 4096 };
const fast = { noSync: true, segmentSize: 65536 };

describe('Wal basics', () => {
  it('creates, saves, and reads back metadata, hard state and entries after reopen', async () => {
    const dir = join(tempDir(), 'wal');
    expect(Wal.exists(dir)).toBe(false);
    const wal = await Wal.create(dir, meta, small);
    expect(Wal.exists(dir)).toBe(true);
    expect(await wal.readAll()).toEqual({
      metadata: meta,
      hardState: { term: 0, vote: 0n, commit: 0 },
      entries: [],
    });
    await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 3));
    await wal.save({ term: 2, vote: 1n, commit: 3 }, entries(4, 2, 2));
    await wal.close();

    const again = await Wal.open(dir, { index: 0, term: 0 }, small);
    const got = await again.readAll();
    expect(got.metadata).toEqual(meta);
    expect(got.hardState).toEqual({ term: 2, vote: 1n, commit: 3 });
    expect(got.entries).toEqual([...entries(1, 3), ...entries(4, 2, 2)]);
    await again.close();
  });

  it('keeps large numbers (terms and indexes near 2^53) exact', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    const big = 2 ** 53 - 10;
    await wal.saveSnapshot({ index: big, term: 2 ** 40 });
    await wal.save({ term: 2 ** 40, vote: 0xfffffffffffffffen, commit: big }, [
      { term: 2 ** 40, index: big + 1, type: 2, data: payload(1, 3) },
    ]);
    await wal.close();
    const again = await Wal.open(dir, { index: big, term: 2 ** 40 }, fast);
    const got = await again.readAll();
    expect(got.entries).toEqual([{ term: 2 ** 40, index: big + 1, type: 2, data: payload(1, 3) }]);
    expect(got.hardState).toEqual({ term: 2 ** 40, vote: 0xfffffffffffffffen, commit: big });
    await again.close();
  });

  it('applies raft truncation: a rewritten index replaces it and everything after', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.save(undefined, entries(1, 5, 1));
    await wal.save(undefined, entries(3, 2, 2)); // leader change overwrote 3.. with term 2
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, fast);
    expect((await again.readAll()).entries).toEqual([...entries(1, 2, 1), ...entries(3, 2, 2)]);
    await again.close();
  });

  it('opens from a snapshot marker, returning only later entries; checks the marker', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.save({ term: 1, vote: 0n, commit: 4 }, entries(1, 6));
    await wal.saveSnapshot({ index: 4, term: 1 });
    await wal.close();
    const w2 = await Wal.open(dir, { index: 4, term: 1 }, fast);
    expect((await w2.readAll()).entries).toEqual(entries(5, 2));
    await w2.close();
    await expect(Wal.open(dir, { index: 4, term: 9 }, fast)).rejects.toBeInstanceOf(SnapshotMismatchError);
    await expect(Wal.open(dir, { index: 3, term: 1 }, fast)).rejects.toBeInstanceOf(SnapshotNotFoundError);
    // Failed opens released the lock.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('refuses to create over an existing WAL and to open a directory without one', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.close();
    await expect(Wal.create(dir, meta, fast)).rejects.toBeInstanceOf(WalExistsError);
    // A directory holding anything else is not taken over (or deleted) either.
    const other = join(tempDir(), 'data');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'x');
    await expect(Wal.create(other, meta, fast)).rejects.toBeInstanceOf(WalExistsError);
    expect(readdirSync(other)).toEqual(['keep.txt']);
    // An empty directory is fine.
    const empty = join(tempDir(), 'empty');
    mkdirSync(empty);
    await (await Wal.create(empty, meta, fast)).close();
    await expect(Wal.open(tempDir(), { index: 0, term: 0 })).rejects.toBeInstanceOf(WalNotFoundError);
  });

  it('group-commits: exactly one fdatasync per save, whatever the batch size', async () => {
    const fs = new FaultyFs();
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, { fs, segmentSize: 65536 });
    const before = fs.calls.datasync ?? 0;
    const writesBefore = fs.calls.write ?? 0;
    await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 100));
    expect(fs.calls.datasync! - before).toBe(1);
    expect(fs.calls.write! - writesBefore).toBe(1);
    await wal.save(undefined, entries(101, 1));
    expect(fs.calls.datasync! - before).toBe(2);
    await wal.save(undefined, []); // nothing to write: no sync at all
    expect(fs.calls.datasync! - before).toBe(2);
    await wal.close();
  });

  it('serializes concurrent saves in call order', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await Promise.all(Array.from({ length: 30 }, (_, i) => wal.save(undefined, entries(i * 3 + 1, 3))));
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, small);
    expect((await again.readAll()).entries).toEqual(entries(1, 90));
    await again.close();
  });

  for (const [name, layer] of [
    ['worker', workerFileSystem],
    ['sync', syncFileSystem],
    ['adaptive (pool after the first fdatasync)', adaptiveFileSystem({ slowMs: -1 })],
  ] as const) {
    it(`round-trips through the ${name} file-system layer, across segment cuts`, async () => {
      const dir = join(tempDir(), 'wal');
      const wal = await Wal.create(dir, meta, { fs: layer, segmentSize: 4096 });
      for (let i = 0; i < 20; i++)
        await wal.save({ term: 1, vote: 1n, commit: i }, entries(i * 5 + 1, 5, 1, 100));
      expect(wal.segmentFiles().length).toBeGreaterThan(2);
      await wal.close();
      const again = await Wal.open(dir, { index: 0, term: 0 }, { fs: layer, segmentSize: 4096 });
      expect((await again.readAll()).entries).toEqual(entries(1, 100, 1, 100));
      await again.close();
    });
  }

  it('rejects use after close', async () => {
    const wal = await Wal.create(join(tempDir(), 'wal'), meta, fast);
    await wal.close();
    await expect(wal.save(undefined, entries(1, 1))).rejects.toBeInstanceOf(WalClosedError);
  });
});

describe('segments', () => {
  it('rolls over to new segments named by sequence and first index, and reads across them', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    for (let i = 0; i < 40; i++)
      await wal.save({ term: 1, vote: 1n, commit: i * 5 }, entries(i * 5 + 1, 5, 1, 100));
    const files = wal.segmentFiles();
    expect(files.length).toBeGreaterThan(5);
    expect(files[0]).toBe('0000000000000000-0000000000000000.wal');
    for (let i = 1; i < files.length; i++) {
      const [seq, first] = files[i]!.replace('.wal', '')
        .split('-')
        .map((h) => Number.parseInt(h, 16));
      expect(seq).toBe(i);
      expect((first! - 1) % 5).toBe(0); // cut at a batch boundary: first index = last index + 1
    }
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.wal'))
        .sort(),
    ).toEqual(files);
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, small);
    const got = await again.readAll();
    expect(got.entries).toEqual(entries(1, 200, 1, 100));
    expect(got.hardState.commit).toBe(195);
    await again.close();
  });

  it('releases segments before a snapshot and still opens from that snapshot', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    for (let i = 0; i < 30; i++) await wal.save(undefined, entries(i * 5 + 1, 5, 1, 100));
    await wal.saveSnapshot({ index: 120, term: 1 });
    const before = wal.segmentFiles();
    await wal.releaseTo(120);
    const after = wal.segmentFiles();
    expect(after.length).toBeLessThan(before.length);
    expect(after[after.length - 1]).toBe(before[before.length - 1]);
    // The kept first segment is the last one whose first index is below 120.
    const firstKept = Number.parseInt(after[0]!.split('-')[1]!, 16);
    expect(firstKept).toBeLessThan(120);
    expect(Number.parseInt(after[1]!.split('-')[1]!, 16)).toBeGreaterThanOrEqual(120);
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.wal'))
        .sort(),
    ).toEqual(after);
    await wal.save(undefined, entries(151, 2, 1, 100));
    await wal.close();

    const again = await Wal.open(dir, { index: 120, term: 1 }, small);
    expect((await again.readAll()).entries).toEqual(entries(121, 32, 1, 100));
    await again.close();
    // The released history is gone: opening from the start no longer works.
    await expect(Wal.open(dir, { index: 0, term: 0 }, small)).rejects.toThrow();
    expect(await Wal.snapshotMarkers(dir)).toContainEqual({ index: 120, term: 1 });
  });

  it('grows a segment for a batch bigger than the segment size', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, small);
    await wal.save(undefined, entries(1, 3, 1, 10_000));
    await wal.save(undefined, entries(4, 1, 1, 10));
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, small);
    expect((await again.readAll()).entries).toEqual([...entries(1, 3, 1, 10_000), ...entries(4, 1, 1, 10)]);
    await again.close();
  });

  it('works with sparse (truncate) preallocation too', async () => {
    const dir = join(tempDir(), 'wal');
    const opts = { segmentSize: 8192, preallocate: 'truncate' as const };
    const wal = await Wal.create(dir, meta, opts);
    for (let i = 0; i < 10; i++) await wal.save(undefined, entries(i * 10 + 1, 10, 1, 100));
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, opts);
    expect((await again.readAll()).entries).toEqual(entries(1, 100, 1, 100));
    await again.close();
  });
});

describe('segment pipeline', () => {
  /** nodeFileSystem, counting the bytes written per file name; each fdatasync waits `syncMs` more. */
  function countingFs(syncMs = 0): { fs: WalFileSystem; written: Map<string, number> } {
    const written = new Map<string, number>();
    const fs: WalFileSystem = {
      ...nodeFileSystem,
      async open(path, flags) {
        const file = await nodeFileSystem.open(path, flags);
        const name = basename(path);
        return {
          ...file,
          write: (buf, offset, length, position) => {
            written.set(name, (written.get(name) ?? 0) + length);
            return file.write(buf, offset, length, position);
          },
          datasync: async () => {
            if (syncMs > 0) await new Promise((r) => setTimeout(r, syncMs));
            return file.datasync();
          },
          sync: () => file.sync(),
          truncate: (n) => file.truncate(n),
          size: () => file.size(),
          close: () => file.close(),
        };
      },
    };
    return { fs, written };
  }

  it('prepares the next segment once the tail is half full; the cut writes only its header into it', async () => {
    const { fs, written } = countingFs();
    const dir = join(tempDir(), 'wal');
    const logged: string[] = [];
    const segmentSize = 64 * 1024;
    const wal = await Wal.create(dir, meta, {
      fs,
      segmentSize,
      logger: (_l, message, fields) => logged.push(`${message} ${JSON.stringify(fields)}`),
    });
    await wal.save(undefined, entries(1, 10, 1, 1000)); // ~10 KiB: below half, nothing prepared
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(dir)).not.toContain(PREPARED_SEGMENT_NAME);
    await wal.save(undefined, entries(11, 30, 1, 1000)); // past half
    await vi.waitFor(() => expect(written.get(PREPARED_SEGMENT_NAME)).toBe(segmentSize));
    await wal.save(undefined, entries(41, 30, 1, 1000)); // past the size
    written.clear();
    await wal.save(undefined, entries(71, 1, 1, 1000)); // cuts
    const files = wal.segmentFiles();
    expect(files).toHaveLength(2);
    // The cutting save wrote the new segment's header batch and its own batch through the prepared
    // file's handle (the file renamed to files[1]), and no zero fill.
    expect([...written.keys()]).toEqual([PREPARED_SEGMENT_NAME]);
    expect(written.get(PREPARED_SEGMENT_NAME)).toBeLessThan(2000);
    expect(statSync(join(dir, files[1]!)).size).toBe(segmentSize);
    expect(readdirSync(dir)).not.toContain(PREPARED_SEGMENT_NAME);
    expect(logged.filter((l) => l.startsWith('wal: cut segment'))).toEqual([
      expect.stringContaining('"prepared":true'),
    ]);
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, { segmentSize });
    expect((await again.readAll()).entries.map((e) => e.index)).toEqual(entries(1, 71).map((e) => e.index));
    await again.close();
  });

  it('close stops a preparation under way instead of finishing it, and logs no failure', async () => {
    const { fs, written } = countingFs(30);
    const dir = join(tempDir(), 'wal');
    const logged: string[] = [];
    const segmentSize = 8 * 1024 * 1024; // 8 chunks of 1 MiB, each synced: ~240 ms to prepare
    const wal = await Wal.create(dir, meta, {
      fs,
      segmentSize,
      logger: (level, message) => logged.push(`${level} ${message}`),
    });
    await wal.save(undefined, entries(1, 1, 1, segmentSize / 2)); // past half: preparation starts
    await vi.waitFor(() => expect(written.get(PREPARED_SEGMENT_NAME)).toBeGreaterThan(0));
    await wal.close();
    // Stopped at a chunk boundary: the whole segment was never written.
    expect(written.get(PREPARED_SEGMENT_NAME)).toBeLessThan(segmentSize);
    expect(readdirSync(dir)).not.toContain(PREPARED_SEGMENT_NAME);
    expect(logged.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('close removes a prepared segment; open removes one that a crash left behind', async () => {
    const dir = join(tempDir(), 'wal');
    const opts = { segmentSize: 8192 };
    const wal = await Wal.create(dir, meta, opts);
    await wal.save(undefined, entries(1, 1, 1, 6000));
    await vi.waitFor(() => expect(readdirSync(dir)).toContain(PREPARED_SEGMENT_NAME));
    await wal.close();
    expect(readdirSync(dir)).not.toContain(PREPARED_SEGMENT_NAME);
    // A crash can leave a prepared file with or without a header written into it.
    writeFileSync(join(dir, PREPARED_SEGMENT_NAME), new Uint8Array(8192).fill(0x5a));
    const again = await Wal.open(dir, { index: 0, term: 0 }, opts);
    expect(readdirSync(dir)).not.toContain(PREPARED_SEGMENT_NAME);
    expect((await again.readAll()).entries).toEqual(entries(1, 1, 1, 6000));
    await again.save(undefined, entries(2, 1));
    await again.close();
  });
});

describe('directory lock', () => {
  it('keeps a second Wal in the same process out until the first closes', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await expect(Wal.open(dir, { index: 0, term: 0 })).rejects.toBeInstanceOf(WalLockedError);
    await wal.close();
    const again = await Wal.open(dir, { index: 0, term: 0 }, fast);
    await again.close();
  });

  it('keeps other live processes out and takes over the lock of a dead one', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.close();
    // A live process holds the lock.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    writeFileSync(join(dir, LOCK_FILE), `${child.pid} -\n`);
    const err = await Wal.open(dir, { index: 0, term: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(WalLockedError);
    expect((err as WalLockedError).holderPid).toBe(child.pid);
    child.kill('SIGKILL');
    await exited; // reaped: the pid no longer exists
    const again = await Wal.open(dir, { index: 0, term: 0 }, fast);
    await again.close();
  });

  it('treats a lock whose pid was reused by a newer process as stale', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.close();
    // Our own parent is alive, but started at a different time than the lock claims.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 1\n`);
    const again = await Wal.open(dir, { index: 0, term: 0 }, fast);
    await again.close();
  });

  it('treats an empty or garbled lock file (crash while creating it) as stale', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, fast);
    await wal.close();
    writeFileSync(join(dir, LOCK_FILE), '');
    const again = await Wal.open(dir, { index: 0, term: 0 }, fast);
    await again.close();
  });
});

describe('entry data after reopen', () => {
  it('copies only entries after the snapshot, packed into shared blocks that do not hold the segment', async () => {
    const dir = join(tempDir(), 'wal');
    const opts = { noSync: true, segmentSize: 8 << 20 };
    const wal = await Wal.create(dir, meta, opts);
    await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 100, 1, 600));
    await wal.saveSnapshot({ index: 100, term: 1 });
    // 3000 entries of 600 bytes (~1.7 MiB) and one larger than a block.
    await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(101, 3000, 1, 600));
    const big = { term: 1, index: 3101, type: 0, data: payload(3101, (1 << 20) + 5) };
    await wal.save({ term: 1, vote: 1n, commit: 3101 }, [big]);
    await wal.close();

    const again = await Wal.open(dir, { index: 100, term: 1 }, opts);
    const got = (await again.readAll()).entries;
    await again.close();
    const want = [...entries(101, 3000, 1, 600), big];
    expect(got.map((e) => [e.index, e.term, e.type])).toEqual(want.map((e) => [e.index, e.term, e.type]));
    // Buffer.equals: vitest's deep equality walks typed arrays element by element (seconds for 3 MB).
    expect(got.every((e, i) => Buffer.from(e.data).equals(Buffer.from(want[i]!.data)))).toBe(true);
    const blocks = new Set(got.map((e) => e.data.buffer));
    // Two blocks of up to 1 MiB for the small entries, one for the big entry: not one per entry, and none
    // is the 8 MiB segment buffer.
    expect(blocks.size).toBe(3);
    for (const b of blocks) expect(b.byteLength).toBeLessThanOrEqual((1 << 20) + 5);
    expect(got[3000]!.data.buffer.byteLength).toBe((1 << 20) + 5);
  });

  it('takeAll hands over the same contents without copying, once', async () => {
    const dir = join(tempDir(), 'wal');
    const opts = { noSync: true, segmentSize: 1 << 20 };
    const wal = await Wal.create(dir, meta, opts);
    await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 100, 1, 600));
    await wal.saveSnapshot({ index: 100, term: 1 });
    // Enough to cut a segment or two: the taken entries span several segment buffers.
    for (let i = 0; i < 10; i++) {
      await wal.save({ term: 2, vote: 1n, commit: 100 + i * 250 }, entries(101 + i * 250, 250, 2, 600));
    }
    await wal.close();

    const read = await Wal.open(dir, { index: 100, term: 1 }, opts);
    const copied = await read.readAll();
    await read.close();
    const taking = await Wal.open(dir, { index: 100, term: 1 }, opts);
    const taken = taking.takeAll();
    expect(taken.hardState).toEqual(copied.hardState);
    expect(Buffer.from(taken.metadata).equals(Buffer.from(copied.metadata))).toBe(true);
    expect(taken.entries.map((e) => [e.index, e.term, e.type])).toEqual(
      copied.entries.map((e) => [e.index, e.term, e.type]),
    );
    expect(
      taken.entries.every((e, i) => Buffer.from(e.data).equals(Buffer.from(copied.entries[i]!.data))),
    ).toBe(true);
    // Views into the buffers the segments were read into (one per segment), not copies.
    const buffers = new Set(taken.entries.map((e) => e.data.buffer));
    expect(buffers.size).toBeGreaterThan(1);
    for (const b of buffers) expect(b.byteLength).toBeGreaterThanOrEqual(1 << 20);
    // Once: the Wal no longer holds them (so the segment buffers can go with the caller's entries).
    expect(() => taking.takeAll()).toThrow(WalError);
    await expect(taking.readAll()).rejects.toThrow(/already taken/);
    // The WAL itself works on.
    await taking.save({ term: 2, vote: 1n, commit: 2601 }, entries(2601, 1, 2, 10));
    await taking.close();
    const after = await Wal.open(dir, { index: 100, term: 1 }, opts);
    expect((await after.readAll()).entries.at(-1)!.index).toBe(2601);
    await after.close();
  });
});
