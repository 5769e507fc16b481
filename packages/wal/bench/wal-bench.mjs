// WAL throughput: records/s and MB/s for batches of 1, 10 and 100 entries of 256 B, one save (one
// fdatasync) per batch, next to the ceiling measured in the same run: a plain loop appending the same
// bytes to a preallocated file with write + fdatasync (synchronous calls, nothing else).
// Run: pnpm --filter @kv/wal bench   (BENCH_SECONDS=n to change the time per row)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BatchEncoder } from '../dist/record.js';
import { nodeFileSystem, syncFileSystem, Wal, workerFileSystem } from '../dist/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ENTRY = 256;
const root = fs.mkdtempSync(join(tmpdir(), 'kv-wal-bench-'));
const layers = { worker: workerFileSystem, threadpool: nodeFileSystem, sync: syncFileSystem };

function ceiling(batch) {
  const size = 64 * 1024 * 1024;
  const path = join(root, `ceiling-${batch}`);
  const fd = fs.openSync(path, 'w+');
  const zeros = Buffer.alloc(1 << 20);
  for (let p = 0; p < size; p += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, p);
  fs.fsyncSync(fd);
  const buf = Buffer.alloc(batch * ENTRY, 1);
  let off = 0;
  let ops = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    fs.writeSync(fd, buf, 0, buf.length, off);
    fs.fdatasyncSync(fd);
    off = (off + buf.length) % (size - buf.length);
    ops++;
  }
  fs.closeSync(fd);
  fs.rmSync(path);
  return ops / SECONDS;
}

async function walRun(batch, layer) {
  const dir = join(root, `wal-${layer}-${batch}`);
  const wal = await Wal.create(dir, new Uint8Array([1]), { fs: layers[layer] });
  const data = new Uint8Array(ENTRY).fill(2);
  let index = 1;
  let saves = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const entries = [];
    for (let i = 0; i < batch; i++) entries.push({ term: 1, index: index++, type: 0, data });
    await wal.save({ term: 1, vote: 1, commit: index - 1 }, entries);
    saves++;
  }
  h.disable();
  const segments = wal.segmentFiles().length;
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { saves: saves / SECONDS, p99: h.percentile(99) / 1e6, segments };
}

function encodeCost() {
  const enc = new BatchEncoder();
  const data = new Uint8Array(ENTRY).fill(3);
  const n = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i += 100) {
    enc.reset(0);
    for (let j = 0; j < 100; j++) enc.addEntry({ term: 1, index: i + j + 1, type: 0, data });
    enc.addBatchEnd(0);
  }
  const ms = performance.now() - t0;
  return { perRecordUs: (ms * 1000) / n, mbps: (n * ENTRY) / 1e6 / (ms / 1000) };
}

console.log(`@kv/wal bench: ${SECONDS}s per row, ${ENTRY} B entries, files in ${tmpdir()}`);
const enc = encodeCost();
console.log(`framing+crc32c only (no I/O): ${enc.perRecordUs.toFixed(2)} us/record, ${enc.mbps.toFixed(0)} MB/s\n`);
console.log('batch  layer        saves/s  records/s    MB/s  ceiling fsyncs/s  ratio  loop p99 ms  segments');
for (const batch of [1, 10, 100]) {
  const ceil = ceiling(batch);
  for (const layer of Object.keys(layers)) {
    const r = await walRun(batch, layer);
    const records = r.saves * batch;
    console.log(
      [
        String(batch).padStart(5),
        layer.padEnd(11),
        r.saves.toFixed(0).padStart(8),
        records.toFixed(0).padStart(10),
        ((records * ENTRY) / 1e6).toFixed(2).padStart(7),
        ceil.toFixed(0).padStart(17),
        (r.saves / ceil).toFixed(2).padStart(6),
        r.p99.toFixed(2).padStart(12),
        String(r.segments).padStart(9),
      ].join('  '),
    );
  }
}
fs.rmSync(root, { recursive: true, force: true });
