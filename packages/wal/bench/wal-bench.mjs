// WAL throughput: records/s and MB/s for batches of 1, 10 and 100 entries of 256 B, one save (one
// fdatasync) per batch, next to the ceiling measured in the same run: a plain loop appending the same
// bytes to a preallocated file with write + fdatasync and nothing else.
//
// The machine is shared and its fsync latency drifts by 10x within seconds, so subjects are not run
// one after another: every round does ONE operation of each subject in turn (ceiling with synchronous
// calls, ceiling with the callback API, then a WAL save through each file-system layer), so all of
// them see the same disk conditions. Throughput is 1 / mean latency.
// Run: pnpm --filter @kv/wal bench   (BENCH_SECONDS=n per batch size, default 8)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFileSystem, syncFileSystem, Wal, workerFileSystem } from '../dist/index.js';
import { BatchEncoder } from '../dist/record.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ENTRY = 256;
const SIZE = 64 * 1024 * 1024;
const root = fs.mkdtempSync(join(tmpdir(), 'kv-wal-bench-'));

function preallocatedFile(name, batch) {
  const path = join(root, name);
  const fd = fs.openSync(path, 'w+');
  const zeros = Buffer.alloc(1 << 20);
  for (let p = 0; p < SIZE; p += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, p);
  fs.fsyncSync(fd);
  return { fd, off: 0, buf: Buffer.alloc(batch * ENTRY, 1) };
}

function advance(c) {
  c.off = (c.off + c.buf.length) % (SIZE - c.buf.length);
}

async function subjects(batch) {
  const syncCeil = preallocatedFile(`ceil-sync-${batch}`, batch);
  const asyncCeil = preallocatedFile(`ceil-async-${batch}`, batch);
  const out = {
    'ceiling (sync calls)': async () => {
      fs.writeSync(syncCeil.fd, syncCeil.buf, 0, syncCeil.buf.length, syncCeil.off);
      fs.fdatasyncSync(syncCeil.fd);
      advance(syncCeil);
    },
    'ceiling (callbacks)': async () => {
      const c = asyncCeil;
      await new Promise((res, rej) =>
        fs.write(c.fd, c.buf, 0, c.buf.length, c.off, (e) => (e ? rej(e) : res())),
      );
      await new Promise((res, rej) => fs.fdatasync(c.fd, (e) => (e ? rej(e) : res())));
      advance(c);
    },
  };
  const wals = [];
  const data = new Uint8Array(ENTRY).fill(2);
  for (const [layer, layerFs] of [
    ['threadpool', nodeFileSystem],
    ['worker', workerFileSystem],
    ['sync', syncFileSystem],
  ]) {
    const wal = await Wal.create(join(root, `wal-${layer}-${batch}`), new Uint8Array([1]), { fs: layerFs });
    wals.push(wal);
    let index = 1;
    out[`wal ${layer}`] = async () => {
      const entries = [];
      for (let i = 0; i < batch; i++) entries.push({ term: 1, index: index++, type: 0, data });
      await wal.save({ term: 1, vote: 1, commit: index - 1 }, entries);
    };
  }
  const close = async () => {
    fs.closeSync(syncCeil.fd);
    fs.closeSync(asyncCeil.fd);
    for (const w of wals) await w.close();
  };
  return { subjects: out, close };
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

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

console.log(`@kv/wal bench: ${ENTRY} B entries, ${SECONDS}s per batch size, files in ${tmpdir()}`);
const enc = encodeCost();
console.log(
  `framing + crc32c only (no I/O): ${enc.perRecordUs.toFixed(2)} us/record, ${enc.mbps.toFixed(0)} MB/s`,
);
console.log('one op of each subject per round; ops/s = 1 / mean latency\n');
console.log('batch  subject                ops/s  records/s    MB/s  vs best ceiling  p50 ms  p99 ms');
for (const batch of [1, 10, 100]) {
  const { subjects: subs, close } = await subjects(batch);
  await new Promise((r) => setTimeout(r, 1000)); // let preallocation writeback settle
  const lat = Object.fromEntries(Object.keys(subs).map((k) => [k, []]));
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (const [name, op] of Object.entries(subs)) {
      const t0 = performance.now();
      await op();
      lat[name].push(performance.now() - t0);
    }
  }
  const stats = {};
  for (const [name, xs] of Object.entries(lat)) {
    xs.sort((a, b) => a - b);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    stats[name] = { ops: 1000 / mean, p50: pct(xs, 50), p99: pct(xs, 99) };
  }
  const best = Math.max(stats['ceiling (sync calls)'].ops, stats['ceiling (callbacks)'].ops);
  for (const [name, s] of Object.entries(stats)) {
    const records = s.ops * batch;
    console.log(
      [
        String(batch).padStart(5),
        name.padEnd(20),
        s.ops.toFixed(0).padStart(7),
        records.toFixed(0).padStart(9),
        ((records * ENTRY) / 1e6).toFixed(2).padStart(7),
        (s.ops / best).toFixed(2).padStart(15),
        s.p50.toFixed(2).padStart(6),
        s.p99.toFixed(2).padStart(7),
      ].join('  '),
    );
  }
  await close();
}
fs.rmSync(root, { recursive: true, force: true });
