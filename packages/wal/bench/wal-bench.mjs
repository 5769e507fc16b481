// WAL throughput: records/s and MB/s for batches of 1, 10 and 100 entries of 256 B, one save (one
// fdatasync) per batch, next to the ceiling measured in the same run: a plain loop appending the same
// bytes to a preallocated file with write + fdatasync, nothing else (the better of synchronous calls
// and the callback API in each round).
// Run: pnpm --filter @kv/wal bench   (BENCH_SECONDS=n to change the time per row)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { nodeFileSystem, syncFileSystem, Wal, workerFileSystem } from '../dist/index.js';
import { BatchEncoder } from '../dist/record.js';

// The machine is shared, so rows are measured in interleaved rounds and the median is reported.
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ENTRY = 256;
const root = fs.mkdtempSync(join(tmpdir(), 'kv-wal-bench-'));
const layers = { worker: workerFileSystem, threadpool: nodeFileSystem, sync: syncFileSystem };

/** A preallocated file for the ceiling loop, made once per batch size. */
function openCeiling(batch) {
  const size = 64 * 1024 * 1024;
  const path = join(root, `ceiling-${batch}`);
  const fd = fs.openSync(path, 'w+');
  const zeros = Buffer.alloc(1 << 20);
  for (let p = 0; p < size; p += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, p);
  fs.fsyncSync(fd);
  return { fd, path, size, off: 0, buf: Buffer.alloc(batch * ENTRY, 1) };
}

/** Same loop through the callback API (libuv thread pool), the other way to issue the calls. */
async function ceilingAsync(c) {
  const write = () =>
    new Promise((res, rej) => fs.write(c.fd, c.buf, 0, c.buf.length, c.off, (e) => (e ? rej(e) : res())));
  const sync = () => new Promise((res, rej) => fs.fdatasync(c.fd, (e) => (e ? rej(e) : res())));
  let ops = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    await write();
    await sync();
    c.off = (c.off + c.buf.length) % (c.size - c.buf.length);
    ops++;
  }
  return ops / SECONDS;
}

/** The ceiling: write the batch's bytes and fdatasync, nothing else, synchronous calls. */
function ceiling(c) {
  let ops = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    fs.writeSync(c.fd, c.buf, 0, c.buf.length, c.off);
    fs.fdatasyncSync(c.fd);
    c.off = (c.off + c.buf.length) % (c.size - c.buf.length);
    ops++;
  }
  return ops / SECONDS;
}

async function openWal(batch, layer) {
  const dir = join(root, `wal-${layer}-${batch}`);
  const wal = await Wal.create(dir, new Uint8Array([1]), { fs: layers[layer] });
  return { wal, dir, index: 1 };
}

async function walRun(w, batch) {
  const data = new Uint8Array(ENTRY).fill(2);
  let saves = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const entries = [];
    for (let i = 0; i < batch; i++) entries.push({ term: 1, index: w.index++, type: 0, data });
    await w.wal.save({ term: 1, vote: 1, commit: w.index - 1 }, entries);
    saves++;
    // A server loop yields between Readies (network, timers); do the same so blocking shows up.
    await new Promise((r) => setImmediate(r));
  }
  h.disable();
  return { saves: saves / SECONDS, p99: h.percentile(99) / 1e6 };
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
console.log(
  `framing+crc32c only (no I/O): ${enc.perRecordUs.toFixed(2)} us/record, ${enc.mbps.toFixed(0)} MB/s\n`,
);
console.log(`medians of ${ROUNDS} interleaved rounds`);
console.log('batch  layer        saves/s  records/s    MB/s  ceiling fsyncs/s  ratio  loop p99 ms');
for (const batch of [1, 10, 100]) {
  const ceil = [];
  const runs = Object.fromEntries(Object.keys(layers).map((l) => [l, []]));
  const wals = {};
  for (const layer of Object.keys(layers)) wals[layer] = await openWal(batch, layer);
  const c = openCeiling(batch);
  // Let the preallocation writeback settle before measuring.
  await new Promise((r) => setTimeout(r, 1000));
  for (let round = 0; round < ROUNDS; round++) {
    ceil.push(Math.max(ceiling(c), await ceilingAsync(c)));
    for (const layer of Object.keys(layers)) runs[layer].push(await walRun(wals[layer], batch));
  }
  fs.closeSync(c.fd);
  fs.rmSync(c.path);
  for (const w of Object.values(wals)) {
    await w.wal.close();
    fs.rmSync(w.dir, { recursive: true, force: true });
  }
  const ceilMedian = median(ceil);
  for (const layer of Object.keys(layers)) {
    const saves = median(runs[layer].map((r) => r.saves));
    const p99 = median(runs[layer].map((r) => r.p99));
    const records = saves * batch;
    console.log(
      [
        String(batch).padStart(5),
        layer.padEnd(11),
        saves.toFixed(0).padStart(8),
        records.toFixed(0).padStart(10),
        ((records * ENTRY) / 1e6).toFixed(2).padStart(7),
        ceilMedian.toFixed(0).padStart(17),
        (saves / ceilMedian).toFixed(2).padStart(6),
        p99.toFixed(2).padStart(12),
      ].join('  '),
    );
  }
}
fs.rmSync(root, { recursive: true, force: true });
