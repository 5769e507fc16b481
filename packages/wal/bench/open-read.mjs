// How long opening an existing WAL and taking its contents takes, the three ways a restart can do it:
// `readAll` (entry data copied out of the segment buffers), `takeAll` (no copy) and `takeAll` with
// `readInWorker`. Each run opens a fresh copy of WAL_DIR (a member's `member/wal`, e.g. one left by a
// SIGKILL after a load) at its newest snapshot marker. README "Reading at open on a worker thread".
// Run (after a build), each way in its own process so every run is cold as at a restart:
//   for m in read take worker; do node bench/open-read.mjs WAL_DIR $m; done
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Wal } from '../dist/index.js';

const [src, mode = 'take'] = process.argv.slice(2);
if (!src || !['read', 'take', 'worker'].includes(mode)) {
  console.error('usage: node bench/open-read.mjs WAL_DIR [read|take|worker]');
  process.exit(2);
}
const root = mkdtempSync(join(tmpdir(), 'kv-wal-open-'));
const dir = join(root, 'wal');
cpSync(src, dir, { recursive: true });
try {
  const started = performance.now();
  const wal = await Wal.open(dir, async (markers) => markers[markers.length - 1], {
    readInWorker: mode === 'worker',
  });
  const { entries } = mode === 'read' ? await wal.readAll() : wal.takeAll();
  const ms = performance.now() - started;
  await wal.close();
  console.log(`${mode}: ${ms.toFixed(0)} ms, ${entries.length} entries`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
