import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  type Entry,
  EntryType,
  MemoryStorage,
  SnapOutOfDateError,
  UnavailableError,
} from '../src/index.js';
import { RaftLog } from '../src/log/raft-log.js';
import { Unstable } from '../src/log/unstable.js';

const ent = (index: number, term: number, data = ''): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});
const ids = (es: Entry[]) => es.map((e) => `${e.index}:${e.term}`);

describe('MemoryStorage', () => {
  it('appends, overwrites conflicting suffixes and reports bounds', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 3]);
    s.append([ent(3, 3), ent(4, 3)]);
    expect(ids(s.entries(1, 5))).toEqual(['1:1', '2:1', '3:3', '4:3']);
    expect(s.term(3)).toBe(3);
    expect(() => s.term(9)).toThrow(UnavailableError);
  });

  it('limits entries by size but returns at least one', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1, 'x'.repeat(100)), ent(2, 1, 'y'.repeat(100))]);
    expect(s.entries(1, 3, 1)).toHaveLength(1);
    expect(s.entries(1, 3, 1000)).toHaveLength(2);
  });

  it('compacts and snapshots', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    const cs = { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    s.createSnapshot(3, cs, new Uint8Array([1]));
    s.compact(3);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([4, 4]);
    expect(s.term(3)).toBe(2);
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.entries(3, 5)).toThrow(CompactedError);
    expect(() => s.createSnapshot(2, cs, new Uint8Array())).toThrow(SnapOutOfDateError);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(s.initialState().confState).toEqual(cs);
  });

  it('applySnapshot replaces the log and rejects older snapshots', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1)]);
    const snap = {
      data: new Uint8Array(),
      metadata: {
        index: 10,
        term: 3,
        confState: { voters: [1n, 2n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      },
    };
    s.applySnapshot(snap);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([11, 10]);
    expect(() => s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: 9 } })).toThrow(
      SnapOutOfDateError,
    );
  });
});

describe('unstable log', () => {
  it('truncates and appends across the three cases', () => {
    const u = new Unstable(5);
    u.truncateAndAppend([ent(5, 1), ent(6, 1)]);
    u.truncateAndAppend([ent(7, 1)]); // append
    expect(ids(u.entries)).toEqual(['5:1', '6:1', '7:1']);
    u.truncateAndAppend([ent(6, 2)]); // truncate inside
    expect(ids(u.entries)).toEqual(['5:1', '6:2']);
    u.truncateAndAppend([ent(4, 3)]); // replace from before offset
    expect(u.offset).toBe(4);
    expect(ids(u.entries)).toEqual(['4:3']);
  });

  it('stableTo ignores entries that were replaced since the Ready', () => {
    const u = new Unstable(1);
    u.truncateAndAppend([ent(1, 1), ent(2, 1)]);
    u.stableTo(2, 2); // wrong term: ignored
    expect(u.entries).toHaveLength(2);
    u.stableTo(1, 1);
    expect(u.offset).toBe(2);
    expect(ids(u.entries)).toEqual(['2:1']);
  });
});

describe('raft log', () => {
  it('maybeAppend rejects on mismatch, appends new entries, truncates conflicts and commits', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 2), ent(3, 3)]);
    const log = new RaftLog(s);
    expect(log.maybeAppend(3, 2, 3, [ent(4, 4)])).toBeUndefined();
    expect(log.maybeAppend(3, 3, 3, [ent(4, 4)])).toBe(4);
    expect(log.committed).toBe(3);
    // A conflicting entry at 4 replaces ours; commit never passes the last new entry.
    expect(log.maybeAppend(3, 3, 9, [ent(4, 5)])).toBe(4);
    expect(ids(log.allEntries())).toEqual(['1:1', '2:2', '3:3', '4:5']);
    expect(log.committed).toBe(4);
    // Conflicting with a committed entry is a broken invariant.
    expect(() => log.maybeAppend(1, 1, 4, [ent(2, 6)])).toThrow(/conflict with committed/);
  });

  it('findConflictByTerm returns the last index with a term <= the given one', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 4)]);
    const log = new RaftLog(s);
    expect(log.findConflictByTerm(5, 3)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(5, 0)).toEqual({ index: 0, term: 0 });
  });

  it('isUpToDate compares last term, then length', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 2)]);
    const log = new RaftLog(s);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(true);
    expect(log.isUpToDate(1, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('maybeCommit only commits entries of the given term', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 2)]);
    const log = new RaftLog(s);
    expect(log.maybeCommit(2, 1)).toBe(false);
    expect(log.maybeCommit(2, 2)).toBe(true);
    expect(log.committed).toBe(2);
  });

  it('slices across stable and unstable parts and throws for compacted ranges', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    s.createSnapshot(1, undefined, new Uint8Array());
    s.compact(1);
    const log = new RaftLog(s);
    log.append([ent(4, 2), ent(5, 2)]);
    expect(ids(log.slice(2, 6))).toEqual(['2:1', '3:1', '4:2', '5:2']);
    expect(() => log.slice(1, 3)).toThrow(CompactedError);
    expect(log.term(1)).toBe(1);
  });
});
