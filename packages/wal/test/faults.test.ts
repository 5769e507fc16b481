/**
 * Fault injection (issue 4, test 3): short writes and EIO/ENOSPC on write, fdatasync, truncate,
 * rename, directory fsync, open and read. Each error surfaces as a typed error, and what earlier
 * saves acknowledged stays readable.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  adaptiveFileSystem,
  LOCK_FILE,
  nodeFileSystem,
  PREPARED_SEGMENT_NAME,
  Snapshotter,
  Wal,
  WalClosedError,
  type WalFileSystem,
  WalIOError,
  type WalLogger,
  workerFileSystem,
} from '../src/index.js';
import { entries, FaultyFs, meta, tempDir } from './helpers.js';

const segmentSize = 8192;

let base: WalFileSystem = nodeFileSystem;

async function setup(logger?: WalLogger): Promise<{ dir: string; fs: FaultyFs; wal: Wal }> {
  const fs = new FaultyFs(base);
  const dir = join(tempDir(), 'wal');
  const wal = await Wal.create(dir, meta, { fs, segmentSize, logger });
  await wal.save({ term: 1, vote: 1n, commit: 0 }, entries(1, 3));
  return { dir, fs, wal };
}

async function reopen(dir: string): Promise<number[]> {
  const wal = await Wal.open(dir, { index: 0, term: 0 }, { segmentSize });
  const got = (await wal.readAll()).entries.map((e) => e.index);
  await wal.close();
  return got;
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const [label, layer] of [
  ['thread-pool layer', nodeFileSystem],
  ['worker layer (one-call write+fdatasync)', workerFileSystem],
  [
    'adaptive layer, fdatasync on the loop',
    adaptiveFileSystem({ slowMs: Number.POSITIVE_INFINITY, stallMs: Number.POSITIVE_INFINITY }),
  ],
  ['adaptive layer, fdatasync on the pool', adaptiveFileSystem({ slowMs: -1 })],
] as const) {
  describe(label, () => {
    beforeEach(() => {
      base = layer;
    });
    afterEach(() => {
      base = nodeFileSystem;
    });

    describe('write faults', () => {
      for (const code of ['EIO', 'ENOSPC'] as const) {
        it(`${code} on write rejects the save with WalIOError; the WAL keeps working`, async () => {
          const { dir, fs, wal } = await setup();
          fs.fail('write', code);
          const err = await wal.save(undefined, entries(4, 2)).catch((e) => e);
          expect(err).toBeInstanceOf(WalIOError);
          expect((err as WalIOError).code).toBe(code);
          expect((err as WalIOError).op).toBe('write');
          await wal.save(undefined, entries(4, 2)); // same place again
          await wal.close();
          expect(await reopen(dir)).toEqual(range(1, 5));
        });
      }

      it('short writes are continued until the whole batch is written', async () => {
        const { dir, fs, wal } = await setup();
        fs.fail('write', 'half-write', { times: 3 });
        await wal.save(undefined, entries(4, 20));
        await wal.close();
        expect(await reopen(dir)).toEqual(range(1, 23));
      });

      it('a write that makes no progress is a WalIOError (short write)', async () => {
        const { dir, fs, wal } = await setup();
        fs.fail('write', 'zero-write');
        const err = await wal.save(undefined, entries(4, 2)).catch((e) => e);
        expect(err).toBeInstanceOf(WalIOError);
        expect((err as Error).message).toMatch(/short write/);
        await wal.close();
        expect(await reopen(dir)).toEqual(range(1, 3));
      });

      it('a partial write then EIO leaves a torn batch that reopen drops; a retry overwrites it', async () => {
        const { dir, fs, wal } = await setup();
        fs.fail('write', 'half-then-EIO');
        await expect(wal.save(undefined, entries(4, 30))).rejects.toBeInstanceOf(WalIOError);
        await wal.close();
        expect(await reopen(dir)).toEqual(range(1, 3)); // torn half-batch dropped

        const again = await Wal.open(dir, { index: 0, term: 0 }, { fs, segmentSize });
        fs.fail('write', 'half-then-EIO');
        await expect(again.save(undefined, entries(4, 30))).rejects.toBeInstanceOf(WalIOError);
        await again.save(undefined, entries(4, 2)); // shorter than the stale half-batch behind it
        await again.save(undefined, entries(6, 1));
        await again.close();
        expect(await reopen(dir)).toEqual(range(1, 6));
      });

      it('EIO when growing a segment for an oversized batch is a WalIOError', async () => {
        const { dir, fs, wal } = await setup();
        fs.fail('truncate', 'EIO');
        await expect(wal.save(undefined, entries(4, 2, 1, 20_000))).rejects.toBeInstanceOf(WalIOError);
        await wal.save(undefined, entries(4, 2, 1, 20_000));
        await wal.close();
        expect(await reopen(dir)).toEqual(range(1, 5));
      });
    });

    describe('fsync faults', () => {
      it('a failed fdatasync rejects the save and fences the WAL; reopening reads acknowledged data', async () => {
        const { dir, fs, wal } = await setup();
        fs.fail('datasync', 'EIO');
        const err = await wal.save(undefined, entries(4, 2)).catch((e) => e);
        expect(err).toBeInstanceOf(WalIOError);
        expect((err as WalIOError).op).toBe('fdatasync');
        // No retry after a failed fsync: the kernel may have dropped the dirty pages.
        await expect(wal.save(undefined, entries(6, 1))).rejects.toBeInstanceOf(WalClosedError);
        await wal.close();
        expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
        const got = await reopen(dir);
        // 1..3 were acknowledged; 4..5 may or may not have reached the disk, but never partly.
        expect([range(1, 3), range(1, 5)]).toContainEqual(got);
      });
    });
  });
}

describe('segment cut faults', () => {
  /**
   * Fills the tail segment past its size, so the next save has to cut a new one first. Past half the
   * size the WAL starts preparing the next segment file (one write and one fdatasync at 8 KiB).
   */
  async function fill(wal: Wal, from: number): Promise<number> {
    await wal.save(undefined, entries(from, 1, 1, segmentSize));
    expect(wal.segmentFiles().length).toBe(1);
    return from + 1;
  }

  /** The save that cuts fails; nothing is left behind; a retry cuts (inline) and nothing is lost. */
  async function failThenRetry(dir: string, wal: Wal, next: number, files: string[]): Promise<void> {
    await expect(wal.save(undefined, entries(next, 1))).rejects.toBeInstanceOf(WalIOError);
    expect(wal.segmentFiles()).toEqual(files);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await wal.save(undefined, entries(next, 1));
    expect(wal.segmentFiles().length).toBe(files.length + 1);
    await wal.close();
    expect(await reopen(dir)).toEqual(range(1, next));
  }

  for (const [op, kind] of [
    ['write', 'ENOSPC'],
    ['datasync', 'EIO'],
    ['rename', 'EIO'],
  ] as const) {
    it(`${kind} on ${op} while cutting into the prepared segment fails the save, cleans up, and a retry succeeds`, async () => {
      const { dir, fs, wal } = await setup();
      // Skip the preparation's own write / fdatasync: the fault hits the cut's header batch.
      fs.fail(op, kind, { match: PREPARED_SEGMENT_NAME, skip: op === 'rename' ? 0 : 1 });
      const next = await fill(wal, 4);
      await failThenRetry(dir, wal, next, wal.segmentFiles());
    });
  }

  for (const [op, kind] of [
    ['open', 'EIO'],
    ['write', 'ENOSPC'],
    ['datasync', 'EIO'],
  ] as const) {
    it(`${kind} on ${op} while preparing the next segment is logged; the cut creates the segment itself`, async () => {
      const logged: string[] = [];
      const { dir, fs, wal } = await setup((_level, message, fields) =>
        logged.push(`${message} ${JSON.stringify(fields)}`),
      );
      fs.fail(op, kind, { match: PREPARED_SEGMENT_NAME });
      const next = await fill(wal, 4);
      await wal.save(undefined, entries(next, 1));
      expect(wal.segmentFiles().length).toBe(2);
      expect(logged.some((l) => l.startsWith('wal: preparing the next segment failed'))).toBe(true);
      expect(logged.filter((l) => l.startsWith('wal: cut segment'))).toEqual([
        expect.stringContaining('"prepared":false'),
      ]);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      await wal.close();
      expect(await reopen(dir)).toEqual(range(1, next));
    });
  }

  for (const [op, kind] of [
    ['open', 'EIO'],
    ['write', 'ENOSPC'],
    ['datasync', 'EIO'],
    ['rename', 'EIO'],
  ] as const) {
    it(`${kind} on ${op} while cutting without a prepared segment fails the save, cleans up, and a retry succeeds`, async () => {
      const { dir, fs, wal } = await setup();
      fs.fail('open', 'EIO', { match: PREPARED_SEGMENT_NAME });
      const next = await fill(wal, 4);
      fs.fail(op, kind, { match: '.wal.tmp' });
      await failThenRetry(dir, wal, next, wal.segmentFiles());
    });
  }

  it('a failed directory fsync after the rename fences the WAL (the new name may not be durable)', async () => {
    const { dir, fs, wal } = await setup();
    const next = await fill(wal, 4);
    fs.fail('syncDir', 'EIO');
    await expect(wal.save(undefined, entries(next, 1))).rejects.toBeInstanceOf(WalIOError);
    await expect(wal.save(undefined, entries(next, 1))).rejects.toBeInstanceOf(WalClosedError);
    await wal.close();
    expect(await reopen(dir)).toEqual(range(1, next - 1));
  });
});

describe('open and create faults', () => {
  it('EIO reading a segment on open is a WalIOError and releases the lock', async () => {
    const { dir, fs, wal } = await setup();
    await wal.close();
    fs.fail('readFile', 'EIO', { match: '.wal' });
    await expect(Wal.open(dir, { index: 0, term: 0 }, { fs, segmentSize })).rejects.toBeInstanceOf(
      WalIOError,
    );
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(await reopen(dir)).toEqual(range(1, 3));
  });

  it('ENOSPC while creating leaves no WAL behind and no lock held', async () => {
    const fs = new FaultyFs();
    const dir = join(tempDir(), 'wal');
    fs.fail('write', 'ENOSPC', { match: '.wal' });
    await expect(Wal.create(dir, meta, { fs, segmentSize })).rejects.toBeInstanceOf(WalIOError);
    expect(Wal.exists(dir)).toBe(false);
    const wal = await Wal.create(dir, meta, { fs, segmentSize });
    await wal.close();
  });

  it('EIO on releasing a segment is a WalIOError', async () => {
    const { fs, wal } = await setup();
    let next = 4;
    while (wal.segmentFiles().length < 3) {
      await wal.save(undefined, entries(next, 10, 1, 100));
      next += 10;
    }
    fs.fail('unlink', 'EIO', { match: '.wal' });
    await expect(wal.releaseTo(next - 1)).rejects.toBeInstanceOf(WalIOError);
    await wal.releaseTo(next - 1);
    expect(wal.segmentFiles().length).toBeLessThan(3);
    await wal.close();
  });
});

describe('snapshotter faults', () => {
  for (const [op, kind] of [
    ['open', 'EIO'],
    ['write', 'ENOSPC'],
    ['write', 'zero-write'],
    ['datasync', 'EIO'],
    ['rename', 'EIO'],
  ] as const) {
    it(`${kind} on ${op} fails save with WalIOError and leaves the previous snapshot in place`, async () => {
      const fs = new FaultyFs();
      const dir = tempDir();
      const snap = new Snapshotter(dir, { fs });
      await snap.save({ index: 10, term: 1, data: new Uint8Array([1, 2, 3]) });
      fs.fail(op, kind, { match: '.snap' });
      await expect(snap.save({ index: 20, term: 1, data: new Uint8Array([4, 5]) })).rejects.toBeInstanceOf(
        WalIOError,
      );
      expect(readdirSync(dir)).toEqual([Snapshotter.fileName(1, 10)]);
      expect(await snap.loadNewest()).toEqual({ index: 10, term: 1, data: new Uint8Array([1, 2, 3]) });
    });
  }
});
