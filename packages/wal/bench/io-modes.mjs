// Which way of doing "append + fdatasync" should the WAL use? Measures ops/s and how long the event
// loop is blocked, for: synchronous calls, the fs callback API, fs.promises FileHandle, and a worker
// thread doing synchronous calls. Run: pnpm --filter @kv/wal bench (or node bench/io-modes.mjs).
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const FILE_SIZE = 64 * 1024 * 1024;
const dir = fs.mkdtempSync(join(tmpdir(), 'kv-wal-io-'));

function preallocated(name) {
  const path = join(dir, name);
  const fd = fs.openSync(path, 'w+');
  const zeros = Buffer.alloc(1 << 20);
  for (let p = 0; p < FILE_SIZE; p += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, p);
  fs.fsyncSync(fd);
  return { fd, path };
}

const modes = {
  async sync(fd, buf) {
    let off = 0;
    let ops = 0;
    const end = performance.now() + SECONDS * 1000;
    // Yield between ops like a server loop would, so the lag monitor can observe the blocking.
    while (performance.now() < end) {
      fs.writeSync(fd, buf, 0, buf.length, off);
      fs.fdatasyncSync(fd);
      off = (off + buf.length) % (FILE_SIZE - buf.length);
      ops++;
      await new Promise((r) => setImmediate(r));
    }
    return ops;
  },
  async callback(fd, buf) {
    const write = (off) =>
      new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, off, (e) => (e ? rej(e) : res())));
    const sync = () => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
    let off = 0;
    let ops = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      await write(off);
      await sync();
      off = (off + buf.length) % (FILE_SIZE - buf.length);
      ops++;
    }
    return ops;
  },
  // One call per op: the file is opened O_DSYNC, so each write returns only once its data (and the
  // size metadata needed to read it) is durable, like write + fdatasync, in one thread-pool hop.
  async dsync(_fd, buf, path) {
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_DSYNC);
    const write = (off) =>
      new Promise((res, rej) => fs.write(fd, buf, 0, buf.length, off, (e) => (e ? rej(e) : res())));
    let off = 0;
    let ops = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      await write(off);
      off = (off + buf.length) % (FILE_SIZE - buf.length);
      ops++;
    }
    fs.closeSync(fd);
    return ops;
  },
  async promises(_fd, buf, path) {
    const fh = await fs.promises.open(path, 'r+');
    let off = 0;
    let ops = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      await fh.write(buf, 0, buf.length, off);
      await fh.datasync();
      off = (off + buf.length) % (FILE_SIZE - buf.length);
      ops++;
    }
    await fh.close();
    return ops;
  },
  async worker(fd, buf) {
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      parentPort.on('message', ({ buf, off }) => {
        fs.writeSync(workerData.fd, buf, 0, buf.length, off);
        fs.fdatasyncSync(workerData.fd);
        parentPort.postMessage(buf, [buf.buffer]);
      });`;
    const w = new Worker(src, { eval: true, workerData: { fd } });
    let b = new Uint8Array(buf);
    let off = 0;
    let ops = 0;
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      b = await new Promise((res) => {
        w.once('message', res);
        w.postMessage({ buf: b, off }, [b.buffer]);
      });
      off = (off + buf.length) % (FILE_SIZE - buf.length);
      ops++;
    }
    await w.terminate();
    return ops;
  },
};

console.log(`append+fdatasync, ${SECONDS}s per row, preallocated 64 MiB file in ${tmpdir()}`);
console.log('mode      bytes/op   ops/s   event-loop delay p99 / max (ms)');
for (const bytes of [256, 25_600]) {
  for (const [name, run] of Object.entries(modes)) {
    const { fd, path } = preallocated(`${name}-${bytes}`);
    const buf = Buffer.alloc(bytes, 7);
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const ops = await run(fd, buf, path);
    h.disable();
    fs.closeSync(fd);
    fs.rmSync(path);
    console.log(
      `${name.padEnd(9)} ${String(bytes).padStart(8)} ${(ops / SECONDS).toFixed(0).padStart(7)}   ${(h.percentile(99) / 1e6).toFixed(2)} / ${(h.max / 1e6).toFixed(2)}`,
    );
  }
}
fs.rmSync(dir, { recursive: true, force: true });
