// Measures RSS growth while kv streams a Maintenance.Snapshot (etcd-layout bbolt + SHA-256 in 32 KiB
// chunks) from a real engine: fills a fresh backend's key bucket with `--mib` MiB of revisions
// (17-byte keys, `--value`-byte values), then drains openEtcdSnapshot() to nowhere. Usage:
//   node --expose-gc tools/bench/etcd-snapshot-rss.mjs [--engine level] [--mib 256] [--value 256]
//     [--dir reusable-backend-dir] [--gc-every chunks]
// Build @kv/mvcc and @kv/server first. Prints one JSON line.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend, revToBytes } from '../../packages/mvcc/dist/index.js';
import { openEtcdSnapshot } from '../../packages/server/dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const engine = arg('engine', 'level');
const mib = Number(arg('mib', '256'));
const valueBytes = Number(arg('value', '256'));
const count = Math.ceil((mib * 1024 * 1024) / (17 + valueBytes));
// --dir reuses (and keeps) a backend filled by an earlier run with the same --mib and --value.
const reuse = arg('dir', undefined);
const dir = reuse ?? mkdtempSync(join(tmpdir(), 'kv-snap-rss-'));
/** Anonymous RSS in bytes (RSS minus file-backed pages such as LevelDB's mmap'd tables), Linux only. */
const rssAnon = () => {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};
const filledBefore = reuse !== undefined && readdirSync(reuse).length > 0;
const mb = (n) => Math.round((n / 1024 / 1024) * 10) / 10;

try {
  const backend = await openBackend({ engine, path: dir });
  const t0 = Date.now();
  for (let i = filledBefore ? count : 0; i < count; ) {
    const batch = backend.batch();
    for (let j = 0; j < 10_000 && i < count; j++, i++) {
      batch.put('key', revToBytes(i + 1, 0), new Uint8Array(valueBytes).fill(i & 0xff));
    }
    await batch.commit();
  }
  const filled = Date.now();
  globalThis.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const anonBase = rssAnon();
  let anonPeak = anonBase;
  let atPeak = process.memoryUsage();
  const timer = setInterval(() => {
    anonPeak = Math.max(anonPeak, rssAnon());
    const m = process.memoryUsage();
    if (m.rss > peak) {
      peak = m.rss;
      atPeak = m;
    }
  }, 20);
  const snap = await openEtcdSnapshot(backend, { members: [], removed: [] });
  let bytes = 0;
  // --gc-every N forces a full GC every N chunks: what stays is retained memory, not garbage awaiting GC.
  const gcEvery = Number(arg('gc-every', '0'));
  let n = 0;
  for await (const chunk of snap.chunks(32 * 1024)) {
    bytes += chunk.length;
    if (gcEvery && ++n % gcEvery === 0) globalThis.gc?.();
  }
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(
    JSON.stringify({
      engine,
      entries: count,
      streamMiB: mb(bytes),
      fillMs: filled - t0,
      streamMs: Date.now() - filled,
      rssBaseMiB: mb(base),
      rssPeakMiB: mb(peak),
      rssGrowthMiB: mb(peak - base),
      rssAnonGrowthMiB: mb(anonPeak - anonBase),
      atPeakHeapMiB: mb(atPeak.heapUsed),
      atPeakArrayBuffersMiB: mb(atPeak.arrayBuffers),
    }),
  );
  await backend.close();
} finally {
  if (!reuse) rmSync(dir, { recursive: true, force: true });
}
