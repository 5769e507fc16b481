import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactedError, type Entry, EntryType, MemoryStorage, UnavailableError } from '../src/index.js';
import { PackedEntries } from '../src/log/packed-entries.js';
import { entrySize } from '../src/types.js';

/**
 * MemoryStorage keeps its entries packed (blocks of numbers and shared byte chunks). These runs check it
 * against the plain array of entries it replaced, through random appends (with conflicting suffixes),
 * compactions, snapshots and reads, and check that a payload read once never changes afterwards.
 */

/** The model: entries as objects, index `offset` standing for the snapshot. */
class ModelStorage {
  offset = 0;
  offsetTerm = 0;
  ents: Entry[] = [];
  lastIndex(): number {
    return this.offset + this.ents.length;
  }
  append(entries: Entry[]): void {
    const ents = entries.filter((e) => e.index > this.offset);
    if (ents.length === 0) return;
    const at = ents[0]!.index - this.offset - 1;
    this.ents = this.ents.slice(0, at).concat(ents);
  }
  compact(i: number): void {
    this.offsetTerm = i === this.offset ? this.offsetTerm : this.ents[i - this.offset - 1]!.term;
    this.ents = this.ents.slice(i - this.offset);
    this.offset = i;
  }
  entries(lo: number, hi: number, maxSize?: number): Entry[] {
    const all = this.ents.slice(lo - this.offset - 1, hi - this.offset - 1);
    if (maxSize === undefined) return all;
    let size = 0;
    const out: Entry[] = [];
    for (const e of all) {
      size += entrySize(e);
      if (out.length > 0 && size > maxSize) break;
      out.push(e);
    }
    return out;
  }
}

type Op =
  | { kind: 'append'; back: number; count: number; term: number; sizes: number[] }
  | { kind: 'compact'; back: number }
  | { kind: 'snapshot'; ahead: number; term: number }
  | { kind: 'read'; lo: number; span: number; maxSize: number | undefined };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(6),
      count: fc.integer({ min: 1, max: 8 }),
      term: fc.integer({ min: 1, max: 50 }),
      // Mostly small payloads (shared chunks), some empty, some past the 16 KiB private-chunk limit.
      sizes: fc.array(
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 16_000, max: 20_000 })),
        {
          minLength: 8,
          maxLength: 8,
        },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(10) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      ahead: fc.integer({ min: 1, max: 5 }),
      term: fc.integer({ min: 1, max: 60 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      lo: fc.nat(12),
      span: fc.integer({ min: 1, max: 12 }),
      maxSize: fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: undefined }),
    }),
  },
);

let serial = 0;
/** A payload whose bytes name it, so a mixed-up or overwritten view shows. */
function payload(size: number): Uint8Array {
  const b = new Uint8Array(size);
  const tag = ++serial;
  for (let i = 0; i < size; i++) b[i] = (tag * 31 + i) & 0xff;
  return b;
}

/** A storage whose packed log uses blocks of `blockEntries` entries (the default when undefined). */
function storageWithBlocks(blockEntries: number | undefined): MemoryStorage {
  const s = new MemoryStorage();
  // Small blocks put block boundaries (growth, release from the front and the back) within reach of
  // these short runs; the default block holds more entries than a run appends.
  if (blockEntries !== undefined)
    (s as unknown as { log: PackedEntries }).log = new PackedEntries(blockEntries);
  return s;
}

describe('MemoryStorage (packed) against a plain entry array', () => {
  it.each([
    ['the default block size', undefined],
    ['blocks of 3 entries', 3],
    ['blocks of 1 entry', 1],
  ])(
    'answers every read, term and bound like the model, and never changes bytes it handed out (%s)',
    (_, blockEntries) => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
          const s = storageWithBlocks(blockEntries);
          const m = new ModelStorage();
          let term = 1;
          let snapIndex = 0;
          const handedOut: { view: Uint8Array; copy: Uint8Array }[] = [];
          for (const o of ops) {
            if (o.kind === 'append') {
              term = Math.max(term, o.term);
              const start = Math.max(m.offset + 1, m.lastIndex() + 1 - o.back);
              const ents = o.sizes.slice(0, o.count).map((n, i) => ({
                index: start + i,
                term,
                type: i % 3 === 2 ? EntryType.ConfChange : EntryType.Normal,
                data: payload(n),
              }));
              s.append(ents);
              m.append(ents);
            } else if (o.kind === 'compact') {
              const i = m.lastIndex() - o.back;
              if (i <= m.offset) {
                if (i >= 0) expect(() => s.compact(i)).toThrow(CompactedError);
                continue;
              }
              if (i > snapIndex) {
                s.createSnapshot(i, undefined, new Uint8Array());
                snapIndex = i;
              }
              s.compact(i);
              m.compact(i);
            } else if (o.kind === 'snapshot') {
              const index = Math.max(snapIndex, m.lastIndex()) + o.ahead;
              term = Math.max(term, o.term);
              s.applySnapshot({
                data: new Uint8Array(),
                metadata: {
                  index,
                  term,
                  confState: {
                    voters: [1n],
                    learners: [],
                    votersOutgoing: [],
                    learnersNext: [],
                    autoLeave: false,
                  },
                },
              });
              snapIndex = index;
              m.offset = index;
              m.offsetTerm = term;
              m.ents = [];
            } else {
              const lo = m.offset + 1 + o.lo;
              const hi = Math.min(lo + o.span, m.lastIndex() + 1);
              if (m.ents.length === 0) {
                expect(() => s.entries(m.offset + 1, m.offset + 1)).toThrow(UnavailableError);
                continue;
              }
              if (lo >= hi) continue;
              const got = s.entries(lo, hi, o.maxSize);
              const want = m.entries(lo, hi, o.maxSize);
              expect(got.map((e) => [e.index, e.term, e.type, e.data.length])).toEqual(
                want.map((e) => [e.index, e.term, e.type, e.data.length]),
              );
              for (let i = 0; i < got.length; i++) {
                expect(Buffer.from(got[i]!.data).equals(Buffer.from(want[i]!.data))).toBe(true);
                handedOut.push({ view: got[i]!.data, copy: got[i]!.data.slice() });
              }
            }
            expect([s.firstIndex(), s.lastIndex()]).toEqual([m.offset + 1, m.lastIndex()]);
            expect(s.term(m.offset)).toBe(m.offsetTerm);
            for (let i = m.offset + 1; i <= m.lastIndex(); i++)
              expect(s.term(i)).toBe(m.ents[i - m.offset - 1]!.term);
            expect(() => s.term(m.lastIndex() + 1)).toThrow(UnavailableError);
            if (m.offset > 0) expect(() => s.term(m.offset - 1)).toThrow(CompactedError);
          }
          for (const h of handedOut) expect(Buffer.from(h.view).equals(Buffer.from(h.copy))).toBe(true);
        }),
        { numRuns: 300 },
      );
    },
  );

  it('releases the chunks of compacted entries', () => {
    const s = new MemoryStorage();
    const ents: Entry[] = [];
    for (let i = 1; i <= 2000; i++)
      ents.push({ index: i, term: 1, type: EntryType.Normal, data: payload(300) });
    s.append(ents);
    const chunks = (st: MemoryStorage) =>
      (st as unknown as { log: { chunks: Uint8Array[] } }).log.chunks.length;
    const before = chunks(s);
    expect(before).toBeGreaterThanOrEqual(9); // 600 000 bytes in 64 KiB chunks
    s.createSnapshot(1990, undefined, new Uint8Array());
    s.compact(1990);
    expect(chunks(s)).toBe(1);
    expect(s.entries(1991, 2001).map((e) => e.data)).toEqual(ents.slice(1990).map((e) => e.data));
  });

  it('keeps only the blocks of numbers that hold entries', () => {
    const s = storageWithBlocks(100);
    const blocks = (st: MemoryStorage) =>
      (st as unknown as { log: { blocks: Float64Array[] } }).log.blocks.length;
    const ents: Entry[] = [];
    for (let i = 1; i <= 1000; i++)
      ents.push({ index: i, term: 2, type: EntryType.Normal, data: payload(10) });
    s.append(ents);
    expect(blocks(s)).toBe(10);
    s.createSnapshot(450, undefined, new Uint8Array());
    s.compact(450); // entries 451..1000 stay: slots 50..599 of the first kept block onwards
    expect(blocks(s)).toBe(6);
    // A conflicting suffix from index 701 on: 250 entries stay (slots 50..299, blocks 0..2), the new
    // one takes slot 300 in a new block 3.
    s.append([{ index: 701, term: 3, type: EntryType.Normal, data: payload(5) }]);
    expect(blocks(s)).toBe(4);
    expect(s.lastIndex()).toBe(701);
    expect(s.term(700)).toBe(2);
    expect(s.term(701)).toBe(3);
    s.createSnapshot(701, undefined, new Uint8Array());
    s.compact(701);
    expect(blocks(s)).toBe(0);
    s.append([{ index: 702, term: 3, type: EntryType.Normal, data: payload(5) }]);
    expect(blocks(s)).toBe(1);
    expect(s.entries(702, 703).map((e) => [e.index, e.term, e.data.length])).toEqual([[702, 3, 5]]);
  });
});
