/**
 * StoreOptions.onCommit: every batched commit that reaches the engine reports its duration (kv-server
 * feeds etcd_disk_backend_commit_duration_seconds from it); a flush with nothing new commits nothing.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { MvccStore } from '../src/index.js';
import { DISK_ENGINES, enc, freshBackend, removeTempDirs } from './helpers/engines.js';

afterAll(removeTempDirs);

describe.each(DISK_ENGINES)('onCommit: %s', (engine) => {
  test('reports one duration per commit, none for an empty flush', async () => {
    const { backend } = await freshBackend(engine);
    const seconds: number[] = [];
    const store = await MvccStore.open(backend, { batchInterval: 10_000, onCommit: (s) => seconds.push(s) });
    await store.flush();
    const afterOpen = seconds.length;
    await store.put({ key: enc('a'), value: enc('1') }, { index: 1 });
    await store.put({ key: enc('b'), value: enc('2') }, { index: 2 });
    await store.flush();
    expect(seconds.length).toBe(afterOpen + 1);
    expect(seconds.at(-1)).toBeGreaterThanOrEqual(0);
    await store.flush();
    expect(seconds.length).toBe(afterOpen + 1);
    await store.put({ key: enc('c'), value: enc('3') }, { index: 3 });
    await store.flush();
    expect(seconds.length).toBe(afterOpen + 2);
    await store.close();
  });
});
