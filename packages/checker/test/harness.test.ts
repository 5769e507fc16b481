// The short CI version of the robustness runs: the harness (tools/robustness/run.mjs) against a real
// kv-server and a real Debian etcd, each ~20 s under SIGKILL + restart, must produce a checked history
// with an ok verdict; and a run whose history is falsified on purpose must fail with a violation.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function harness(args: string[]): Promise<{ code: number | null; out: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-robustness-test-'));
  dirs.push(dir);
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, ['tools/robustness/run.mjs', ...args, '--out', dir], { cwd: REPO });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', fail);
    p.on('close', (code) => ok({ code, out, dir }));
  });
}

const verdictOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8'));

describe('robustness harness', () => {
  for (const target of ['kv', 'etcd']) {
    it(`${target}: 20 s of traffic under SIGKILL + restart is linearizable, watches complete`, async () => {
      const r = await harness(['--target', target, '--seed', '11', '--duration', '20', '--nemesis', 'kill']);
      expect(r.code, r.out).toBe(0);
      const v = verdictOf(r.dir);
      expect(v.verdict).toBe('ok');
      expect(v.operations.total).toBeGreaterThan(0);
      expect(v.watches.events).toBeGreaterThan(0);
      expect(v.faults.length).toBeGreaterThan(0);
      expect(existsSync(join(r.dir, 'history.json'))).toBe(true);
      expect(readFileSync(join(r.dir, 'server-m0.log'), 'utf8')).toContain('SIGKILL');
    }, 180_000);
  }

  it('a falsified history (one stale read) makes the run fail with a violation and a timeline', async () => {
    const r = await harness(['--target', 'kv', '--seed', '12', '--duration', '3', '--corrupt', 'stale-read']);
    expect(r.code, r.out).toBe(1);
    expect(verdictOf(r.dir).verdict).toBe('violation');
    expect(readFileSync(join(r.dir, 'violation.svg'), 'utf8')).toContain('<svg');
  }, 120_000);

  it('a falsified watch (one event dropped) makes the run fail with a missing-event problem', async () => {
    const r = await harness([
      '--target',
      'kv',
      '--seed',
      '13',
      '--duration',
      '3',
      '--corrupt',
      'drop-watch-event',
    ]);
    expect(r.code, r.out).toBe(1);
    const v = verdictOf(r.dir);
    expect(v.linearizability.verdict).toBe('ok');
    expect(v.watches.problems.map((p: { kind: string }) => p.kind)).toContain('missing-event');
  }, 120_000);

  it('refuses unknown flags values', async () => {
    const r = await harness(['--nemesis', 'partition']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('--nemesis must be one of none|kill|pause');
  });
});
