/**
 * The bbolt reader and writer: writer -> reader round trips for random buckets (nested, inline, large
 * values, many keys), files the real bbolt accepts (etcdctl snapshot status runs bbolt's tx.Check on
 * them), and a reader that ends every corrupt input — random bytes, truncations, bit flips — in a
 * BboltFormatError, never a crash or a hang.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type BboltBucket,
  type BboltBucketSource,
  type BboltEntry,
  BboltFormatError,
  BboltReader,
  BboltWriteError,
  Crc32c,
  collectBbolt,
  compareBboltKeys,
  planBbolt,
} from '../src/index.js';
import { enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

/** A bucket tree in plain form: sorted entries and nested buckets. */
interface Tree {
  entries: BboltEntry[];
  buckets: Map<string, Tree>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function toSource(name: string, t: Tree): BboltBucketSource {
  return {
    name,
    entries: () => t.entries,
    buckets: [...t.buckets].map(([n, sub]) => toSource(n, sub)),
  };
}

/** Reads a bucket back into a Tree (values and nested buckets). */
function readTree(b: BboltBucket): Tree {
  const out: Tree = { entries: [], buckets: new Map() };
  for (const item of b.items()) {
    if (item.bucket) out.buckets.set(new TextDecoder().decode(item.key), readTree(item.bucket));
    else out.entries.push([item.key.slice(), item.value.slice()]);
  }
  return out;
}

function plain(t: Tree): unknown {
  return {
    entries: t.entries.map(([k, v]) => [hex(k), hex(v)]),
    buckets: Object.fromEntries([...t.buckets].map(([n, s]) => [n, plain(s)])),
  };
}

/** Sorted, de-duplicated entries whose keys avoid the given bucket names. */
const entriesArb = (maxValue: number, maxLength: number) =>
  fc
    .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: maxValue })), {
      maxLength,
    })
    .map((rows) => {
      const byKey = new Map(rows.map(([k, v]) => [hex(k), [k, v] as BboltEntry]));
      return [...byKey.values()].sort((a, b) => compareBboltKeys(a[0], b[0]));
    });

const treeArb: fc.Arbitrary<Tree> = fc.letrec((tie) => ({
  tree: fc
    .record({
      entries: entriesArb(600, 60),
      buckets: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant([] as [string, Tree][]),
        fc.array(fc.tuple(fc.stringMatching(/^[A-Z][a-z]{0,6}$/), tie('tree') as fc.Arbitrary<Tree>), {
          maxLength: 3,
        }),
      ),
    })
    .map(({ entries, buckets }) => {
      // Bucket names start upper-case; drop entries that would collide with one.
      const names = new Map(buckets);
      const taken = new Set([...names.keys()].map((n) => hex(enc(n))));
      return { entries: entries.filter(([k]) => !taken.has(hex(k))), buckets: names };
    }),
})).tree;

describe('bbolt writer -> reader', () => {
  it('round-trips random bucket trees (nested, inline, multi-page)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), treeArb), { maxLength: 5 }),
        async (tops) => {
          const tree: Tree = { entries: [], buckets: new Map(tops) };
          const bytes = await collectBbolt([...tree.buckets].map(([n, t]) => toSource(n, t)));
          const db = BboltReader.fromBytes(bytes);
          expect(db.size).toBe(bytes.length);
          expect(plain(readTree(db.root))).toEqual(plain(tree));
          expect(db.freePages()).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('writes many keys (branch levels) and values larger than a page (overflow pages)', async () => {
    const many: BboltEntry[] = [];
    for (let i = 0; i < 30_000; i++) many.push([enc(`key-${String(i).padStart(6, '0')}`), enc(`value-${i}`)]);
    const big: BboltEntry[] = [
      [enc('a'), new Uint8Array(5 * 4096 + 7).fill(1)],
      [enc('b'), new Uint8Array(100_000).map((_, i) => i & 0xff)],
      [enc('c'), enc('small')],
    ];
    const plan = await planBbolt([
      { name: 'many', entries: () => many },
      { name: 'big', entries: () => big },
    ]);
    const bytes = await collectBbolt([
      { name: 'many', entries: () => many },
      { name: 'big', entries: () => big },
    ]);
    expect(bytes.length).toBe(plan.size);
    // One reused page buffer, each page copied at once, makes the same file.
    const copied = new Uint8Array(plan.size);
    let at = 0;
    for await (const page of plan.pages({ reuseBuffer: true })) {
      copied.set(page, at);
      at += page.length;
    }
    expect(Buffer.from(copied).equals(Buffer.from(bytes))).toBe(true);
    const db = BboltReader.fromBytes(bytes);
    const got = [...(db.bucket('many')?.entries() ?? [])];
    expect(got.length).toBe(many.length);
    expect(got.every(([k, v], i) => hex(k) === hex(many[i]![0]) && hex(v) === hex(many[i]![1]))).toBe(true);
    expect([...(db.bucket('big')?.entries() ?? [])].map(([k, v]) => [hex(k), hex(v)])).toEqual(
      big.map(([k, v]) => [hex(k), hex(v)]),
    );
    // Branch pages: the root of 'many' is not a leaf.
    const root = db.bucket('many')!.rootPage;
    expect(db.page(root).flags).toBe(0x01);
  });

  it('reads a file through positional reads as it reads bytes', async () => {
    const dir = await tempDir('bbolt');
    const path = join(dir, 'f.db');
    const rows: BboltEntry[] = [];
    for (let i = 0; i < 2000; i++)
      rows.push([enc(`k${String(i).padStart(5, '0')}`), new Uint8Array(i % 300)]);
    writeFileSync(path, await collectBbolt([{ name: 'b', entries: () => rows }]));
    const db = BboltReader.open(path);
    try {
      expect([...(db.bucket('b')?.entries() ?? [])].length).toBe(2000);
      expect(db.bucketNames()).toEqual(['b']);
    } finally {
      db.close();
    }
  });

  it('refuses unsorted, duplicate and empty keys, and sources that change between passes', async () => {
    const v = enc('v');
    await expect(
      collectBbolt([
        {
          name: 'b',
          entries: () => [
            [enc('z'), v],
            [enc('a'), v],
          ],
        },
      ]),
    ).rejects.toThrow(BboltWriteError);
    await expect(
      collectBbolt([
        {
          name: 'b',
          entries: () => [
            [enc('a'), v],
            [enc('a'), v],
          ],
        },
      ]),
    ).rejects.toThrow('strictly ascending');
    await expect(collectBbolt([{ name: 'b', entries: () => [[new Uint8Array(0), v]] }])).rejects.toThrow(
      'key of 0 bytes',
    );
    await expect(collectBbolt([{ name: 'b' }, { name: 'b' }])).rejects.toThrow(BboltWriteError);
    let calls = 0;
    const rows = (n: number): BboltEntry[] =>
      Array.from({ length: n }, (_, i) => [enc(`k${1000 + i}`), new Uint8Array(500)]);
    const plan = await planBbolt([{ name: 'b', entries: () => rows(++calls === 1 ? 40 : 41) }]);
    await expect(async () => {
      for await (const _ of plan.pages());
    }).rejects.toThrow('changed between planning and writing');
  });
});

describe('bbolt files written by kv, checked by the real bbolt', () => {
  it('etcdctl snapshot status (bbolt tx.Check) accepts them and counts what the reader counts', async () => {
    const dir = await tempDir('bbolt-etcdctl');
    const many: BboltEntry[] = [];
    for (let i = 0; i < 5000; i++)
      many.push([enc(`key-${String(i).padStart(6, '0')}`), new Uint8Array(i % 97)]);
    const sources: BboltBucketSource[] = [
      { name: 'big', entries: () => [[enc('x'), new Uint8Array(70_000).fill(3)]] },
      { name: 'empty' },
      { name: 'many', entries: () => many },
      {
        name: 'nest',
        entries: () => [[enc('a'), enc('1')]],
        buckets: [
          { name: 'inner', entries: () => [[enc('q'), enc('r')]] },
          { name: 'wide', entries: () => many },
        ],
      },
    ];
    const bytes = await collectBbolt(sources);
    const path = join(dir, 'kv.db');
    writeFileSync(path, bytes);
    const out = execFileSync('etcdctl', ['snapshot', 'status', path, '-w', 'json'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    }).toString();
    const st = JSON.parse(out) as { hash: number; totalKey: number; totalSize: number };
    // etcdctl's status: CRC-32C of bucket names, keys and values; entries (nested buckets count as one).
    const db = BboltReader.fromBytes(bytes);
    const crc = new Crc32c();
    let total = 0;
    for (const top of db.root.items()) {
      crc.update(top.key);
      for (const item of top.bucket!.items()) {
        crc.update(item.key);
        if (item.value) crc.update(item.value);
        total++;
      }
    }
    expect(st).toEqual({ hash: crc.digest(), revision: 0, totalKey: total, totalSize: bytes.length });
    expect(total).toBe(1 + 0 + 5000 + 3);
  });
});

/** Walks every bucket of a file (nested too), as a restore would. */
function walkAll(bytes: Uint8Array): number {
  const db = BboltReader.fromBytes(bytes);
  let n = 0;
  const walk = (b: BboltBucket) => {
    for (const item of b.items()) {
      n++;
      if (item.bucket) walk(item.bucket);
    }
  };
  walk(db.root);
  db.freePages();
  return n;
}

/** Runs `fn`; only a BboltFormatError may escape. */
function onlyFormatErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof BboltFormatError)) throw err;
  }
}

describe('bbolt reader on corrupt input', () => {
  let sample: Uint8Array;
  const sampleDb = async () => {
    if (sample) return sample;
    const rows: BboltEntry[] = [];
    for (let i = 0; i < 600; i++)
      rows.push([enc(`k${String(i).padStart(4, '0')}`), new Uint8Array(i % 40).fill(i)]);
    sample = await collectBbolt([
      { name: 'a', entries: () => rows },
      {
        name: 'b',
        entries: () => [[enc('x'), new Uint8Array(9000)]],
        buckets: [{ name: 'in', entries: () => rows.slice(0, 3) }],
      },
      { name: 'c' },
    ]);
    return sample;
  };

  it('random bytes end in BboltFormatError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), (bytes) => {
        expect(() => walkAll(bytes)).toThrow(BboltFormatError);
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes behind valid meta pages never crash or hang', async () => {
    const good = await sampleDb();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 * 4 }), (tail) => {
        const bytes = new Uint8Array(good.length);
        bytes.set(good.subarray(0, 2 * 4096));
        for (let at = 2 * 4096; at < bytes.length; at += tail.length)
          bytes.set(tail.subarray(0, bytes.length - at), at);
        onlyFormatErrors(() => walkAll(bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('truncations end in BboltFormatError', async () => {
    const good = await sampleDb();
    expect(walkAll(good)).toBe(3 + 600 + 2 + 3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), (len) => {
        expect(() => walkAll(good.subarray(0, len))).toThrow(BboltFormatError);
      }),
      { numRuns: 300 },
    );
  });

  it('bit flips never crash or hang (and a flipped meta falls back to the other meta)', async () => {
    const good = await sampleDb();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 7 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (flips) => {
          const bytes = good.slice();
          for (const [at, bit] of flips) bytes[at]! ^= 1 << bit;
          onlyFormatErrors(() => walkAll(bytes));
        },
      ),
      { numRuns: 500 },
    );
    const meta0Flipped = good.slice();
    meta0Flipped[16 + 20]! ^= 0x01; // root pgid of meta 0: its checksum no longer matches
    expect(walkAll(meta0Flipped)).toBe(walkAll(good));
  });

  it('names the problem', async () => {
    const good = await sampleDb();
    expect(() => BboltReader.fromBytes(new Uint8Array(100))).toThrow(
      /not a bbolt database: meta page 0 invalid magic/,
    );
    expect(() => BboltReader.fromBytes(good.subarray(0, good.length - 4096))).toThrow(/file truncated/);
    const cyclic = good.slice();
    // Make the first branch element of bucket a's root point at the root itself.
    const db = BboltReader.fromBytes(good);
    const root = db.bucket('a')!.rootPage;
    const view = new DataView(cyclic.buffer);
    view.setUint32(root * 4096 + 16 + 8, root, true);
    expect(() => walkAll(cyclic)).toThrow(`page ${root}: referenced twice in bucket "a"`);
  });
  it('refuses a bucket nested in itself (a page that is the root of two buckets)', async () => {
    const rows: BboltEntry[] = Array.from({ length: 100 }, (_, i) => [
      enc(`r${1000 + i}`),
      new Uint8Array(20),
    ]);
    const bytes = await collectBbolt([{ name: 'a', buckets: [{ name: 'n', entries: () => rows }] }]);
    const db = BboltReader.fromBytes(bytes);
    const aRoot = db.bucket('a')!.rootPage;
    // a's root is a leaf with one element, the bucket n: point n's bucket header at a's own root.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const elem = aRoot * 4096 + 16;
    const valueAt = elem + view.getUint32(elem + 4, true) + view.getUint32(elem + 8, true);
    view.setUint32(valueAt, aRoot, true);
    expect(() => walkAll(bytes)).toThrow(`page ${aRoot}: root of two buckets`);
  });
});
