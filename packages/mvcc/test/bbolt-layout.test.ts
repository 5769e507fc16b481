/**
 * The bbolt writer's page layout, checked page by page from the raw bytes (what bbolt's tx.Check checks,
 * and more): every page between the freelist and the high-water mark belongs to exactly one page of
 * exactly one bucket, leaves hold their keys in order, and each branch element carries the first key
 * and the page id of its child. The writer plans without keeping anything per leaf (it replays the same
 * split rules in both passes), so these cover the cases where the two passes could disagree: overflow
 * leaves, huge keys in branch pages, several branch levels, small and large page sizes. Files with
 * several branch levels and overflow branch pages also go through the real bbolt (`etcdctl snapshot
 * status`).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE,
  BUCKET_LEAF_FLAG,
  compareBytes,
  decodeMeta,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE,
  PAGE_HEADER_SIZE,
  readPageHeader,
  readU64,
  viewOf,
} from '../src/bbolt/format.js';
import {
  type BboltBucketSource,
  type BboltEntry,
  BboltReader,
  BboltWriteError,
  collectBbolt,
  compareBboltKeys,
  planBbolt,
} from '../src/index.js';
import { enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

/** What a structural walk of a file found. */
interface Shape {
  /** Branch levels above the leaves, per non-inline bucket (by path). */
  depth: Map<string, number>;
  /** Branch pages with overflow pages. */
  overflowBranches: number;
  /** Leaf pages with overflow pages. */
  overflowLeaves: number;
}

/**
 * Walks `bytes` from the meta page and throws on any structural fault; returns the tree's shape.
 * Checks: each page id in [3, pgid) is covered once (a page and its overflow), page headers carry their
 * own id, leaf keys ascend across the bucket, and every branch key equals its child's first key.
 */
function checkLayout(bytes: Uint8Array): Shape {
  const meta = decodeMeta(bytes.subarray(PAGE_HEADER_SIZE));
  const ps = meta.pageSize;
  expect(bytes.length).toBe(meta.pgid * ps);
  const owner = new Array<string | undefined>(meta.pgid).fill(undefined);
  const shape: Shape = { depth: new Map(), overflowBranches: 0, overflowLeaves: 0 };
  const claim = (id: number, what: string) => {
    const h = readPageHeader(bytes.subarray(id * ps));
    expect(h.id, `${what}: page ${id} header`).toBe(id);
    for (let p = id; p <= id + h.overflow; p++) {
      expect(owner[p], `page ${p} claimed by ${owner[p]} and ${what}`).toBeUndefined();
      owner[p] = what;
    }
    return { ...h, body: bytes.subarray(id * ps, (id + h.overflow + 1) * ps) };
  };
  /** Walks the subtree at page `id`; returns its first key and depth. */
  const walk = (
    id: number,
    path: string,
    last: { key?: Uint8Array },
  ): { first: Uint8Array; depth: number } => {
    const page = claim(id, path);
    const v = viewOf(page.body);
    if (page.flags === LEAF_PAGE) {
      if (page.overflow > 0) shape.overflowLeaves++;
      let first: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < page.count; i++) {
        const at = PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
        const flags = v.getUint32(at, true);
        const pos = at + v.getUint32(at + 4, true);
        const key = page.body.subarray(pos, pos + v.getUint32(at + 8, true));
        const value = page.body.subarray(pos + key.length, pos + key.length + v.getUint32(at + 12, true));
        if (last.key) expect(compareBytes(last.key, key), `${path}: keys ascend`).toBeLessThan(0);
        last.key = key;
        if (i === 0) first = key;
        if (flags & BUCKET_LEAF_FLAG) {
          const root = readU64(viewOf(value), 0);
          if (root !== 0) bucket(root, `${path}/${Buffer.from(key).toString('hex')}`);
        }
      }
      return { first, depth: 0 };
    }
    expect(page.flags, `${path}: page ${id} type`).toBe(BRANCH_PAGE);
    if (page.overflow > 0) shape.overflowBranches++;
    expect(page.count).toBeGreaterThan(0);
    let first: Uint8Array = new Uint8Array(0);
    let depth = -1;
    for (let i = 0; i < page.count; i++) {
      const at = PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
      const pos = at + v.getUint32(at, true);
      const key = page.body.subarray(pos, pos + v.getUint32(at + 4, true));
      const child = walk(readU64(v, at + 8), path, last);
      expect(compareBytes(key, child.first), `${path}: branch key of page ${id} element ${i}`).toBe(0);
      if (i === 0) first = key;
      if (depth >= 0) expect(child.depth, `${path}: balanced`).toBe(depth - 1);
      depth = child.depth + 1;
    }
    return { first, depth };
  };
  const bucket = (root: number, path: string) => {
    shape.depth.set(path, walk(root, path, {}).depth);
  };
  bucket(meta.root, '');
  for (let p = 3; p < meta.pgid; p++) expect(owner[p], `page ${p} unreachable`).toBeDefined();
  return shape;
}

/** A sorted, duplicate-free bucket of `n` entries with keys of `keyBytes(i)` and values of `valueBytes(i)`. */
function rows(n: number, keyBytes: (i: number) => number, valueBytes: (i: number) => number): BboltEntry[] {
  const out: BboltEntry[] = [];
  for (let i = 0; i < n; i++) {
    const prefix = enc(String(i).padStart(8, '0'));
    const key = new Uint8Array(Math.max(prefix.length, keyBytes(i))).fill(0x6b);
    key.set(prefix);
    out.push([key, new Uint8Array(valueBytes(i)).fill(i & 0xff)]);
  }
  return out;
}

function snapshotStatus(path: string): { totalKey: number; totalSize: number } {
  const out = execFileSync('etcdctl', ['snapshot', 'status', path, '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  }).toString();
  return JSON.parse(out) as { totalKey: number; totalSize: number };
}

describe('bbolt writer page layout', () => {
  it('covers every page once, with branch keys equal to their children`s first keys (random sizes)', async () => {
    const sizeArb = fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 120 }) },
      { weight: 1, arbitrary: fc.integer({ min: 200, max: 6000 }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(512, 1024, 4096),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1200 }), sizeArb, sizeArb, fc.boolean()), {
          minLength: 1,
          maxLength: 4,
        }),
        async (pageSize, specs) => {
          const sources: BboltBucketSource[] = specs.map(([n, keyMax, valueMax, nested], b) => {
            const data = rows(
              n,
              (i) => 8 + ((i * 7919) % (keyMax + 1)),
              (i) => (i * 104729) % (valueMax + 1),
            );
            return {
              name: `b${b}`,
              entries: () => data,
              // Nested buckets sort among the entries (keys start with digits, names with 'n').
              buckets: nested ? [{ name: 'nested', entries: () => data.slice(0, 50) }] : [],
            };
          });
          const bytes = await collectBbolt(sources, { pageSize });
          const plan = await planBbolt(sources, { pageSize });
          expect(bytes.length).toBe(plan.size);
          checkLayout(bytes);
          const db = BboltReader.fromBytes(bytes);
          for (const [b, [n]] of specs.entries()) {
            expect([...(db.bucket(`b${b}`)?.entries() ?? [])].length).toBe(n);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('writes three branch levels and overflow branch pages that the real bbolt accepts', async () => {
    const dir = await tempDir('bbolt-layout');
    // 512-byte pages: a leaf holds ~12 of these items and a branch page ~20 children, so 9 000 keys
    // take three branch levels; 1 KiB keys make every branch page above them overflow.
    const deep = rows(
      9000,
      () => 16,
      (i) => i % 13,
    );
    const wide = rows(
      60,
      () => 1024,
      () => 8,
    );
    const big = rows(
      5,
      () => 8,
      (i) => 1500 * i,
    );
    const sources: BboltBucketSource[] = [
      { name: 'big', entries: () => big },
      { name: 'deep', entries: () => deep },
      { name: 'wide', entries: () => wide },
    ];
    const bytes = await collectBbolt(sources, { pageSize: 512 });
    const shape = checkLayout(bytes);
    expect(shape.depth.get(`/${Buffer.from('deep').toString('hex')}`)).toBeGreaterThanOrEqual(3);
    expect(shape.overflowBranches).toBeGreaterThan(0);
    expect(shape.overflowLeaves).toBeGreaterThan(0);
    const path = join(dir, 'deep.db');
    writeFileSync(path, bytes);
    expect(snapshotStatus(path)).toMatchObject({ totalKey: 9000 + 60 + 5, totalSize: bytes.length });
    const db = BboltReader.fromBytes(bytes);
    const got = [...(db.bucket('deep')?.entries() ?? [])];
    expect(got.length).toBe(deep.length);
    expect(got.every(([k], i) => compareBboltKeys(k, deep[i]![0]) === 0)).toBe(true);
  });

  it('refuses sources that change between passes even when every page count stays the same', async () => {
    const base = rows(
      400,
      () => 17,
      () => 100,
    );
    // One value a byte longer: same leaves and pages (slack in every page), different bytes.
    let calls = 0;
    const grown = () =>
      ++calls === 1 ? base : base.map(([k, v], i): BboltEntry => [k, i === 250 ? new Uint8Array(101) : v]);
    const plan = await planBbolt([{ name: 'b', entries: grown }]);
    await expect(async () => {
      for await (const _ of plan.pages());
    }).rejects.toThrow(BboltWriteError);
    // 30 items a leaf, 14 leaves under one branch page. A key changed in place, same length, still
    // in order: the first key of the branch page (the plan keeps it for the level above) is refused;
    // the first key of a later leaf is not planned, and the file holds what the second pass read.
    const renamed = (index: number) => {
      let n = 0;
      return () =>
        ++n === 1
          ? base
          : base.map(([k, v], i): BboltEntry => {
              if (i !== index) return [k, v];
              const key = k.slice();
              key[key.length - 1] = 0x6c;
              return [key, v];
            });
    };
    const first = await planBbolt([{ name: 'b', entries: renamed(0) }]);
    await expect(async () => {
      for await (const _ of first.pages());
    }).rejects.toThrow('changed between planning and writing');
    const bytes = await collectBbolt([{ name: 'b', entries: renamed(210) }]);
    checkLayout(bytes);
    const got = [...(BboltReader.fromBytes(bytes).bucket('b')?.entries() ?? [])];
    expect(got.length).toBe(400);
    expect(got[210]![0].at(-1)).toBe(0x6c);
  });
});
