/**
 * snapshot save | status | restore through the kvctl binary against an embedded kv-server, then
 * kv-server started on the restored directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvClient } from '@kv/client';
import { startServer } from '@kv/server';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'dist', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'kvctl-snap-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs kvctl without blocking this process's event loop (the embedded server lives in it). */
const kvctl = (...args: string[]) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    execFile(process.execPath, [MAIN, ...args], (error, out, err) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });

describe('kvctl snapshot', () => {
  it('saves, reports status, restores, and the restored member serves the data', async () => {
    const src = await startServer();
    const file = join(root, 'backup.db');
    try {
      const c = new KvClient({ endpoints: [src.address] });
      await c.put('greeting', 'hello');
      await c.put('greeting', 'hello again');
      c.close();
      const saved = await kvctl('--endpoints', src.address, 'snapshot', 'save', file);
      expect(saved).toMatchObject({ code: 0, out: `Snapshot saved at ${file}\n` });
    } finally {
      await src.close();
    }

    const status = await kvctl('snapshot', 'status', file, '-w', 'json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ revision: 3 });
    expect((await kvctl('snapshot', 'status', file)).out).toMatch(
      /^[0-9a-f]{8}, 3, \d+, \d+(\.\d)? [k]?B\n$/,
    );

    const dataDir = join(root, 'restored.etcd');
    const restored = await kvctl(
      'snapshot',
      'restore',
      file,
      '--data-dir',
      dataDir,
      '--name',
      'default',
      '--initial-cluster',
      'default=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:2380',
    );
    expect(restored.code).toBe(0);
    expect(
      restored.err
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg),
    ).toEqual(['restoring snapshot', 'added member', 'restored snapshot']);
    const again = await kvctl('snapshot', 'restore', file, '--data-dir', dataDir);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`Error: data-dir "${dataDir}" exists\n`);

    const srv = await startServer({ dataDir, backend: 'level' });
    try {
      const c = new KvClient({ endpoints: [srv.address] });
      const r = await c.get('greeting');
      expect(Buffer.from(r.kvs[0]!.value).toString()).toBe('hello again');
      expect(Number(r.header?.revision)).toBe(3);
      c.close();
    } finally {
      await srv.close();
    }
  });

  it('fails like etcdctl on a missing file or argument', async () => {
    const missing = await kvctl('snapshot', 'restore', join(root, 'nope.db'), '--data-dir', join(root, 'x'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`Error: open ${join(root, 'nope.db')}: no such file or directory`);
    expect((await kvctl('snapshot', 'status')).code).not.toBe(0);
  });

  it('restore --backend records the engine kv-server must run the data dir on', async () => {
    const src = await startServer();
    const file = join(root, 'engine.db');
    try {
      const c = new KvClient({ endpoints: [src.address] });
      await c.put('engine', 'lmdb');
      c.close();
      expect((await kvctl('--endpoints', src.address, 'snapshot', 'save', file)).code).toBe(0);
    } finally {
      await src.close();
    }
    const bad = await kvctl(
      'snapshot',
      'restore',
      file,
      '--data-dir',
      join(root, 'bad'),
      '--backend',
      'rocks',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('Invalid values');

    const dataDir = join(root, 'lmdb.etcd');
    const restored = await kvctl('snapshot', 'restore', file, '--data-dir', dataDir, '--backend', 'lmdb');
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.err.trim().split('\n').pop()!)).toMatchObject({
      msg: 'restored snapshot',
      backend: 'lmdb',
    });
    expect(JSON.parse(readFileSync(join(dataDir, 'member', 'engine.json'), 'utf8'))).toEqual({
      engine: 'lmdb',
    });
    await expect(startServer({ dataDir, backend: 'level' })).rejects.toThrow(
      'was created with --backend lmdb and cannot be opened with --backend level',
    );
    const srv = await startServer({ dataDir, backend: 'lmdb' });
    try {
      const c = new KvClient({ endpoints: [srv.address] });
      const r = await c.get('engine');
      expect(Buffer.from(r.kvs[0]!.value).toString()).toBe('lmdb');
      c.close();
    } finally {
      await srv.close();
    }
  });
});
