/** Comparing whole store states in reopen and crash tests. */
import type { MvccStore } from '../../src/index.js';

/** Everything observable about a store's history, for equality checks. */
export async function fingerprint(store: MvccStore) {
  const revs: unknown[] = [];
  const first = Math.max(store.compactRevision(), 1);
  const step = Math.max(1, Math.floor((store.rev() - first) / 40));
  for (let rev = first; rev <= store.rev(); rev += step) {
    const r = await store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), revision: rev });
    revs.push([rev, r.count, r.kvs]);
  }
  return {
    rev: store.rev(),
    compactRevision: store.compactRevision(),
    index: store.dumpIndex(),
    hashKV: await store.hashKV(0),
    revs,
    leases: [...(await store.keysWithLease()).entries()].sort((a, b) =>
      a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
    ),
  };
}
