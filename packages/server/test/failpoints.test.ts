// Test-only failpoints and fault modes (src/failpoints.ts): the parser, the no-op default, and the real
// binary crashing at an armed failpoint and recovering on restart without it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/test-ports.mjs';
import {
  FAILPOINTS,
  FailpointConfigError,
  failpoint,
  faultEnabled,
  parseFailpoints,
  parseFaults,
  testFaultsEnabled,
  withTestBackend,
  withTestFaults,
} from '../src/failpoints.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
const dirs: string[] = [];
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('KV_FAILPOINTS / KV_FAULT parsing', () => {
  it('accepts name=[P%]panic terms separated by ";"', () => {
    const armed = parseFailpoints(' raftBeforeSave=5%panic; afterCommit=panic ;');
    expect([...armed]).toEqual([
      ['raftBeforeSave', { probability: 0.05 }],
      ['afterCommit', { probability: 1 }],
    ]);
    expect(parseFailpoints('').size).toBe(0);
  });

  it('refuses unknown names and other terms with a typed error', () => {
    expect(() => parseFailpoints('nope=panic')).toThrow(FailpointConfigError);
    expect(() => parseFailpoints('nope=panic')).toThrow(/unknown failpoint/);
    expect(() => parseFailpoints('raftBeforeSave=sleep(10)')).toThrow(/not name=\[P%\]panic/);
    expect(() => parseFailpoints('raftBeforeSave=0%panic')).toThrow(/0 < P <= 100/);
    expect(() => parseFailpoints('raftBeforeSave')).toThrow(/unknown failpoint/);
  });

  it('parses fault modes and refuses unknown ones', () => {
    expect([...parseFaults('ack-before-fsync, stale-follower-read')]).toEqual([
      'ack-before-fsync',
      'stale-follower-read',
    ]);
    expect(() => parseFaults('lose-everything')).toThrow(/unknown fault mode/);
  });

  it('without the variables everything is inert', () => {
    expect(testFaultsEnabled).toEqual({ failpoints: [], faults: [] });
    for (const name of FAILPOINTS) failpoint(name); // would kill this process if armed
    expect(faultEnabled('ack-before-fsync')).toBe(false);
    expect(faultEnabled('stale-follower-read')).toBe(false);
    const wal = {
      save: async () => {},
      saveSnapshot: async () => {},
      releaseTo: async () => {},
      close: async () => {},
    };
    const save = wal.save;
    expect(withTestFaults(wal)).toBe(wal);
    expect(wal.save).toBe(save);
    const backend = { batch: () => ({ commit: async () => {} }) };
    const batch = backend.batch;
    expect(withTestBackend(backend)).toBe(backend);
    expect(backend.batch).toBe(batch);
  });
});

/** A free port below the ephemeral range (a port-0 port can be taken by an outgoing dial first). */
function startBin(dataDir: string, client: number, peer: number, env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      ...['--name', 'fp', '--data-dir', dataDir],
      ...['--listen-client-urls', `http://127.0.0.1:${client}`],
      ...['--advertise-client-urls', `http://127.0.0.1:${client}`],
      ...['--listen-peer-urls', `http://127.0.0.1:${peer}`],
      ...['--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`],
      ...['--initial-cluster', `fp=http://127.0.0.1:${peer}`],
    ],
    { env: { ...process.env, ...env } },
  );
  procs.push(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((ok) =>
    child.on('exit', (code, signal) => ok({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

const etcdctl = (client: number, ...args: string[]) =>
  spawnSync('etcdctl', [`--endpoints=127.0.0.1:${client}`, '--command-timeout=2s', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
  });

describe('kv-server with KV_FAILPOINTS', () => {
  it('crashes at the armed failpoint, and restarts cleanly without it on the same data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-failpoint-'));
    dirs.push(dir);
    const [client, peer] = [await freePort(), await freePort()];
    // A new member saves its first Ready (the bootstrap conf changes) right away: the point is reached
    // without any client.
    const armed = startBin(dir, client, peer, { KV_FAILPOINTS: 'raftAfterSave=panic' });
    const ended = await armed.exited;
    expect(ended.signal, armed.stderr()).toBe('SIGKILL');
    expect(armed.stderr()).toContain('"msg":"failpoint panic","failpoint":"raftAfterSave"');
    expect(armed.stderr()).toContain('TEST ONLY: failpoints or fault modes enabled');

    const clean = startBin(dir, client, peer, {});
    let put = etcdctl(client, 'put', 'fp-key', 'v1');
    for (let i = 0; i < 100 && put.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      put = etcdctl(client, 'put', 'fp-key', 'v1');
    }
    expect(put.stdout, clean.stderr()).toContain('OK');
    expect(etcdctl(client, 'get', 'fp-key', '--print-value-only').stdout.trim()).toBe('v1');
    expect(clean.stderr()).not.toContain('TEST ONLY');
    clean.child.kill('SIGTERM');
    expect((await clean.exited).code).toBe(0);
  }, 60_000);

  it('with KV_FAILPOINTS_FROM=serving, fires only once the member serves clients', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-failpoint-'));
    dirs.push(dir);
    const [client, peer] = [await freePort(), await freePort()];
    // Startup saves the bootstrap entries to the WAL: not armed yet, so the member comes up.
    const armed = startBin(dir, client, peer, {
      KV_FAILPOINTS: 'raftAfterSave=panic',
      KV_FAILPOINTS_FROM: 'serving',
    });
    let status = etcdctl(client, 'endpoint', 'status');
    for (let i = 0; i < 100 && status.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = etcdctl(client, 'endpoint', 'status');
    }
    expect(status.status, armed.stderr()).toBe(0);
    // etcdctl ran with spawnSync, which blocks this event loop: let the member's log lines arrive.
    for (let i = 0; i < 50 && !armed.stderr().includes('ready to serve'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(armed.stderr()).toContain('ready to serve client requests');
    expect(armed.stderr()).not.toContain('failpoint panic');
    // The first write's WAL save crashes it.
    etcdctl(client, 'put', 'fp-key', 'v1');
    expect((await armed.exited).signal, armed.stderr()).toBe('SIGKILL');
    expect(armed.stderr()).toContain('"msg":"failpoint panic","failpoint":"raftAfterSave"');
  }, 60_000);

  it('refuses a malformed KV_FAILPOINTS, KV_FAILPOINTS_FROM or KV_FAULT before starting', () => {
    for (const env of [
      { KV_FAILPOINTS: 'raftBeforeSave=sometimes' },
      { KV_FAILPOINTS_FROM: 'later' },
      { KV_FAULT: 'bogus' },
    ]) {
      const r = spawnSync(process.execPath, [MAIN, '--data-dir', join(tmpdir(), 'never-created')], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^kv-server: KV_(FAILPOINTS|FAILPOINTS_FROM|FAULT): /);
    }
  });
});
