// How long single saves wait around segment cuts: a new WAL, batches of 20 entries of 300 B saved one
// after another with an event-loop turn between saves (as the server's raft loop does), until 2.2
// segments are written. Prints p50/p99 and every save slower than 20 ms with where it happened (in
// segments written). README "Segment cuts".
// Run (after a build): node bench/cut-stall.mjs [SEGMENT_MIB, default 16]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '../dist/index.js';

const seg = Number(process.argv[2] ?? 16) * 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'kv-wal-cut-'));
const wal = await Wal.create(join(root, 'wal'), new Uint8Array(8), { segmentSize: seg });
const data = new Uint8Array(300).fill(7);
const perSave = 20;
const saves = Math.ceil((seg * 2.2) / (perSave * 330));
const lat = [];
let index = 1;
for (let i = 0; i < saves; i++) {
  const entries = [];
  for (let j = 0; j < perSave; j++) entries.push({ index: index++, term: 1, type: 0, data });
  await new Promise((resolve) => setImmediate(resolve));
  const t0 = performance.now();
  await wal.save({ term: 1, vote: 0n, commit: index - 1 }, entries);
  lat.push(performance.now() - t0);
}
await wal.close();
rmSync(root, { recursive: true, force: true });
const sorted = [...lat].sort((a, b) => a - b);
const slow = lat
  .map((ms, i) => [i, ms])
  .filter(([, ms]) => ms > 20)
  .map(([i, ms]) => `${ms.toFixed(0)} ms at ${((i * perSave * 330) / seg).toFixed(2)} segments`);
console.log(
  `segment ${seg >> 20} MiB, ${lat.length} saves: p50 ${sorted[sorted.length >> 1].toFixed(2)} ms, ` +
    `p99 ${sorted[Math.floor(sorted.length * 0.99)].toFixed(2)} ms, max ${sorted.at(-1).toFixed(1)} ms; ` +
    `slower than 20 ms: ${slow.join(', ') || 'none'}`,
);
