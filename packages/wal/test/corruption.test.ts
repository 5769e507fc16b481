/**
 * Corruption sweep (issue 4, test 2): damage a small log at every byte offset and check the WAL
 * either returns a clean prefix of whole batches (tail damage) or throws WalCorruptionError naming
 * the file and offset (damage before the last batch) -- and never returns wrong data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { allZero, dirtyEnd } from '../src/decoder.js';
import { Wal, WalCorruptionError, type WalEntry, type WalHardState } from '../src/index.js';
import { entries, meta, tempDir } from './helpers.js';

const opts = { noSync: true, segmentSize: 4096 };
const BATCHES = 6;

interface Batch {
  entries: WalEntry[];
  state: WalHardState;
}

const batches: Batch[] = [];
let next = 1;
for (let b = 0; b < BATCHES; b++) {
  const n = (b % 3) + 1;
  batches.push({ entries: entries(next, n, 1, 20 + b * 9), state: { term: 1, vote: 1n, commit: next - 1 } });
  next += n;
}

let pristine: Uint8Array;
let segmentPath: string;

beforeAll(async () => {
  const dir = join(tempDir(), 'wal');
  const wal = await Wal.create(dir, meta, opts);
  for (const b of batches) await wal.save(b.state, b.entries);
  await wal.close();
  segmentPath = join(dir, wal.segmentFiles()[0]!);
  pristine = new Uint8Array(readFileSync(segmentPath));
});

/** Writes `bytes` as the segment of a fresh WAL copy and opens it. */
async function openDamaged(bytes: Uint8Array): Promise<{ k: number } | { error: unknown }> {
  const dir = join(tempDir(), 'wal');
  const wal = await Wal.create(dir, meta, opts);
  await wal.close();
  writeFileSync(join(dir, '0000000000000000-0000000000000000.wal'), bytes);
  try {
    const w = await Wal.open(dir, { index: 0, term: 0 }, opts);
    const got = await w.readAll();
    await w.close();
    return { k: prefixLength(got.entries, got.hardState) };
  } catch (error) {
    return { error };
  }
}

/** How many whole batches `got` is; fails the test if it is not exactly a prefix of them. */
function prefixLength(got: WalEntry[], state: WalHardState): number {
  for (let k = 0; k <= BATCHES; k++) {
    const want = batches.slice(0, k).flatMap((b) => b.entries);
    const wantState = k === 0 ? { term: 0, vote: 0n, commit: 0 } : batches[k - 1]!.state;
    if (got.length === want.length) {
      expect(got).toEqual(want);
      expect(state).toEqual(wantState);
      return k;
    }
  }
  throw new Error(`recovered ${got.length} entries: not a prefix of whole batches`);
}

function dataEnd(buf: Uint8Array): number {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return end;
}

describe('corruption sweep', () => {
  // batchEnds[k] = smallest truncation length that still recovers k batches.
  const batchEnds: number[] = [];

  it('truncation at every byte offset recovers exactly the whole batches before the cut', async () => {
    const end = dataEnd(pristine) + 16;
    let prevK = -1;
    for (let t = 0; t <= end; t++) {
      const r = await openDamaged(pristine.subarray(0, t));
      if ('error' in r) {
        // Only a cut inside the segment's own header batch (impossible after create's atomic
        // rename) may fail, and it must be the corruption error.
        expect(r.error).toBeInstanceOf(WalCorruptionError);
        expect(prevK).toBe(-1);
        continue;
      }
      expect(r.k).toBeGreaterThanOrEqual(Math.max(prevK, 0));
      expect(r.k - Math.max(prevK, 0)).toBeLessThanOrEqual(1);
      if (r.k > prevK) batchEnds[r.k] = t;
      prevK = r.k;
    }
    expect(prevK).toBe(BATCHES);
    for (let k = 0; k <= BATCHES; k++) expect(batchEnds[k]).toBeGreaterThan(0);
  });

  it('a flipped byte anywhere is either a clean prefix (last batch) or a corruption error naming the offset', async () => {
    expect(batchEnds.length).toBe(BATCHES + 1);
    const lastBatchStart = batchEnds[BATCHES - 1]!;
    const end = dataEnd(pristine) + 64;
    let errors = 0;
    for (let off = 0; off < end; off++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bytes = new Uint8Array(pristine);
        bytes[off]! ^= mask;
        const r = await openDamaged(bytes);
        if ('error' in r) {
          expect(r.error).toBeInstanceOf(WalCorruptionError);
          const e = r.error as WalCorruptionError;
          expect(e.file).toMatch(/0000000000000000-0000000000000000\.wal$/);
          expect(e.offset).toBeLessThanOrEqual(off);
          errors++;
        } else if (off < lastBatchStart) {
          throw new Error(
            `flip at ${off} (before the last batch) was not reported: recovered ${r.k} batches`,
          );
        } else {
          // Damage in the last batch may look like a torn write; the prefix check ran in openDamaged.
          expect(r.k).toBeGreaterThanOrEqual(off < batchEnds[BATCHES]! ? BATCHES - 1 : BATCHES);
        }
      }
    }
    expect(errors).toBeGreaterThan(0);
  }, 120_000);

  it('zeroing a whole record in the middle (lost sector) is an error, not a silent truncation', async () => {
    const bytes = new Uint8Array(pristine);
    bytes.fill(0, batchEnds[2]!, batchEnds[3]!);
    const r = await openDamaged(bytes);
    expect('error' in r && r.error).toBeInstanceOf(WalCorruptionError);
    expect((r as { error: WalCorruptionError }).error.offset).toBe(batchEnds[2]);
  });

  it('a repaired torn tail is zeroed, so later appends are never mixed with stale bytes', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, opts);
    await wal.close();
    // Last batch half-written: keep its first half, as if the process died mid-write.
    const torn = new Uint8Array(pristine);
    const cut = batchEnds[BATCHES - 1]! + ((batchEnds[BATCHES]! - batchEnds[BATCHES - 1]!) >> 1);
    torn.fill(0, cut);
    writeFileSync(join(dir, '0000000000000000-0000000000000000.wal'), torn);
    const w = await Wal.open(dir, { index: 0, term: 0 }, opts);
    const have = (await w.readAll()).entries;
    expect(have).toEqual(batches.slice(0, BATCHES - 1).flatMap((b) => b.entries));
    const lastIndex = have[have.length - 1]!.index;
    await w.save(undefined, entries(lastIndex + 1, 1, 2, 8)); // shorter than the torn batch
    await w.close();
    const after = new Uint8Array(readFileSync(join(dir, '0000000000000000-0000000000000000.wal')));
    expect(dataEnd(after)).toBeLessThan(cut);
    const w2 = await Wal.open(dir, { index: 0, term: 0 }, opts);
    expect((await w2.readAll()).entries).toEqual([...have, ...entries(lastIndex + 1, 1, 2, 8)]);
    await w2.close();
  });

  it('damage in an older segment is always an error; a missing segment breaks the chain', async () => {
    const dir = join(tempDir(), 'wal');
    const wal = await Wal.create(dir, meta, opts);
    for (let i = 0; i < 60; i++) await wal.save(undefined, entries(i * 4 + 1, 4, 1, 60));
    const files = wal.segmentFiles();
    await wal.close();
    expect(files.length).toBeGreaterThan(3);
    // Cut the tail of a middle segment: in a non-final segment that is corruption.
    const mid = join(dir, files[1]!);
    const orig = readFileSync(mid);
    writeFileSync(mid, orig.subarray(0, dataEnd(orig) - 10));
    await expect(Wal.open(dir, { index: 0, term: 0 }, opts)).rejects.toBeInstanceOf(WalCorruptionError);
    writeFileSync(mid, orig);
    // Swap in another segment's bytes under this name: the crc chain no longer links up.
    writeFileSync(mid, readFileSync(join(dir, files[2]!)));
    await expect(Wal.open(dir, { index: 0, term: 0 }, opts)).rejects.toBeInstanceOf(WalCorruptionError);
  });
});

describe('the zero tail of a large segment (native chunked compare)', () => {
  const MiB = 1024 * 1024;
  // Offsets around the compare's 1 MiB chunks, measured from an unaligned start.
  const start = 3;
  const spots = [0, 1, 63, 64, 65, MiB - 1, MiB, MiB + 1, 2 * MiB - 1, 2 * MiB, 3 * MiB - 5];

  it('allZero notices one non-zero byte anywhere in the range and nothing outside it', () => {
    const buf = new Uint8Array(3 * MiB);
    expect(allZero(buf, start, buf.length)).toBe(true);
    expect(allZero(buf, start, start)).toBe(true);
    for (const s of spots) {
      buf[start + s] = 0x40;
      expect(allZero(buf, start, buf.length), `byte at ${start + s}`).toBe(false);
      expect(allZero(buf, start + s + 1, buf.length)).toBe(true);
      expect(allZero(buf, start, start + s)).toBe(true);
      buf[start + s] = 0;
    }
  });

  it('dirtyEnd finds the last non-zero byte across chunks, or `from` when the rest is zero', () => {
    const buf = new Uint8Array(3 * MiB);
    expect(dirtyEnd(buf, start)).toBe(start);
    for (const s of spots) {
      buf[start + s] = 1;
      expect(dirtyEnd(buf, start), `byte at ${start + s}`).toBe(start + s + 1);
      expect(dirtyEnd(buf, start + s + 1)).toBe(start + s + 1);
    }
  });

  it('a stray byte deep in a preallocated 4 MiB tail is noticed on open and cleared', async () => {
    const big = { noSync: true, segmentSize: 4 * MiB };
    for (const at of [MiB + 17, 4 * MiB - 1]) {
      const dir = join(tempDir(), 'wal');
      const wal = await Wal.create(dir, meta, big);
      for (const b of batches) await wal.save(b.state, b.entries);
      await wal.close();
      const path = join(dir, wal.segmentFiles()[0]!);
      const bytes = new Uint8Array(readFileSync(path));
      expect(bytes.length).toBe(4 * MiB);
      bytes[at] = 0x5a;
      writeFileSync(path, bytes);
      const logged: Array<Record<string, unknown>> = [];
      const w = await Wal.open(
        dir,
        { index: 0, term: 0 },
        { ...big, logger: (_l, _m, f) => logged.push(f ?? {}) },
      );
      expect((await w.readAll()).entries).toEqual(batches.flatMap((b) => b.entries));
      await w.close();
      expect(logged).toEqual([expect.objectContaining({ reason: 'data after an empty header' })]);
      const { offset, clearedBytes } = logged[0] as { offset: number; clearedBytes: number };
      expect(offset + clearedBytes).toBe(at + 1);
      expect(new Uint8Array(readFileSync(path))[at]).toBe(0);
    }
  });
});
