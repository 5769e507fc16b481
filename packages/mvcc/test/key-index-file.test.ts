/**
 * The saved key index (StoreOptions.indexFile) on real files, on both disk engines:
 *
 * - A clean close saves it and the next open loads it instead of scanning: the reopened store is
 *   identical (index, revisions, hashes, leases) to one rebuilt by a scan, and the file is gone.
 * - It is never trusted when it does not describe the backend: a torn, damaged or stale file (an image
 *   older than the data, as a crash after a later start would leave if the file were not removed),
 *   and a crash (kill -9) after an open that loaded it, all fall back to the scan with the right state.
 * - The codec alone: images round-trip, every truncation and a flipped byte are refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BTree } from '../src/btree.js';
import { type EngineName, type IndexEvent, KeyIndexFileError, MvccStore, openBackend } from '../src/index.js';
import { decodeKeyIndexImage, encodeKeyIndexImage, type KeyIndexImage } from '../src/key-index-file.js';
import { applyEntry, entryAt } from './fixtures/workload.mjs';
import { buildPackage, pkgDir } from './helpers/compiled.js';
import { DISK_ENGINES, removeTempDirs, tempDir } from './helpers/engines.js';
import { fingerprint } from './helpers/fingerprint.js';

afterAll(removeTempDirs);

beforeAll(buildPackage, 120_000);

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** Opens a store on `path` with the index file inside it; returns it with how its index was loaded. */
async function openWithIndex(engine: EngineName, path: string) {
  const events: IndexEvent[] = [];
  const store = await MvccStore.open(await openBackend({ engine, path }), {
    batchInterval: 1,
    batchLimit: 16,
    indexFile: join(path, 'kv-key-index'),
    onIndexEvent: (e) => events.push(e),
  });
  const load = events.find((e) => e.op === 'load');
  return { store, load: load as Extract<IndexEvent, { op: 'load' }>, events };
}

/** The state a scan rebuilds (no index file involved). */
async function scanned(engine: EngineName, path: string) {
  const store = await MvccStore.open(await openBackend({ engine, path }));
  const fp = await fingerprint(store);
  const hash = await store.hash();
  await store.close();
  return { fp, hash };
}

async function applyRange(store: MvccStore, seed: number, from: number, to: number) {
  for (let i = from; i <= to; i++) await applyEntry(store, entryAt(seed, i));
}

describe('key index image codec', () => {
  const image = (n: number): KeyIndexImage => {
    const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(6, '0')}\u00ff`);
    return {
      consistentIndex: 2 ** 40 + 7,
      compactRev: 3,
      lastKeyRev: 2 ** 33,
      keys,
      histories: keys.map((_, i) => (i % 3 === 0 ? [2, i + 1, 2, i + 1, 0, 2 ** 33, 1] : i + 1)),
      leases: new Map([
        [keys[1]!, -5n],
        [keys[n - 1]!, 2n ** 62n],
      ]),
    };
  };

  test('round-trips large numbers, latin1 keys and signed lease ids', () => {
    const img = image(500);
    expect(decodeKeyIndexImage(encodeKeyIndexImage(img))).toEqual(img);
  });

  test('every truncation and any flipped byte is refused', () => {
    const bytes = encodeKeyIndexImage(image(40));
    for (let len = 0; len < bytes.length; len++)
      expect(() => decodeKeyIndexImage(bytes.subarray(0, len))).toThrow(KeyIndexFileError);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const damaged = bytes.slice();
        damaged[at]! ^= x;
        expect(() => decodeKeyIndexImage(damaged)).toThrow(KeyIndexFileError);
      }),
    );
  });

  test('BTree.fromSorted builds a tree equal to inserting one by one, and it keeps working', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ maxLength: 6 }), { maxLength: 5000 }), (raw) => {
        const keys = [...raw].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const tree = BTree.fromSorted(
          keys,
          keys.map((_, i) => i),
        );
        expect(tree.size).toBe(keys.length);
        const walked: string[] = [];
        tree.forEach({}, (k, v) => {
          expect(v).toBe(keys.indexOf(k));
          walked.push(k);
        });
        expect(walked).toEqual(keys);
        // Writes after a bulk load split full nodes like any grown tree. The new keys start with DEL
        // (0x7f), which fc.string's printable-ASCII keys never contain (a generated "~0" once collided).
        for (let i = 0; i < 300; i++) tree.set(`\x7f${i}`, -i);
        for (const k of keys.slice(0, 100)) tree.delete(k);
        expect(tree.size).toBe(keys.length + 300 - Math.min(100, keys.length));
        expect(tree.get('\x7f299')).toBe(-299);
      }),
      { numRuns: 30 },
    );
  });
});

describe.each(DISK_ENGINES)('saved key index: %s', (engine) => {
  test('a clean close saves it, the next open loads it: same state as a scan, file consumed', async () => {
    for (const seed of [11, 12, 13]) {
      const path = await tempDir(`kix-${engine}`);
      const file = join(path, 'kv-key-index');
      const first = await openWithIndex(engine, path);
      expect(first.load).toMatchObject({ source: 'scan', reason: 'no saved index' });
      await applyRange(first.store, seed, 1, 400);
      const before = await fingerprint(first.store);
      await first.store.close();
      expect(first.events.find((e) => e.op === 'save')).toMatchObject({
        op: 'save',
        keys: before.index.length,
      });
      expect(await exists(file)).toBe(true);

      const again = await openWithIndex(engine, path);
      expect(again.load).toMatchObject({ source: 'file', keys: before.index.length });
      expect(await exists(file)).toBe(false);
      expect(await fingerprint(again.store)).toEqual(before);
      // It keeps working like a scanned store: more writes, then a reopen by scan agrees.
      await applyRange(again.store, seed, 401, 600);
      const after = await fingerprint(again.store);
      const hash = await again.store.hash();
      await again.store.close({ saveIndex: false });
      expect(await exists(file)).toBe(false);
      const byScan = await scanned(engine, path);
      expect(byScan.fp).toEqual(after);
      expect(byScan.hash).toBe(hash);
    }
  });

  test('a torn, damaged or stale file is not used; the scan gives the right state', async () => {
    const seed = 21;
    const path = await tempDir(`kix-bad-${engine}`);
    const file = join(path, 'kv-key-index');
    const s1 = await openWithIndex(engine, path);
    await applyRange(s1.store, seed, 1, 300);
    await s1.store.close();
    const stale = join(path, '..', `${path.split('/').pop()}-stale-index`);
    await copyFile(file, stale);
    const good = await readFile(file);

    // Torn: only part of the file (as if the rename had happened before the data reached the disk).
    await truncate(file, Math.floor(good.length / 2));
    let r = await openWithIndex(engine, path);
    expect(r.load.source).toBe('scan');
    expect(r.load.reason).toMatch(/torn/);
    await r.store.close();

    // Damaged: one byte changed inside the body.
    const damaged = Buffer.from(await readFile(file));
    damaged[Math.floor(damaged.length / 2)]! ^= 0x40;
    await writeFile(file, damaged);
    r = await openWithIndex(engine, path);
    expect(r.load.source).toBe('scan');
    expect(r.load.reason).toMatch(/checksum/);
    // More writes, closed without saving: the image copied above is now older than the data.
    await applyRange(r.store, seed, 301, 420);
    const truth = await fingerprint(r.store);
    await r.store.close({ saveIndex: false });

    await copyFile(stale, file);
    r = await openWithIndex(engine, path);
    expect(r.load.source).toBe('scan');
    expect(r.load.reason).toMatch(/stale/);
    expect(await fingerprint(r.store)).toEqual(truth);
    await r.store.close({ saveIndex: false });

    // A leftover temporary from a save cut short is ignored and the next save replaces it.
    await writeFile(`${file}.tmp`, good.subarray(0, 100));
    r = await openWithIndex(engine, path);
    expect(r.load).toMatchObject({ source: 'scan', reason: 'no saved index' });
    await r.store.close();
    r = await openWithIndex(engine, path);
    expect(r.load.source).toBe('file');
    expect(await fingerprint(r.store)).toEqual(truth);
    await r.store.close();
    await rm(stale, { force: true });
  });

  test('kill -9 after an open that loaded the file: the next open scans and matches the reference', async () => {
    const seed = 31 + (engine === 'level' ? 0 : 1);
    const path = await tempDir(`kix-crash-${engine}`);
    const file = join(path, 'kv-key-index');
    const s = await openWithIndex(engine, path);
    await applyRange(s.store, seed, 1, 200);
    await s.store.close();
    const image = await readFile(file);

    const child = await runChild(engine, path, seed, file);
    expect(child.source).toBe('file');
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise((r) => child.proc.once('exit', r));
    child.proc.kill('SIGKILL');
    await exited;
    expect(await exists(file)).toBe(false);

    const recovered = await openWithIndex(engine, path);
    expect(recovered.load).toMatchObject({ source: 'scan', reason: 'no saved index' });
    const ci = recovered.store.consistentIndex();
    expect(ci).toBeGreaterThan(250);
    const ref = await MvccStore.open(await openBackend({ engine: 'memory' }));
    await applyRange(ref, seed, 1, ci);
    const expected = await fingerprint(ref);
    expect(await fingerprint(recovered.store)).toEqual(expected);
    await recovered.store.close({ saveIndex: false });

    // The image from before the crashed run, put back: older than the data, so not used.
    await writeFile(file, image);
    const again = await openWithIndex(engine, path);
    expect(again.load.source).toBe('scan');
    expect(again.load.reason).toMatch(/stale/);
    expect(await fingerprint(again.store)).toEqual(expected);
    await again.store.close();
    await ref.close();
  });
});

/** Starts the crash child with the index file; resolves once it has written 50 entries. */
function runChild(
  engine: EngineName,
  path: string,
  seed: number,
  indexFile: string,
): Promise<{ proc: ChildProcess; source: string }> {
  const entry = pathToFileURL(join(pkgDir, 'dist/index.js')).href;
  const proc = spawn(
    process.execPath,
    [join(pkgDir, 'test/fixtures/crash-child.mjs'), entry, engine, path, String(seed), indexFile],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    proc.stdout!.once('data', (d: Buffer) => resolve({ proc, source: d.toString().trim().split(' ')[1]! }));
  });
}
