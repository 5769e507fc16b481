/**
 * WalOptions.readInWorker: Wal.open reading and checking segments on a worker thread must be
 * indistinguishable from the in-thread open: the same contents, the same torn-tail repair and log
 * event, the same error classes, messages and offsets. Each case copies one WAL directory twice and
 * opens one copy each way. Imports the built package (dist/): the worker runs dist/open-read-worker.js,
 * which the test task builds first (turbo: test depends on build).
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CrcMismatchError,
  nodeFileSystem,
  SnapshotNotFoundError,
  Wal,
  WalCorruptionError,
  WalError,
  WalIOError,
  type WalSnapshotMarker,
} from '../dist/index.js';
import { entries, meta, tempDir } from './helpers.js';

const opts = { noSync: true, segmentSize: 64 * 1024 };

type Marker = WalSnapshotMarker | ((m: WalSnapshotMarker[], committed: number) => Promise<WalSnapshotMarker>);

/** A WAL of several segments: 600 entries in 60 batches, snapshot markers at 100 and 400. */
async function buildWal(): Promise<string> {
  const dir = join(tempDir(), 'wal');
  const wal = await Wal.create(dir, meta, opts);
  for (let i = 0; i < 60; i++) {
    await wal.save(
      { term: 1 + (i >> 4), vote: 3n, commit: i * 10 },
      entries(i * 10 + 1, 10, 1 + (i >> 4), 200),
    );
    if (i === 10) await wal.saveSnapshot({ index: 100, term: 1 });
    if (i === 40) await wal.saveSnapshot({ index: 400, term: 3 });
  }
  expect(wal.segmentFiles().length).toBeGreaterThanOrEqual(3);
  await wal.close();
  return dir;
}

interface Outcome {
  result?: { hardState: unknown; metadata: number[]; entries: [number, number, number, string][] };
  error?: { name: string; message: string; offset?: number; ctor: unknown };
  logs: unknown[];
}

async function openOnce(src: string, marker: Marker, readInWorker: boolean): Promise<Outcome> {
  const dir = `${src}-${readInWorker ? 'worker' : 'thread'}`;
  rmSync(dir, { recursive: true, force: true });
  cpSync(src, dir, { recursive: true });
  const logs: unknown[] = [];
  const logger = (level: string, message: string, fields?: Record<string, unknown>) =>
    logs.push([level, message, { ...fields, file: String(fields?.file ?? '').replace(dir, 'DIR') }]);
  try {
    const wal = await Wal.open(dir, marker, { ...opts, readInWorker, logger });
    const c = wal.takeAll();
    // Appending after the open works on both (the tail offset and chain crc came back right).
    const last = c.entries.at(-1)?.index ?? 0;
    await wal.save({ term: 9, vote: 3n, commit: last + 1 }, entries(last + 1, 1, 9, 10));
    await wal.close();
    const reopened = await Wal.open(dir, marker, opts);
    expect((await reopened.readAll()).entries.at(-1)!.index).toBe(last + 1);
    await reopened.close();
    return {
      result: {
        hardState: c.hardState,
        metadata: [...c.metadata],
        entries: c.entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
      },
      logs,
    };
  } catch (err) {
    const e = err as WalCorruptionError;
    return {
      error: { name: e.name, message: e.message.replace(dir, 'DIR'), offset: e.offset, ctor: e.constructor },
      logs,
    };
  }
}

async function both(src: string, marker: Marker): Promise<Outcome> {
  const thread = await openOnce(src, marker, false);
  const worker = await openOnce(src, marker, true);
  expect(worker).toEqual(thread);
  return thread;
}

const newestCommitted: Marker = async (markers, committed) =>
  markers.filter((m) => m.index <= committed).at(-1) ?? { index: 0, term: 0 };

describe('Wal.open with readInWorker', () => {
  it('returns what the in-thread open returns, with a marker chosen by the opener or given', async () => {
    const dir = await buildWal();
    const chosen = await both(dir, newestCommitted);
    expect(chosen.result!.entries[0]![0]).toBe(401);
    expect(chosen.result!.entries).toHaveLength(200);
    expect(chosen.result!.hardState).toEqual({ term: 4, vote: 3n, commit: 590 });
    const fixed = await both(dir, { index: 100, term: 1 });
    expect(fixed.result!.entries).toHaveLength(500);
    expect((await both(dir, { index: 0, term: 0 })).result!.entries).toHaveLength(600);
    // The worker really read them: its entries arrive packed in the one buffer it transferred, where
    // the in-thread open's view the buffers of the segments they were read from.
    const buffersOf = async (readInWorker: boolean) => {
      const wal = await Wal.open(dir, { index: 0, term: 0 }, { ...opts, readInWorker });
      const buffers = new Set(wal.takeAll().entries.map((e) => e.data.buffer));
      await wal.close();
      return buffers.size;
    };
    expect(await buffersOf(true)).toBe(1);
    expect(await buffersOf(false)).toBeGreaterThan(1);
  });

  it('repairs a torn tail the same way and logs the same event', async () => {
    const dir = await buildWal();
    const last = readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort()
      .at(-1)!;
    const bytes = readFileSync(join(dir, last));
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    // Part of a record header where the next record would start (records are 8-byte aligned): a write
    // the crash cut short.
    end = Math.ceil(end / 8) * 8;
    bytes.set([0x30, 0, 0, 0, 2], end);
    writeFileSync(join(dir, last), bytes);
    const out = await both(dir, newestCommitted);
    expect(out.logs).toContainEqual([
      'warn',
      'wal: dropping torn tail',
      expect.objectContaining({ clearedBytes: 5 }),
    ]);
    expect(out.result!.entries.at(-1)![0]).toBe(600);
  });

  it("throws the same errors: corruption in an older segment, a missing marker, an unreadable segment, the opener's own", async () => {
    const dir = await buildWal();
    const names = readdirSync(dir)
      .filter((n) => n.endsWith('.wal'))
      .sort();
    const damaged = `${dir}-damaged`;
    cpSync(dir, damaged, { recursive: true });
    const mid = readFileSync(join(damaged, names[1]!));
    mid[5000]! ^= 0x40;
    writeFileSync(join(damaged, names[1]!), mid);
    const corrupt = await both(damaged, newestCommitted);
    expect([WalCorruptionError, CrcMismatchError]).toContain(corrupt.error!.ctor);
    expect(corrupt.error!.message).toMatch(/corrupted record in DIR\/.* at offset \d+/);

    const missing = await both(dir, { index: 250, term: 1 });
    expect(missing.error!.ctor).toBe(SnapshotNotFoundError);

    const unreadable = `${dir}-unreadable`;
    cpSync(dir, unreadable, { recursive: true });
    rmSync(join(unreadable, names[2]!));
    mkdirSync(join(unreadable, names[2]!)); // readFile: EISDIR
    const io = await both(unreadable, newestCommitted);
    expect(io.error!.ctor).toBe(WalIOError);
    expect(io.error!.message).toMatch(/wal: read .* failed: .*EISDIR/);

    const refused = await both(dir, async () => {
      throw new WalError('no snapshot file could be loaded');
    });
    expect(refused.error!.message).toBe('no snapshot file could be loaded');
  });

  it("is refused together with a file system of the caller's", async () => {
    const dir = await buildWal();
    await expect(
      Wal.open(dir, { index: 0, term: 0 }, { readInWorker: true, fs: nodeFileSystem }),
    ).rejects.toThrow(/readInWorker reads with the default file system/);
    // Nothing was left locked by the refusal.
    const wal = await Wal.open(dir, { index: 0, term: 0 }, { ...opts, readInWorker: true });
    expect(wal.takeAll().entries).toHaveLength(600);
    await wal.close();
  });
});

describe('the read worker after it has answered', () => {
  // It lingers, idle, before it is terminated (WORKER_LINGER_MS: an isolate disposed of right after
  // its hot loops can abort Node 20 from a compile thread), and meanwhile must not hold the process.
  const LINGER_SOURCE = `
    const { parentPort } = require('node:worker_threads');
    parentPort.on('message', (m) => parentPort.postMessage('pong:' + m));
    parentPort.postMessage('ready');`;

  it('stays alive until the linger ends, then exits', async () => {
    const { Worker } = await import('node:worker_threads');
    const { terminateAfter } = await import('../dist/worker-open-read.js');
    const worker = new Worker(LINGER_SOURCE, { eval: true });
    await new Promise((r) => worker.once('message', r));
    const t0 = Date.now();
    const exited = terminateAfter(worker, 400);
    await new Promise((r) => setTimeout(r, 150));
    worker.postMessage('still there?');
    expect(await new Promise((r) => worker.once('message', r))).toBe('pong:still there?');
    await exited;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it('does not keep its process alive while it lingers', async () => {
    const { spawnSync } = await import('node:child_process');
    const module = new URL('../dist/worker-open-read.js', import.meta.url).href;
    const script = `
      import { Worker } from 'node:worker_threads';
      import { terminateAfter } from ${JSON.stringify(module)};
      const worker = new Worker(${JSON.stringify(LINGER_SOURCE)}, { eval: true });
      worker.once('message', () => { void terminateAfter(worker, 60000); console.log('lingering'); });`;
    const file = join(tempDir(), 'linger.mjs');
    writeFileSync(file, script);
    const t0 = Date.now();
    const child = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stdout.trim()).toBe('lingering');
    expect(child.status).toBe(0);
    // Far below the 60 s linger: the worker did not hold the process open.
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
