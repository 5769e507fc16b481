// --logger zap --log-outputs with two files: every line lands in both, as zap JSON (level, ts, caller,
// msg), with etcd's lifecycle messages. Runs against etcd too (KV_E2E_TARGET=etcd).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess } from './support/server.js';

let server: ServerProcess;
let dir: string;
let fileA: string;
let fileB: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kv-e2e-logs-'));
  fileA = join(dir, 'a.log');
  fileB = join(dir, 'b.log');
  server = await ServerProcess.start({
    flags: ['--logger', 'zap', '--log-level', 'info', '--log-outputs', `${fileA},${fileB}`],
  });
}, 60_000);
afterAll(async () => {
  await server?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('--log-outputs with two files', () => {
  it('writes the same zap JSON lines to both files and none to stderr', async () => {
    const put = await etcdctl(server.endpoint, ['put', 'k', 'v']);
    expect(put.code, put.stderr).toBe(0);
    await server.stop();
    const a = lines(fileA);
    const b = lines(fileB);
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
    for (const line of a) {
      expect(typeof line.level).toBe('string');
      expect(line.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(line.caller).toMatch(/^[\w./-]+:\d+$/);
      expect(typeof line.msg).toBe('string');
    }
    const msgs = a.map((l) => l.msg);
    expect(msgs).toContain('serving client traffic insecurely; this is strongly discouraged!');
    expect(msgs).toContain('starting an etcd server');
    // Nothing went to the process's own stderr/stdout: the files replace the default output.
    expect(server.log.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
  });
});
