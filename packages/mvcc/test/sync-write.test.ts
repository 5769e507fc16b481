/**
 * The synchronous write path: tryPut / tryDeleteRange / tryTxn apply a write in the calling turn when
 * the write lock is idle and every read it needs is in memory, and return undefined (having changed
 * nothing) otherwise; put / deleteRange / txn then read what is missing from the backend and apply.
 * Real LevelDB and LMDB files; the store is reopened (empty buffers, empty read cache) or opened with
 * the read cache off so that reads really go to the engine.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  CompareResult,
  CompareTarget,
  type EngineName,
  type Event,
  MvccStore,
  openBackend,
} from '../src/index.js';
import { DISK_ENGINES, dec, enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

/** A store with k0..k4 written and committed, reopened so nothing is buffered or cached. */
async function reopened(engine: EngineName): Promise<{ store: MvccStore; path: string }> {
  const path = await tempDir(`sync-${engine}`);
  const first = await MvccStore.open(await openBackend({ engine, path }));
  for (let i = 0; i < 5; i++) await first.put({ key: enc(`k${i}`), value: enc(`v${i}`) }, { index: i + 1 });
  await first.close();
  return { store: await MvccStore.open(await openBackend({ engine, path })), path };
}

describe.each(DISK_ENGINES)('synchronous writes (%s)', (engine) => {
  it('tryPut applies in the calling turn: revision, events, consistent index, watchers', async () => {
    const { store } = await reopened(engine);
    try {
      const seen = new Promise<Event[]>((resolve) => {
        store.watch({ key: enc('n') }, (b) => {
          if (b.events.length > 0) resolve(b.events);
        });
      });
      const r = store.tryPut({ key: enc('n'), value: enc('one') }, { index: 6 });
      expect(r).toBeDefined();
      expect(r!.revision).toBe(7);
      expect(r!.events.map((e) => dec(e.kv.value))).toEqual(['one']);
      expect(store.rev()).toBe(7);
      expect(store.consistentIndex()).toBe(6);
      expect((await seen).map((e) => [e.kv.modRevision, dec(e.kv.value)])).toEqual([[7, 'one']]);
      const got = await store.range({ key: enc('n') });
      expect(got.kvs.map((kv) => dec(kv.value))).toEqual(['one']);
      // A replayed entry is skipped, synchronously too.
      expect(store.tryPut({ key: enc('n'), value: enc('again') }, { index: 6 })!.skipped).toBe(true);
      expect(store.rev()).toBe(7);
    } finally {
      await store.close();
    }
  });

  it('a prev_kv not in memory: tryPut changes nothing, put reads it from the engine', async () => {
    const { store } = await reopened(engine);
    try {
      expect(store.tryPut({ key: enc('k1'), value: enc('w'), prevKv: true }, { index: 6 })).toBeUndefined();
      expect(store.rev()).toBe(6);
      expect(store.consistentIndex()).toBe(5);
      const r = await store.put({ key: enc('k1'), value: enc('w'), prevKv: true }, { index: 6 });
      expect(dec(r.response.prevKv!.value)).toBe('v1');
      expect(r.revision).toBe(7);
      expect(store.consistentIndex()).toBe(6);
      // Now the previous value is buffered: the next prev_kv put is synchronous.
      const again = store.tryPut({ key: enc('k1'), value: enc('x'), prevKv: true }, { index: 7 });
      expect(dec(again!.response.prevKv!.value)).toBe('w');
    } finally {
      await store.close();
    }
  });

  it('while an earlier write waits for the engine, tryPut refuses and later writes keep their order', async () => {
    const { store } = await reopened(engine);
    try {
      const first = store.put({ key: enc('k2'), value: enc('a'), prevKv: true }, { index: 6 });
      expect(store.tryPut({ key: enc('z'), value: enc('b') }, { index: 7 })).toBeUndefined();
      const second = store.put({ key: enc('z'), value: enc('b') }, { index: 7 });
      const [r1, r2] = await Promise.all([first, second]);
      expect([r1.revision, r2.revision]).toEqual([7, 8]);
      expect(dec(r1.response.prevKv!.value)).toBe('v2');
      expect(store.consistentIndex()).toBe(7);
    } finally {
      await store.close();
    }
  });

  it('a txn that reads the engine halfway is undone and run again: one revision, no doubled change', async () => {
    const { store } = await reopened(engine);
    try {
      const txn = {
        compare: [{ key: enc('k0'), target: CompareTarget.VERSION, result: CompareResult.EQUAL, version: 1 }],
        success: [
          { requestPut: { key: enc('x'), value: enc('1') } },
          { requestRange: { key: enc('k3') } },
          { requestDeleteRange: { key: enc('k4'), prevKv: true } },
        ],
        failure: [],
      };
      expect(store.tryTxn(txn, { index: 6 })).toBeUndefined();
      expect(store.rev()).toBe(6);
      expect((await store.range({ key: enc('x') })).kvs).toEqual([]);
      const r = await store.txn(txn, { index: 6 });
      expect(r.response.succeeded).toBe(true);
      expect(r.revision).toBe(7);
      expect(r.events.map((e) => [e.type, dec(e.kv.key)])).toEqual([
        [0, 'x'],
        [1, 'k4'],
      ]);
      const range = r.response.responses[1]!.responseRange!;
      expect(range.kvs.map((kv) => dec(kv.value))).toEqual(['v3']);
      expect(dec(r.response.responses[2]!.responseDeleteRange!.prevKvs[0]!.value)).toBe('v4');
      const x = (await store.range({ key: enc('x') })).kvs[0]!;
      expect([x.version, x.createRevision, x.modRevision]).toEqual([1, 7, 7]);
      expect(store.dumpIndex().find((k) => dec(k.key) === 'x')!.generations[0]!.revisions).toEqual([[7, 0]]);
    } finally {
      await store.close();
    }
  });

  it('value compares and ranges inside a txn answer from the write buffer without waiting', async () => {
    const path = await tempDir(`sync-cmp-${engine}`);
    const store = await MvccStore.open(await openBackend({ engine, path }), { readCacheBytes: 0 });
    try {
      await store.put({ key: enc('a'), value: enc('1') }, { index: 1 });
      const r = store.tryTxn(
        {
          compare: [
            { key: enc('a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc('1') },
          ],
          success: [
            { requestPut: { key: enc('a'), value: enc('2'), prevKv: true } },
            { requestRange: { key: enc('a') } },
          ],
          failure: [],
        },
        { index: 2 },
      );
      expect(r!.response.succeeded).toBe(true);
      expect(dec(r!.response.responses[0]!.responsePut!.prevKv!.value)).toBe('1');
      expect(r!.response.responses[1]!.responseRange!.kvs.map((kv) => dec(kv.value))).toEqual(['2']);
      // Committed with the cache off: the buffer is gone, so the same compare needs the engine.
      await store.flush();
      const cmp = {
        compare: [
          { key: enc('a'), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: enc('2') },
        ],
        success: [{ requestDeleteRange: { key: enc('a') } }],
        failure: [],
      };
      expect(store.tryTxn(cmp, { index: 3 })).toBeUndefined();
      expect((await store.txn(cmp, { index: 3 })).response.succeeded).toBe(true);
      expect(store.rev()).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('synchronous writes are committed in batches with their consistent index and survive a reopen', async () => {
    const path = await tempDir(`sync-commit-${engine}`);
    const store = await MvccStore.open(await openBackend({ engine, path }), { batchLimit: 3 });
    for (let i = 1; i <= 20; i++) {
      const ok = store.tryTxn(
        {
          compare: [],
          success: [
            { requestPut: { key: enc(`a${i}`), value: enc(`${i}`) } },
            { requestPut: { key: enc(`b${i}`), value: enc(`${i}`) } },
          ],
          failure: [],
        },
        { index: i },
      );
      // The batch limit starts commits between writes; a write never waits for one.
      expect(ok?.revision).toBe(i + 1);
    }
    expect(store.tryDeleteRange({ key: enc('a1'), prevKv: true }, { index: 21 })?.response.deleted).toBe(1);
    await store.close();
    const back = await MvccStore.open(await openBackend({ engine, path }));
    try {
      expect(back.rev()).toBe(22);
      expect(back.consistentIndex()).toBe(21);
      const all = await back.range({ key: enc('\0'), rangeEnd: enc('\0') });
      expect(all.count).toBe(39);
    } finally {
      await back.close();
    }
  });
});
