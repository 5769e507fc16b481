// Measures the memory the bbolt writer needs to stream a large database: RSS growth while planning and
// writing `--mib` MiB of etcd-like key-bucket entries (17-byte revision keys, ~--value-byte values) to
// a sink that drops them, as the Maintenance.Snapshot stream does with a slow reader. Usage:
//   node tools/bench/bbolt-snapshot-rss.mjs [--mib 1024] [--value 200] [--out /path/file.db]
// Build @kv/mvcc first. Prints one JSON line.
import { createWriteStream } from 'node:fs';
import { planBbolt } from '../../packages/mvcc/dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const mib = Number(arg('mib', '1024'));
const valueBytes = Number(arg('value', '200'));
const out = arg('out', undefined);

const count = Math.ceil((mib * 1024 * 1024) / (17 + valueBytes + 16));
const value = new Uint8Array(valueBytes).fill(0x61);

/** Key i as etcd's revision key: main(8 BE) '_' sub(8 BE). */
function revKey(i) {
  const k = new Uint8Array(17);
  const v = new DataView(k.buffer);
  v.setUint32(4, i + 1);
  k[8] = 0x5f;
  return k;
}

function* rows() {
  for (let i = 0; i < count; i++) yield [revKey(i), value];
}

const mb = (n) => Math.round((n / 1024 / 1024) * 10) / 10;
globalThis.gc?.();
const base = process.memoryUsage().rss;
let peak = base;
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
const t0 = Date.now();
const plan = await planBbolt([
  { name: 'key', entries: rows },
  { name: 'meta', entries: () => [] },
]);
const planned = Date.now();
const afterPlan = process.memoryUsage();
const sink = out ? createWriteStream(out) : undefined;
let bytes = 0;
for await (const page of plan.pages()) {
  bytes += page.length;
  if (sink && !sink.write(page)) await new Promise((r) => sink.once('drain', r));
}
if (sink) await new Promise((r) => sink.end(r));
clearInterval(timer);
peak = Math.max(peak, process.memoryUsage().rss);
console.log(
  JSON.stringify({
    entries: count,
    dbMiB: mb(bytes),
    planMs: planned - t0,
    writeMs: Date.now() - planned,
    rssBaseMiB: mb(base),
    rssPeakMiB: mb(peak),
    rssGrowthMiB: mb(peak - base),
    afterPlanRssMiB: mb(afterPlan.rss),
    afterPlanHeapMiB: mb(afterPlan.heapUsed),
    afterPlanExternalMiB: mb(afterPlan.arrayBuffers),
  }),
);
