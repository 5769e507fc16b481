/**
 * A byte-bounded LRU of encoded KeyValues by revision id, in front of the backend.
 *
 * Why: a backend read is an asynchronous round trip (LevelDB's thread pool, an LMDB read txn), which
 * costs more CPU and latency than the lookup itself. Revisions are immutable — a revision id always
 * names the same bytes — so a cache needs no invalidation: an entry whose revision was compacted away is
 * simply never asked for again and ages out. Only committed bytes enter (a failed transaction's
 * rolled-back revision ids are reused, so uncommitted bytes must never be cached).
 */
export class RevisionCache {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;

  /** @param maxBytes total size of cached values; 0 disables the cache. */
  constructor(private readonly maxBytes: number) {}

  /** The cached bytes of a revision, refreshed as most recently used. */
  get(id: string): Uint8Array | undefined {
    const v = this.entries.get(id);
    if (v !== undefined) {
      // Map keeps insertion order: re-inserting moves the entry to the young end.
      this.entries.delete(id);
      this.entries.set(id, v);
    }
    return v;
  }

  /** Adds (or refreshes) a committed revision, evicting the least recently used beyond the bound. */
  set(id: string, value: Uint8Array): void {
    if (value.length > this.maxBytes) return;
    const old = this.entries.get(id);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.entries.delete(id);
    }
    this.entries.set(id, value);
    this.bytes += value.length;
    if (this.bytes > this.maxBytes) this.evict();
  }

  /** Number of cached revisions. */
  get size(): number {
    return this.entries.size;
  }

  /** Total bytes of cached values. */
  get sizeBytes(): number {
    return this.bytes;
  }

  private evict(): void {
    for (const [id, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(id);
      this.bytes -= v.length;
    }
  }
}
