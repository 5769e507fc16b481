import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../tools/test-ports.mjs';
import { b, call, connect, s } from './helpers.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

interface Proc {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

/** Starts the kv-server binary with etcd's flags; resolves once it logs it is ready. */
async function startBin(dataDir: string, port: number, peer: number): Promise<Proc> {
  const child = spawn(process.execPath, [
    MAIN,
    '--name',
    'n1',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `http://127.0.0.1:${port}`,
    '--advertise-client-urls',
    `http://127.0.0.1:${port}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-cluster',
    `n1=http://127.0.0.1:${peer}`,
    '--initial-cluster-token',
    'proc-test',
    '--initial-cluster-state',
    'new',
  ]);
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${lines.join('\n')}`)), 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
      if (lines.some((l) => l.includes('serving client traffic insecurely'))) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${lines.join('\n')}`)));
  });
  return { child, lines, exited };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('kv-server binary', () => {
  it('refuses --initial-cluster-state existing without a data dir, creating nothing (as etcd does)', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'kv-proc-'));
    dirs.push(parent);
    const dataDir = join(parent, 'new.etcd');
    const peer = `http://127.0.0.1:${await freePort()}`;
    const r = spawnSync(process.execPath, [
      MAIN,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${await freePort()}`,
      '--advertise-client-urls',
      'http://127.0.0.1:2379',
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `default=${peer}`,
      '--initial-cluster-state',
      'existing',
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toContain(
      'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  it("logs etcd's lifecycle messages as JSON and stops gracefully on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kv-proc-'));
    dirs.push(dataDir);
    const p = await startBin(dataDir, await freePort(), await freePort());
    const msgs = p.lines.map((l) => JSON.parse(l) as { level: string; ts: string; msg: string });
    for (const m of [
      'starting an etcd server',
      'published local member to cluster through raft',
      'enabled capabilities for version',
      'ready to serve client requests',
      'serving client traffic insecurely; this is strongly discouraged!',
    ]) {
      expect(msgs.map((x) => x.msg)).toContain(m);
    }
    expect(msgs[0]!.ts).toMatch(/^\d{4}-\d\d-\d\dT/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.lines.some((l) => l.includes('closed etcd server'))).toBe(true);
  });

  it('keeps every acknowledged write across kill -9 during a write load', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kv-proc-'));
    dirs.push(dataDir);
    const port = await freePort();
    const peer = await freePort();
    let p = await startBin(dataDir, port, peer);
    let c = connect(`127.0.0.1:${port}`);
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}/${i}`;
        try {
          await call(c.kv, 'put', { key: b(key), value: b(key) });
          acked.push(key);
        } catch {
          return;
        }
      }
    });
    while (acked.length < 300) await new Promise((r) => setTimeout(r, 20));
    p.child.kill('SIGKILL');
    stop = true;
    await p.exited;
    await Promise.all(writers);
    c.close();
    p = await startBin(dataDir, port, peer);
    c = connect(`127.0.0.1:${port}`);
    const all = await call(c.kv, 'range', { key: b('w'), rangeEnd: b('x') });
    const present = new Set(all.kvs.map((kv: { key: Uint8Array }) => s(kv.key)));
    const missing = acked.filter((k) => !present.has(k));
    expect(missing).toEqual([]);
    c.close();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 60_000);
});
