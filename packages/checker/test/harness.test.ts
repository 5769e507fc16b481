// The short CI version of the robustness runs: the harness (tools/robustness/run.mjs) against a real
// kv-server and a real Debian etcd, each ~20 s under SIGKILL + restart (one member) and 15 s under
// partitions + leader transfers (three members), must produce a checked history with an ok verdict; and
// a run whose history is falsified on purpose must fail with a violation.
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
  // kv's and etcd's runs side by side: each is 20 s of wall-clock traffic whatever the machine does, and
  // the verdict does not depend on speed (a slower run checks fewer operations). Saves ~25 s of CI.
  for (const target of ['kv', 'etcd']) {
    it.concurrent(`${target}: 20 s of traffic under SIGKILL + restart is linearizable, watches complete`, async () => {
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

  for (const target of ['kv', 'etcd']) {
    it(`${target}: 3 members, 15 s under partitions and leader transfers is linearizable, watches complete`, async () => {
      const r = await harness([
        ...['--target', target, '--members', '3', '--seed', '21', '--duration', '15'],
        ...['--nemesis', 'partition+leader-transfer'],
      ]);
      expect(r.code, r.out).toBe(0);
      const v = verdictOf(r.dir);
      expect(v.verdict).toBe('ok');
      expect(v.members).toBe(3);
      expect(v.watches.events).toBeGreaterThan(0);
      const faults = v.faults.join('\n');
      expect(faults).toMatch(/isolate|split/);
      expect(faults).toMatch(/move-leader m\d -> m\d: ok/);
      for (const m of [0, 1, 2]) expect(existsSync(join(r.dir, `server-m${m}.log`))).toBe(true);
    }, 180_000);
  }

  it('refuses unknown or impossible flag values', async () => {
    const unknown = await harness(['--nemesis', 'bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain(
      '--nemesis must be one of none|kill|pause|partition|leader-transfer|membership|failpoint',
    );
    const alone = await harness(['--nemesis', 'partition']);
    expect(alone.code).toBe(2);
    expect(alone.out).toContain('--nemesis partition needs --members 3 or more');
    const gofail = await harness(['--target', 'etcd', '--members', '3', '--nemesis', 'failpoint']);
    expect(gofail.code).toBe(2);
    expect(gofail.out).toContain('--nemesis failpoint is kv-only');
    const fault = await harness(['--target', 'etcd', '--fault', 'ack-before-fsync']);
    expect(fault.code).toBe(2);
    expect(fault.out).toContain('--fault is kv-only');
  });
});
