import { CompactedError, RaftInvariantError, SnapOutOfDateError, UnavailableError } from './errors.js';
import {
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  EntryType,
  emptySnapshot,
  type HardState,
  limitSize,
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
  /** ents[0] is a dummy standing for the snapshot: its index and term are the snapshot's. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  /** Records the hard state from a Ready. */
  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) {
      throw new RaftInvariantError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[i - offset]!.term;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole content with a snapshot received from the leader (a Ready's `snapshot`). */
  applySnapshot(snap: Snapshot): void {
    if (this.snap.metadata.index >= snap.metadata.index) throw new SnapOutOfDateError();
    this.snap = snap;
    this.ents = [
      { term: snap.metadata.term, index: snap.metadata.index, type: EntryType.Normal, data: EMPTY_BYTES },
    ];
  }

  /**
   * Makes a snapshot of the application state as of applied index `i` (call `compact` afterwards to drop
   * the entries it covers). `cs` is the membership at `i`.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapOutOfDateError();
    const offset = this.ents[0]!.index;
    if (i > this.lastIndex()) {
      throw new RaftInvariantError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      data,
      metadata: {
        index: i,
        term: this.ents[i - offset]!.term,
        confState: cs ?? this.snap.metadata.confState,
      },
    };
    return this.snap;
  }

  /** Drops entries before `compactIndex`; `compactIndex` must not exceed the applied index. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError();
    if (compactIndex > this.lastIndex()) {
      throw new RaftInvariantError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const kept = this.ents[i]!;
    this.ents = [{ term: kept.term, index: kept.index, type: EntryType.Normal, data: EMPTY_BYTES }].concat(
      this.ents.slice(i + 1),
    );
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
    const offset = ents[0]!.index - this.ents[0]!.index;
    if (this.ents.length > offset) {
      this.ents = this.ents.slice(0, offset).concat(ents);
    } else if (this.ents.length === offset) {
      for (const e of ents) this.ents.push(e);
    } else {
      throw new RaftInvariantError(
        `missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`,
      );
    }
  }
}
