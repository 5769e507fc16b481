// Benchmarks per engine: puts/s, point range/s, 1000-key prefix range/s, memory per key and open time.
// Usage: node --expose-gc bench/bench.mjs [keys=200000] [engines=memory,level,lmdb]
// Runs against the compiled package (pnpm build first; the `bench` script does).

import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MvccStore, openBackend } from '../dist/index.js';

const N = Number(process.argv[2] ?? 200_000);
const ENGINES = (process.argv[3] ?? 'memory,level,lmdb').split(',');
const VALUE = new Uint8Array(128).fill(0x61);
const enc = new TextEncoder();
// 1000 keys per prefix so a prefix range returns exactly 1000 keys.
const keyOf = (i) =>
  enc.encode(`p${String(Math.floor(i / 1000)).padStart(5, '0')}/${String(i % 1000).padStart(3, '0')}`);

const gc = () => globalThis.gc?.();
const heap = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const rate = (n, ms) => Math.round((n / ms) * 1000);

async function drain(it) {
  const out = [];
  for await (const c of it) out.push(c);
  return out;
}

async function benchEngine(engine) {
  const path = engine === 'memory' ? undefined : await mkdtemp(join(tmpdir(), `kv-mvcc-bench-${engine}-`));
  const heap0 = heap();
  let backend = await openBackend({ engine, path });
  let store = await MvccStore.open(backend);
  let t = performance.now();
  for (let i = 0; i < N; i++) await store.put({ key: keyOf(i), value: VALUE }, { index: i + 1 });
  await store.flush();
  const putMs = performance.now() - t;
  const bytesPerKey = (heap() - heap0) / N;

  const POINT = Math.min(N, 100_000);
  t = performance.now();
  for (let i = 0; i < POINT; i++) {
    const r = await store.range({ key: keyOf((i * 7919) % N) });
    if (r.kvs.length !== 1) throw new Error('point range miss');
  }
  const pointMs = performance.now() - t;

  const PREFIX = 300;
  const prefixes = Math.floor(N / 1000);
  t = performance.now();
  for (let i = 0; i < PREFIX; i++) {
    const p = enc.encode(`p${String((i * 31) % prefixes).padStart(5, '0')}/`);
    const end = p.slice();
    end[end.length - 1]++;
    const r = await store.range({ key: p, rangeEnd: end });
    if (r.kvs.length !== 1000) throw new Error(`prefix range returned ${r.kvs.length}`);
  }
  const prefixMs = performance.now() - t;

  // Open time: a restart that rebuilds the key index from the backend.
  let snapshot;
  if (engine === 'memory') snapshot = await drain(backend.snapshot());
  await store.close();
  store = undefined;
  backend = undefined;
  gc();
  t = performance.now();
  backend = await openBackend({ engine, path });
  if (snapshot) await backend.restore(snapshot);
  store = await MvccStore.open(backend);
  const openMs = performance.now() - t;
  if (store.rev() !== N + 1) throw new Error(`reopened at rev ${store.rev()}`);
  const size = await backend.size();
  await store.close();
  if (path) await rm(path, { recursive: true, force: true });
  return {
    engine,
    'puts/s': rate(N, putMs),
    'point range/s': rate(POINT, pointMs),
    '1000-key prefix range/s': rate(PREFIX, prefixMs),
    'JS heap bytes/key': Math.round(bytesPerKey),
    'disk MB': Math.round(size / 1e6),
    // For memory this includes restoring the backend from its snapshot stream.
    'open ms': Math.round(openMs),
  };
}

if (process.env.KV_BENCH_CHILD) {
  // One engine per process, so heap measurements do not see another engine's garbage.
  process.stdout.write(JSON.stringify(await benchEngine(ENGINES[0])));
} else {
  const rows = [];
  for (const engine of ENGINES) {
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', '--max-old-space-size=8192', fileURLToPath(import.meta.url), String(N), engine],
      {
        env: { ...process.env, KV_BENCH_CHILD: '1' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    if (r.status !== 0) throw new Error(`bench of ${engine} failed`);
    rows.push(JSON.parse(r.stdout));
  }
  console.log(`keys=${N} value=128B node=${process.version}`);
  console.table(rows);
}
