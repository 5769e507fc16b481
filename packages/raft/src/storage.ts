import { CompactedError, RaftInvariantError, SnapOutOfDateError, UnavailableError } from './errors.js';
import { PackedEntries } from './log/packed-entries.js';
import {
  type ConfState,
  type Entry,
  emptySnapshot,
  entrySizeOfData,
  type HardState,
  type Snapshot,
} from './types.js';

/**
 * The stable (persisted) part of the raft log, as raft reads it. Raft never writes to Storage: the
 * application persists what each Ready hands it (for MemoryStorage: `append`, `setHardState`,
 * `applySnapshot`) and raft reads it back through this interface.
 *
 * Methods throw {@link CompactedError} for indexes compacted away, {@link UnavailableError} for indexes
 * past the end, and `snapshot()` may throw {@link SnapshotTemporarilyUnavailableError}.
 */
export interface Storage {
  /** Persisted hard state and the membership as of the latest snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), truncated to `maxSize` bytes but never to fewer than one entry. */
  entries(lo: number, hi: number, maxSize?: number): Entry[];
  /** Term of entry `i`; valid for firstIndex()-1 (the snapshot's index) up to lastIndex(). */
  term(i: number): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  /** Index of the last entry. */
  lastIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

/**
 * Storage held in memory. Applications can use it as the cache in front of their own persistence (as
 * etcd does with its WAL): persist a Ready, then mirror it here.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = { term: 0, vote: 0n, commit: 0 };
  private snap: Snapshot = emptySnapshot();
  /** Index and term of the entry before the first kept one (the snapshot's, or the last compacted). */
  private offset = 0;
  private offsetTerm = 0;
  /** Entries offset+1 .. lastIndex(), packed (see PackedEntries: why they are not kept as objects). */
  private readonly log = new PackedEntries();

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  /** Records the hard state from a Ready. */
  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) {
      throw new RaftInvariantError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.log.length === 0) throw new UnavailableError();
    // limitSize's rule, applied while building: at least one entry, then while the total fits.
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const k = i - this.offset - 1;
      size += entrySizeOfData(this.log.dataLength(k));
      if (out.length > 0 && maxSize !== undefined && size > maxSize) break;
      out.push(this.log.entry(k, i));
    }
    return out;
  }

  term(i: number): number {
    if (i < this.offset) throw new CompactedError();
    if (i === this.offset) return this.offsetTerm;
    if (i - this.offset > this.log.length) throw new UnavailableError();
    return this.log.term(i - this.offset - 1);
  }

  lastIndex(): number {
    return this.offset + this.log.length;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole content with a snapshot received from the leader (a Ready's `snapshot`). */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new SnapOutOfDateError();
    this.snap = snap;
    this.offset = snap.metadata.index;
    this.offsetTerm = snap.metadata.term;
    this.log.clear();
  }

  /**
   * Makes a snapshot of the application state as of applied index `i` (call `compact` afterwards to drop
   * the entries it covers). `cs` is the membership at `i`.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapOutOfDateError();
    if (i > this.lastIndex()) {
      throw new RaftInvariantError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      data,
      metadata: { index: i, term: this.term(i), confState: cs ?? this.snap.metadata.confState },
    };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; `compactIndex` must not exceed the applied index. */
  compact(compactIndex: number): void {
    if (compactIndex <= this.offset) throw new CompactedError();
    if (compactIndex > this.lastIndex()) {
      throw new RaftInvariantError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const term = this.term(compactIndex);
    this.log.dropFront(compactIndex - this.offset);
    this.offset = compactIndex;
    this.offsetTerm = term;
  }

  /**
   * Appends entries from a Ready. Entries that overlap the existing log replace it from the first
   * overlapping index (the leader overwrote a conflicting suffix); entries already compacted are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    let ents = entries;
    if (first > ents[0]!.index) ents = ents.slice(first - ents[0]!.index);
    const at = ents[0]!.index - this.offset - 1;
    if (at > this.log.length) {
      throw new RaftInvariantError(
        `missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`,
      );
    }
    this.log.truncate(at);
    for (const e of ents) this.log.push(e);
  }
}
