import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Snapshotter, Wal, WalError } from '../src/index.js';
import { entries, meta, payload, tempDir } from './helpers.js';

const snapOf = (index: number, term = 1) => ({ index, term, data: payload(index, 100 + index) });

describe('Snapshotter', () => {
  it('saves atomically under a term-index name and loads the newest', async () => {
    const dir = join(tempDir(), 'snap');
    const s = new Snapshotter(dir);
    expect(await s.loadNewest()).toBeUndefined();
    await s.save(snapOf(5));
    await s.save(snapOf(12, 2));
    await s.save(snapOf(9));
    expect(readdirSync(dir).sort()).toEqual([
      '0000000000000001-0000000000000005.snap',
      '0000000000000001-0000000000000009.snap',
      '0000000000000002-000000000000000c.snap',
    ]);
    expect(await s.loadNewest()).toEqual(snapOf(12, 2));
  });

  it('skips a snapshot whose checksum fails (and sets it aside as .broken)', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    await s.save(snapOf(5));
    await s.save(snapOf(9));
    const newest = join(dir, Snapshotter.fileName(1, 9));
    const bytes = readFileSync(newest);
    bytes[bytes.length - 3]! ^= 0x10;
    writeFileSync(newest, bytes);
    expect(await s.loadNewest()).toEqual(snapOf(5));
    expect(readdirSync(dir)).toContain(`${Snapshotter.fileName(1, 9)}.broken`);
  });

  it('rejects truncated files and files whose header disagrees with their name', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    await s.save(snapOf(3));
    await s.save(snapOf(7));
    await s.save(snapOf(8));
    writeFileSync(
      join(dir, Snapshotter.fileName(1, 8)),
      readFileSync(join(dir, Snapshotter.fileName(1, 8))).subarray(0, 20),
    );
    // A valid file renamed to a newer index must not be believed.
    writeFileSync(join(dir, Snapshotter.fileName(1, 7)), readFileSync(join(dir, Snapshotter.fileName(1, 3))));
    expect(await s.loadNewest()).toEqual(snapOf(3));
  });

  it('loadNewestAvailable picks the newest snapshot the WAL has a marker for', async () => {
    const root = tempDir();
    const walDir = join(root, 'wal');
    const s = new Snapshotter(join(root, 'snap'));
    const wal = await Wal.create(walDir, meta, { noSync: true, segmentSize: 65536 });
    await wal.save(undefined, entries(1, 30));
    for (const i of [10, 20]) {
      await s.save(snapOf(i));
      await wal.saveSnapshot({ index: i, term: 1 });
    }
    await s.save(snapOf(30)); // crashed before its WAL marker was written
    await wal.close();
    const markers = await Wal.snapshotMarkers(walDir);
    expect(markers).toEqual([
      { index: 0, term: 0 },
      { index: 10, term: 1 },
      { index: 20, term: 1 },
    ]);
    expect(await s.loadNewest()).toEqual(snapOf(30));
    expect(await s.loadNewestAvailable(markers)).toEqual(snapOf(20));
    expect(await s.loadNewestAvailable([{ index: 20, term: 2 }])).toBeUndefined();

    // The one-read form: open hands the chooser the same markers and reads from the chosen one.
    let offered: unknown;
    let chosen: Awaited<ReturnType<typeof s.loadNewestAvailable>>;
    const reopened = await Wal.open(walDir, async (available) => {
      offered = available;
      chosen = await s.loadNewestAvailable(available);
      return { index: chosen?.index ?? 0, term: chosen?.term ?? 0 };
    });
    try {
      expect(offered).toEqual(markers);
      expect(chosen).toEqual(snapOf(20));
      const contents = await reopened.readAll();
      expect(contents.entries.map((e) => e.index)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    } finally {
      await reopened.close();
    }
  });

  it("open's chooser also gets the saved commit index, to skip markers past it (etcd's ValidSnapshotEntries)", async () => {
    const root = tempDir();
    const walDir = join(root, 'wal');
    const s = new Snapshotter(join(root, 'snap'));
    const wal = await Wal.create(walDir, meta, { noSync: true });
    await wal.save({ term: 1, vote: 0n, commit: 7 }, entries(1, 7));
    // A follower persists a snapshot received from the leader, then crashes before saving the hard
    // state that commits it.
    await s.save(snapOf(500));
    await wal.saveSnapshot({ index: 500, term: 1 });
    await wal.close();
    let committed = -1;
    const reopened = await Wal.open(walDir, async (available, commit) => {
      committed = commit;
      const chosen = await s.loadNewestAvailable(available.filter((m) => m.index <= commit));
      return { index: chosen?.index ?? 0, term: chosen?.term ?? 0 };
    });
    try {
      expect(committed).toBe(7);
      const contents = await reopened.readAll();
      expect(contents.hardState.commit).toBe(7);
      expect(contents.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await reopened.close();
    }
  });

  it('purge keeps the newest N and removes leftover temp files', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    for (const i of [1, 2, 3, 4, 5]) await s.save(snapOf(i));
    writeFileSync(join(dir, `${Snapshotter.fileName(1, 6)}.tmp`), 'partial');
    const removed = await s.purge(2);
    expect(removed).toEqual([
      Snapshotter.fileName(1, 3),
      Snapshotter.fileName(1, 2),
      Snapshotter.fileName(1, 1),
    ]);
    expect(readdirSync(dir).sort()).toEqual([Snapshotter.fileName(1, 4), Snapshotter.fileName(1, 5)]);
    await expect(s.purge(0)).rejects.toBeInstanceOf(WalError);
  });

  it('a leftover temp file from a crash mid-save is never loaded', async () => {
    const dir = tempDir();
    const s = new Snapshotter(dir);
    await s.save(snapOf(4));
    writeFileSync(
      join(dir, `${Snapshotter.fileName(1, 9)}.tmp`),
      readFileSync(join(dir, Snapshotter.fileName(1, 4))),
    );
    expect(await s.loadNewest()).toEqual(snapOf(4));
  });
});
