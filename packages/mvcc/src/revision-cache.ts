/**
 * A byte-bounded cache of encoded KeyValues by revision id, in front of the backend.
 *
 * Why: a backend read is an asynchronous round trip (LevelDB's thread pool, an LMDB read txn), which
 * costs more CPU and latency than the lookup itself. Revisions are immutable — a revision id always
 * names the same bytes — so a cache needs no invalidation: an entry whose revision was compacted away is
 * simply never asked for again and ages out. Only committed bytes enter (a failed transaction's
 * rolled-back revision ids are reused, so uncommitted bytes must never be cached).
 *
 * Eviction is generational rather than exact LRU: entries go into a young map; when it holds half the
 * budget it becomes the old map and the previous old map is dropped whole. A hit in the old map moves
 * the entry back to the young one. Every operation is O(1) — deleting entries one by one from the front
 * of a JavaScript Map makes later iteration skip the holes, which turned exact LRU quadratic.
 */
export class RevisionCache {
  private young = new Map<string, Uint8Array>();
  private old = new Map<string, Uint8Array>();
  private youngBytes = 0;
  private oldBytes = 0;
  private readonly generationBytes: number;

  /** @param maxBytes total size of cached values; 0 disables the cache. */
  constructor(maxBytes: number) {
    this.generationBytes = Math.floor(maxBytes / 2);
  }

  /** The cached bytes of a revision (a hit keeps it for another generation). */
  get(id: string): Uint8Array | undefined {
    const v = this.young.get(id);
    if (v !== undefined) return v;
    const o = this.old.get(id);
    if (o !== undefined) {
      this.old.delete(id);
      this.oldBytes -= o.length;
      this.insert(id, o);
    }
    return o;
  }

  /** Adds a committed revision. */
  set(id: string, value: Uint8Array): void {
    if (value.length > this.generationBytes) return;
    const prev = this.young.get(id);
    if (prev !== undefined) {
      this.young.delete(id);
      this.youngBytes -= prev.length;
    }
    this.insert(id, value);
  }

  /** Number of cached revisions. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** Total bytes of cached values (at most the budget given to the constructor). */
  get sizeBytes(): number {
    return this.youngBytes + this.oldBytes;
  }

  private insert(id: string, value: Uint8Array): void {
    if (this.youngBytes + value.length > this.generationBytes) {
      this.old = this.young;
      this.oldBytes = this.youngBytes;
      this.young = new Map();
      this.youngBytes = 0;
    }
    this.young.set(id, value);
    this.youngBytes += value.length;
  }
}
