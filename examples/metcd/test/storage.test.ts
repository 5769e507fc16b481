// The two stores under a member, on real files: the engine (keys + applied index, per engine) and the
// raft disk (WAL + snapshot files + raft's MemoryStorage), across close and reopen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfState, type Entry, EntryType, type HardState, type Ready } from '@kv/raft';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newRequestId } from '../src/command.js';
import { KvStore, type MetcdEngine } from '../src/kv-store.js';
import { nodeId } from '../src/node-id.js';
import { DataDirError, RaftDisk, type RaftDiskOptions } from '../src/raft-disk.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'metcd-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (k: string, v: string) => ({
  op: 'put' as const,
  requestId: newRequestId(),
  key: utf8(k),
  value: utf8(v),
});

describe.each<MetcdEngine>(['memory', 'leveldb', 'lmdb'])('KvStore on %s', (engine) => {
  it('applies batches with their index, and a snapshot restores into a fresh engine', async () => {
    const a = await KvStore.open(engine, join(dir, 'a'));
    expect(a.appliedIndex()).toBe(0);
    await a.apply(5, [put('x', '1'), put('y', '2')]);
    await a.apply(6, [{ op: 'delete', requestId: newRequestId(), key: utf8('x') }]);
    expect(a.appliedIndex()).toBe(6);
    expect(await a.get(utf8('x'))).toBeUndefined();
    expect(await a.get(utf8('y'))).toEqual(utf8('2'));
    const snap = await a.snapshot();
    await a.close();

    const b = await KvStore.open(engine, join(dir, 'b'));
    await b.apply(1, [put('stale', 'gone after restore')]);
    await b.restore(snap, 6);
    expect(b.appliedIndex()).toBe(6);
    expect(await b.get(utf8('y'))).toEqual(utf8('2'));
    expect(await b.get(utf8('stale'))).toBeUndefined();
    expect(await b.keyCount()).toBe(1);
    await b.close();
  });

  it(`${engine === 'memory' ? 'forgets' : 'keeps'} its data and applied index across reopen`, async () => {
    const a = await KvStore.open(engine, join(dir, 'e'));
    await a.apply(9, [put('k', 'v')]);
    await a.close();
    const b = await KvStore.open(engine, join(dir, 'e'));
    // The memory engine starts empty: a member restores it from its snapshot and replays its WAL.
    expect(b.appliedIndex()).toBe(engine === 'memory' ? 0 : 9);
    expect(await b.get(utf8('k'))).toEqual(engine === 'memory' ? undefined : utf8('v'));
    await b.close();
  });
});

describe('RaftDisk', () => {
  const opts = (): RaftDiskOptions => ({
    dir,
    id: nodeId(1),
    segmentBytes: 64 * 1024,
    catchUpEntries: 2,
    keepSnapshots: 2,
    logger: () => {},
  });
  const entry = (index: number, term = 1): Entry => ({
    index,
    term,
    type: EntryType.Normal,
    data: utf8(`e${index}`),
  });
  const ready = (hardState: HardState | undefined, entries: Entry[]): Ready => ({
    ...(hardState ? { hardState } : {}),
    entries,
    committedEntries: [],
    messages: [],
    readStates: [],
    mustSync: true,
  });
  const cs: ConfState = {
    voters: [nodeId(1)],
    learners: [],
    votersOutgoing: [],
    learnersNext: [],
    autoLeave: false,
  };

  it('gives back after reopen exactly the hard state and entries persisted, with raft truncation', async () => {
    const disk = await RaftDisk.open(opts());
    expect(disk.restarted).toBe(false);
    await disk.persist(ready({ term: 1, vote: 1n, commit: 0 }, [entry(1), entry(2), entry(3)]));
    // A new leader overwrote index 3 at term 2.
    await disk.persist(ready({ term: 2, vote: 1n, commit: 3 }, [entry(3, 2), entry(4, 2)]));
    expect(disk.storage.lastIndex()).toBe(4);
    await disk.close();

    const again = await RaftDisk.open(opts());
    expect(again.restarted).toBe(true);
    expect(again.storage.initialState().hardState).toEqual({ term: 2, vote: 1n, commit: 3 });
    expect(again.storage.entries(1, 5).map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ]);
    await again.close();
  });

  it('snapshots, compacts raft log and WAL, and restarts from the snapshot', async () => {
    const disk = await RaftDisk.open(opts());
    const big = (i: number): Entry => ({ ...entry(i), data: new Uint8Array(4096).fill(i) });
    for (let i = 1; i <= 60; i++) await disk.persist(ready({ term: 1, vote: 1n, commit: i }, [big(i)]));
    const segmentsBefore = disk.walSegments().length;
    expect(segmentsBefore).toBeGreaterThan(2);
    await disk.createSnapshot(50, cs, utf8('state@50'));
    expect(disk.snapshotIndex()).toBe(50);
    expect(disk.storage.firstIndex()).toBe(49); // 2 catch-up entries kept behind the snapshot
    expect(disk.walSegments().length).toBeLessThan(segmentsBefore);
    await disk.close();

    const again = await RaftDisk.open(opts());
    const snap = again.snapshot();
    expect(snap.metadata).toMatchObject({ index: 50, term: 1, confState: { voters: [nodeId(1)] } });
    expect(snap.data).toEqual(utf8('state@50'));
    expect(again.storage.firstIndex()).toBe(51);
    expect(again.storage.lastIndex()).toBe(60);
    expect(again.storage.initialState().hardState.commit).toBe(60);
    await again.close();
  });

  it('refuses a data directory that belongs to another member', async () => {
    await (await RaftDisk.open(opts())).close();
    await expect(RaftDisk.open({ ...opts(), id: nodeId(2) })).rejects.toThrow(DataDirError);
  });
});
