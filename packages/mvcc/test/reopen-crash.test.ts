/**
 * Reopen and crash tests on real files.
 *
 * - Clean reopen: after a random workload with compactions, the rebuilt key index, revisions, compacted
 *   revision, consistent index, hashes and every readable revision are identical.
 * - kill -9: a child process writes as fast as it can and is SIGKILLed at a random moment. The reopened
 *   store must equal a reference store that applied exactly entries 1..consistentIndex (the consistent
 *   index and the data are committed atomically), and replaying the whole log afterwards must skip the
 *   applied entries and converge on the reference state.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type EngineName, MvccStore, openBackend } from '../src/index.js';
import { applyEntry, entryAt } from './fixtures/workload.mjs';
import { stepArb } from './helpers/arbitraries.js';
import { buildPackage, pkgDir } from './helpers/compiled.js';
import { DISK_ENGINES, freshBackend, removeTempDirs, tempDir } from './helpers/engines.js';
import { fingerprint } from './helpers/fingerprint.js';
import { txnReq } from './helpers/requests.js';

afterAll(removeTempDirs);

beforeAll(buildPackage, 120_000);

describe.each(DISK_ENGINES)('reopen: %s', (engine) => {
  test('key index, revisions and hashes come back identical', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 10, maxLength: 60 }), async (steps) => {
        const { backend, path } = await freshBackend(engine);
        const store = await MvccStore.open(backend, { batchInterval: 1, batchLimit: 4 });
        let index = 1;
        for (const step of steps) {
          if (step.kind === 'range' || step.kind === 'reopen') continue;
          try {
            if (step.kind === 'put')
              await store.txn(txnReq({ compare: [], success: [{ put: step.put }], failure: [] }), { index });
            else if (step.kind === 'del')
              await store.txn(txnReq({ compare: [], success: [{ del: step.del }], failure: [] }), { index });
            else if (step.kind === 'txn') await store.txn(txnReq(step.txn), { index });
            else if (step.kind === 'compact') await store.compact(step.rev, { index });
          } catch {
            // Refused requests still count as applied entries.
          }
          index++;
        }
        const before = await fingerprint(store);
        const hash = await store.hash();
        await store.close();
        const again = await MvccStore.open(await openBackend({ engine, path }));
        expect(await fingerprint(again)).toEqual(before);
        expect(await again.hash()).toBe(hash);
        expect(again.consistentIndex()).toBe(index - 1);
        await again.close();
      }),
      { numRuns: 15 },
    );
  });
});

function runChild(engine: EngineName, path: string, seed: number): Promise<ChildProcess> {
  const entry = pathToFileURL(join(pkgDir, 'dist/index.js')).href;
  const child = spawn(
    process.execPath,
    [join(pkgDir, 'test/fixtures/crash-child.mjs'), entry, engine, path, String(seed)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    child.stdout!.once('data', () => resolve(child));
  });
}

async function reference(seed: number, upTo: number): Promise<MvccStore> {
  const store = await MvccStore.open(await openBackend({ engine: 'memory' }));
  for (let i = 1; i <= upTo; i++) await applyEntry(store, entryAt(seed, i));
  return store;
}

describe.each(DISK_ENGINES)('kill -9: %s', (engine) => {
  test.each([1, 2])('crash at a random moment, recover, replay (round %i)', async (round) => {
    const path = await tempDir(`crash-${engine}`);
    const seed = 1000 * round + (engine === 'level' ? 1 : 2);
    let applied = 0;
    // Two crashes in a row: the second run resumes from the recovered state.
    for (const delay of [120 + 70 * round, 90]) {
      const child = await runChild(engine, path, seed);
      await new Promise((r) => setTimeout(r, delay));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const recovered = await MvccStore.open(await openBackend({ engine, path }));
      const ci = recovered.consistentIndex();
      expect(ci).toBeGreaterThan(applied);
      applied = ci;
      const ref = await reference(seed, ci);
      expect(await fingerprint(recovered)).toEqual(await fingerprint(ref));
      await ref.close();
      await recovered.close();
    }
    // WAL replay from the start: entries <= ci are skipped, the rest applied; states converge.
    const recovered = await MvccStore.open(await openBackend({ engine, path }));
    const end = applied + 150;
    let skipped = 0;
    for (let i = 1; i <= end; i++) {
      const r = await applyEntry(recovered, entryAt(seed, i));
      if (r && 'skipped' in r && r.skipped) skipped++;
    }
    expect(skipped).toBeGreaterThan(0);
    const ref = await reference(seed, end);
    expect(await fingerprint(recovered)).toEqual(await fingerprint(ref));
    expect(recovered.consistentIndex()).toBe(end);
    await ref.close();
    await recovered.close();
  });
});
