/**
 * The `memory` engine: one copy-on-write B+tree over physical keys. Durability comes from the server's
 * WAL and snapshots; read views are O(1) tree snapshots, so readers never block writers.
 */
import { BTree, bytesToKey, keyToBytes } from '../btree.js';
import { isPartialView } from '../byte-slab.js';
import { BaseBackend, type RawOp, type RawView } from './base.js';
import type { Entry } from './types.js';

const SCAN_CHUNK = 1024;

export class MemoryBackend extends BaseBackend {
  readonly engine = 'memory' as const;
  private tree = new BTree<Uint8Array>();
  private bytes = 0;

  protected openRawView(): RawView {
    const snap = this.tree.snapshot();
    return {
      get: async (key) => snap.get(bytesToKey(key)),
      getMany: async (keys) => keys.map((key) => snap.get(bytesToKey(key))),
      scan: (lo, hi, reverse) => scanTree(snap, bytesToKey(lo), bytesToKey(hi), reverse),
      close: () => {},
    };
  }

  protected async writeRaw(ops: RawOp[]): Promise<void> {
    for (const op of ops) {
      const k = bytesToKey(op.key);
      // The batch owns the value from put() on (WriteBatch contract), so no defensive copy, except of
      // a view into a shared slab chunk: kept for as long as the key, it would keep the whole chunk.
      const value = op.value && isPartialView(op.value) ? op.value.slice() : op.value;
      const prev = value ? this.tree.set(k, value) : this.tree.delete(k);
      if (prev) this.bytes -= k.length + prev.length;
      if (value) this.bytes += k.length + value.length;
    }
  }

  protected async clearAll(): Promise<void> {
    this.tree.clear();
    this.bytes = 0;
  }

  async size(): Promise<number> {
    return this.bytes;
  }

  async sizeInUse(): Promise<number> {
    return this.bytes;
  }

  async defragment(): Promise<void> {
    // Freed nodes are garbage collected; nothing to reclaim by hand.
  }

  protected async closeEngine(): Promise<void> {
    this.tree.clear();
  }
}

/** Walks the snapshot in chunks so huge scans do not materialise at once. */
async function* scanTree(
  tree: BTree<Uint8Array>,
  lo: string,
  hi: string,
  reverse: boolean,
): AsyncIterable<Entry[]> {
  let start = lo;
  let end = hi;
  for (;;) {
    const chunk: Entry[] = [];
    let last = '';
    tree.forEach({ start, end, reverse }, (k, v) => {
      chunk.push([keyToBytes(k), v]);
      last = k;
      return chunk.length < SCAN_CHUNK;
    });
    if (chunk.length > 0) yield chunk;
    if (chunk.length < SCAN_CHUNK) return;
    if (reverse) end = last;
    else start = `${last}\0`;
  }
}
