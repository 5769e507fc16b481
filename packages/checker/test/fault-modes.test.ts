// The checker catches a kv-server that breaks a promise on purpose (KV_FAULT, packages/server/src/
// failpoints.ts), end to end: a short seeded harness run with the fault must report a linearizability
// violation, and the same run (same seed, nemesis and members) without the fault must report none.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  out: string;
  verdict: { verdict: string; faults: string[]; operations: { total: number } };
}

function harness(args: string[]): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-fault-mode-test-'));
  dirs.push(dir);
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, ['tools/robustness/run.mjs', ...args, '--out', dir], { cwd: REPO });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', fail);
    p.on('close', (code) => {
      try {
        ok({ code, out, verdict: JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8')) });
      } catch (e) {
        fail(new Error(`no verdict (exit ${code}): ${String(e)}\n${out}`));
      }
    });
  });
}

describe('fault modes of kv-server are caught by the checker', () => {
  it('ack-before-fsync + SIGKILL loses acknowledged writes: violation; without the fault: ok', async () => {
    const args = ['--target', 'kv', '--seed', '31', '--duration', '6', '--nemesis', 'kill'];
    const [faulty, clean] = await Promise.all([
      harness([...args, '--fault', 'ack-before-fsync']),
      harness(args),
    ]);
    expect(faulty.verdict.faults.length, faulty.out).toBeGreaterThan(0);
    expect(faulty.verdict.verdict, faulty.out).toBe('violation');
    expect(faulty.code).toBe(1);
    expect(clean.verdict.faults.length, clean.out).toBeGreaterThan(0);
    expect(clean.verdict.verdict, clean.out).toBe('ok');
    expect(clean.code).toBe(0);
  }, 180_000);

  it('stale-follower-read + partitions serves stale linearizable reads: violation; without the fault: ok', async () => {
    // Two keys, six clients (two per member) and a 1 s request timeout: the clients of a cut-off member
    // spend less time waiting on writes that cannot commit and more reading. One run after the other:
    // two 3-member clusters at once on a loaded 2-core machine make too few requests to see a stale read.
    const args = [
      ...['--target', 'kv', '--members', '3', '--seed', '32', '--duration', '10', '--nemesis', 'partition'],
      ...['--clients', '6', '--keys', '2', '--timeout-ms', '1000'],
    ];
    const faulty = await harness([...args, '--fault', 'stale-follower-read']);
    expect(faulty.verdict.faults.length, faulty.out).toBeGreaterThan(0);
    expect(faulty.verdict.verdict, faulty.out).toBe('violation');
    expect(faulty.code).toBe(1);
    const clean = await harness(args);
    expect(clean.verdict.faults.length, clean.out).toBeGreaterThan(0);
    expect(clean.verdict.verdict, clean.out).toBe('ok');
    expect(clean.code).toBe(0);
  }, 180_000);
});
