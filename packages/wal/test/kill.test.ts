/**
 * Kill test (issue 4, test 1): a real child process saves batches and prints each acknowledged one;
 * it is SIGKILLed at random moments, many times. After every kill the log must reopen and hold
 * every acknowledged entry, in order, with the right bytes. KILL_ROUNDS raises the round count
 * (the package `soak` script runs hundreds).
 */
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Wal } from '../src/index.js';
import { tempDir } from './helpers.js';

const ROUNDS = Number(process.env.KILL_ROUNDS ?? 40);
const SEGMENT_SIZE = 64 * 1024;
const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const childScript = fileURLToPath(new URL('./fixtures/kill-child.mjs', import.meta.url));
let lib: string;

function payload(index: number): Uint8Array {
  // Every 37th entry is 256 KiB, so a kill can land inside a multi-page write and tear a batch.
  const size = index % 37 === 0 ? 256 * 1024 : 16 + (index % 200);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (index * 31 + i * 7 + 1) & 0xff;
  return out;
}

beforeAll(() => {
  // The child runs the current sources, compiled to a private directory.
  const out = tempDir();
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [
    tsc,
    '-p',
    join(pkgDir, 'tsconfig.build.json'),
    '--outDir',
    out,
    '--declaration',
    'false',
    '--declarationMap',
    'false',
    '--sourceMap',
    'false',
  ]);
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  lib = join(out, 'index.js');
}, 60_000);

/** Runs one child until SIGKILL after `killAfterMs`; returns the highest acknowledged index. */
async function runAndKill(dir: string, killAfterMs: number): Promise<{ maxAck: number; acks: number }> {
  const child = spawn(process.execPath, [childScript, lib, dir, String(SEGMENT_SIZE)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let maxAck = 0;
  let acks = 0;
  let stderr = '';
  let buffered = '';
  let timer: NodeJS.Timeout | undefined;
  const ready = new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const [kind, n] = buffered.slice(0, nl).split(' ');
        buffered = buffered.slice(nl + 1);
        if (kind === 'ready') resolve();
        if (kind === 'ack') {
          const idx = Number(n);
          if (idx <= maxAck) throw new Error(`acks out of order: ${idx} after ${maxAck}`);
          maxAck = idx;
          acks++;
        }
        nl = buffered.indexOf('\n');
      }
    });
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  // 'close', not 'exit': it fires only after stdout is drained, so no ack line is missed.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const early = exited.then((code) => {
    if (timer === undefined) throw new Error(`child exited (${code}) before ready: ${stderr}`);
  });
  await Promise.race([ready, early]);
  timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const code = await exited;
  clearTimeout(timer);
  if (code !== null) throw new Error(`child exited by itself (${code}): ${stderr}`);
  return { maxAck, acks };
}

describe('kill -9 at random moments', () => {
  it(`never loses or reorders an acknowledged batch (${ROUNDS} kills)`, async () => {
    const dir = join(tempDir(), 'wal');
    let everAcked = 0;
    let totalAcks = 0;
    let tornTails = 0;
    const logger = (_level: string, message: string) => {
      if (message.includes('torn tail')) tornTails++;
    };
    for (let round = 0; round < ROUNDS; round++) {
      const { maxAck, acks } = await runAndKill(dir, 5 + Math.floor(Math.random() * 250));
      totalAcks += acks;
      everAcked = Math.max(everAcked, maxAck);
      // Reopen exactly as a restarting server would: from the newest snapshot marker.
      const markers = await Wal.snapshotMarkers(dir);
      const marker = markers[markers.length - 1]!;
      const wal = await Wal.open(dir, marker, { segmentSize: SEGMENT_SIZE, logger });
      const { entries, hardState } = await wal.readAll();
      await wal.close();
      const last = entries.length > 0 ? entries[entries.length - 1]!.index : marker.index;
      expect(last).toBeGreaterThanOrEqual(everAcked);
      expect(marker.index).toBeLessThanOrEqual(everAcked);
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (e.index !== marker.index + 1 + i)
          throw new Error(`round ${round}: entry ${i} has index ${e.index}`);
        if (Buffer.compare(e.data, payload(e.index)) !== 0)
          throw new Error(`round ${round}: entry ${e.index} has wrong bytes`);
      }
      expect(hardState.commit).toBeLessThanOrEqual(last);
      // What survived beyond the acks (a batch written but not yet acknowledged) is allowed, and
      // becomes the baseline: the next child continues after it.
      everAcked = last;
    }
    expect(totalAcks).toBeGreaterThan(ROUNDS); // the children did real work between kills
    console.info(
      `kill test: ${ROUNDS} kills, ${totalAcks} acknowledged saves, ${tornTails} torn tails repaired`,
    );
  }, 600_000);
});
