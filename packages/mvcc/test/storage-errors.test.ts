/**
 * A storage read that fails is an error, never a missing key: range, kvAt (prev_kv) and history reads
 * raise ErrStorage, and a watcher whose read fails is canceled with the reason. The engine is a real
 * LevelDB whose read views are made to fail at the storage boundary (EIO), after the store was
 * reopened so nothing is served from its caches.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Backend,
  ErrStorage,
  KEY_BUCKET,
  MvccStore,
  openBackend,
  revToBytes,
  type WatchBatch,
} from '../src/index.js';
import { dec, enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

/** A real level backend whose read views fail with EIO while `failing` is set. */
async function levelWithFailingReads(path: string): Promise<{ backend: Backend; fail(on: boolean): void }> {
  const backend = await openBackend({ engine: 'level', path });
  const realView = backend.view.bind(backend);
  let failing = false;
  const eio = () => Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  backend.view = () => {
    const v = realView();
    if (!failing) return v;
    return {
      ...v,
      get: async () => {
        throw eio();
      },
      getMany: async () => {
        throw eio();
      },
      // biome-ignore lint/correctness/useYield: a scan that fails before its first chunk
      scanChunks: async function* () {
        throw eio();
      },
    };
  };
  return { backend, fail: (on) => (failing = on) };
}

/** Writes k0..k9 (two versions of k0) with one store, closes it; returns the path. */
async function seeded(): Promise<string> {
  const path = await tempDir('storage-errors');
  const store = await MvccStore.open(await openBackend({ engine: 'level', path }));
  let index = 1;
  for (let i = 0; i < 10; i++)
    await store.put({ key: enc(`k${i}`), value: enc(`v${i}`) }, { index: index++ });
  await store.put({ key: enc('k0'), value: enc('v0b') }, { index: index++ });
  await store.close();
  return path;
}

describe('storage read errors surface', () => {
  it('range and kvAt raise ErrStorage (not "not found"), and read again once the engine does', async () => {
    const { backend, fail } = await levelWithFailingReads(await seeded());
    const store = await MvccStore.open(backend);
    try {
      fail(true);
      const err = await store.range({ key: enc('k3') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrStorage);
      expect((err as ErrStorage).message).toBe(
        'mvcc: storage read failed: key revisions: EIO: i/o error, read',
      );
      expect((err as ErrStorage).cause).toMatchObject({ code: 'EIO' });
      // prev_kv's lookup: k0's first version, at revision 11 - 1.
      await expect(store.kvAt(enc('k0'), 10)).rejects.toBeInstanceOf(ErrStorage);
      await expect(store.readHistory(1, 11, 100)).rejects.toThrow(
        /storage read failed: history from revision 1/,
      );
      fail(false);
      expect(dec((await store.range({ key: enc('k3') })).kvs[0]!.value)).toBe('v3');
      expect(dec((await store.kvAt(enc('k0'), 10))!.value)).toBe('v0');
    } finally {
      fail(false);
      await store.close();
    }
  });

  it('a revision the index has but the engine lost is ErrStorage, not a missing key', async () => {
    const path = await seeded();
    const backend = await openBackend({ engine: 'level', path });
    const store = await MvccStore.open(backend);
    try {
      // Drop k5's revision (main 7, sub 0: k0 was written at 2) behind the store's back.
      const batch = backend.batch();
      batch.delete(KEY_BUCKET, revToBytes(7, 0));
      await batch.commit();
      await expect(store.range({ key: enc('k5') })).rejects.toThrow(
        'mvcc: storage read failed: revision 7_0 is in the index but not in the backend',
      );
      expect(dec((await store.range({ key: enc('k4') })).kvs[0]!.value)).toBe('v4');
    } finally {
      await store.close();
    }
  });

  it('a watcher whose prev_kv read fails is canceled with the reason', async () => {
    const { backend, fail } = await levelWithFailingReads(await seeded());
    const store = await MvccStore.open(backend);
    try {
      const got: WatchBatch[] = [];
      let done!: () => void;
      const ended = new Promise<void>((r) => (done = r));
      store.watch({ key: enc('k7'), prevKv: true }, (batch) => {
        got.push(batch);
        if (batch.canceled) done();
      });
      fail(true);
      await store.put({ key: enc('k7'), value: enc('new') }, { index: 100 });
      await ended;
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({ canceled: true, events: [] });
      expect(got[0]!.cancelReason).toBe('mvcc: storage read failed: key revisions: EIO: i/o error, read');
    } finally {
      fail(false);
      await store.close();
    }
  });
});
