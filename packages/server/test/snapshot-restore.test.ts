/**
 * Snapshot restore: a snapshot streamed from a running server (the bytes `etcdctl snapshot save`
 * writes) becomes a new data directory that kv-server starts from, with the key space, history,
 * leases and revision intact, new cluster ids, and writes continuing above the restored data.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreSnapshot, SnapshotRestoreError, snapshotStatus, startServer } from '../src/index.js';
import { b, call, connect, readSnapshot, s } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'kv-restore-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Streams Maintenance.Snapshot into a file, as etcdctl snapshot save does. */
async function saveSnapshot(address: string, path: string): Promise<void> {
  const c = connect(address);
  try {
    writeFileSync(path, await readSnapshot(c.maintenance));
  } finally {
    c.close();
  }
}

describe.each(['level', 'memory'] as const)('snapshot restore (%s engine)', (backend) => {
  const snapPath = join(root, `${backend}.db`);
  let before: { revision: number; clusterId: string; leaseId: unknown; hash: number };

  it('saves a snapshot of a server with history and a lease', async () => {
    const srv = await startServer({ backend, dataDir: join(root, `${backend}-src`), unsafeNoFsync: true });
    const c = connect(srv.address);
    try {
      const lease = await call(c.lease, 'leaseGrant', { TTL: 600 });
      await call(c.kv, 'put', { key: b('a'), value: b('1') });
      await call(c.kv, 'put', { key: b('a'), value: b('2') });
      await call(c.kv, 'put', { key: b('leased'), value: b('x'), lease: lease.ID });
      for (let i = 0; i < 50; i++) await call(c.kv, 'put', { key: b(`k${i}`), value: b(`v${i}`) });
      const r = await call(c.kv, 'range', { key: b('a') });
      const hash = await call(c.maintenance, 'hashKV', {});
      before = {
        revision: Number(r.header.revision),
        clusterId: String(r.header.clusterId),
        leaseId: lease.ID,
        hash: hash.hash,
      };
      await saveSnapshot(srv.address, snapPath);
    } finally {
      c.close();
      await srv.close();
    }
    const st = await snapshotStatus(snapPath);
    expect(st.revision).toBe(before.revision);
    // An etcd-format snapshot: etcdctl reports the database size, without the 32-byte SHA-256 trailer.
    expect(st.totalSize).toBe(readFileSync(snapPath).length - 32);
    expect(st.totalKey).toBeGreaterThan(50);
  });

  it('restores into a new data dir that kv-server starts from, with new ids and continuing writes', async () => {
    const dataDir = join(root, `${backend}-restored`);
    const restored = await restoreSnapshot({
      path: snapPath,
      name: 'default',
      dataDir,
      initialCluster: 'default=http://127.0.0.1:2380',
      initialAdvertisePeerUrls: 'http://127.0.0.1:2380',
      initialClusterToken: 'restored-cluster',
      backend,
    });
    expect(restored.index).toBeGreaterThan(50);
    expect(restored.backend).toBe(backend);
    const srv = await startServer({ backend, dataDir, unsafeNoFsync: true });
    const c = connect(srv.address);
    try {
      const r = await call(c.kv, 'range', { key: b('a') });
      expect(s(r.kvs[0].value)).toBe('2');
      expect(Number(r.header.revision)).toBe(before.revision);
      expect(String(r.header.clusterId)).not.toBe(before.clusterId);
      const old = await call(c.kv, 'range', { key: b('a'), revision: 2 });
      expect(s(old.kvs[0].value)).toBe('1');
      expect((await call(c.maintenance, 'hashKV', {})).hash).toBe(before.hash);
      const ttl = await call(c.lease, 'leaseTimeToLive', { ID: before.leaseId, keys: true });
      expect(ttl.keys.map(s)).toEqual(['leased']);
      const put = await call(c.kv, 'put', { key: b('after'), value: b('restore') });
      expect(Number(put.header.revision)).toBe(before.revision + 1);
    } finally {
      c.close();
      await srv.close();
    }
    // The write after the restore survives a restart: it was not taken for an already-applied entry.
    const again = await startServer({ backend, dataDir, unsafeNoFsync: true });
    const c2 = connect(again.address);
    try {
      const r = await call(c2.kv, 'range', { key: b('after') });
      expect(s(r.kvs[0].value)).toBe('restore');
      const a = await call(c2.kv, 'range', { key: b('a') });
      expect(s(a.kvs[0].value)).toBe('2');
    } finally {
      c2.close();
      await again.close();
    }
  });
});

describe('snapshot restore errors (etcd texts)', () => {
  const good = join(root, 'level.db');

  it('refuses an existing data dir', async () => {
    const dataDir = mkdtempSync(join(root, 'exists-'));
    await expect(restoreSnapshot({ path: good, dataDir })).rejects.toThrow(`data-dir "${dataDir}" exists`);
  });

  it('refuses a damaged file, a file without hash unless told to skip, and a missing file', async () => {
    const bytes = readFileSync(good);
    const damaged = Buffer.from(bytes);
    damaged[100] ^= 0xff;
    writeFileSync(join(root, 'damaged.db'), damaged);
    await expect(
      restoreSnapshot({ path: join(root, 'damaged.db'), dataDir: join(root, 'd1') }),
    ).rejects.toThrow(/^expected sha256 \[[0-9 ]+\], got \[[0-9 ]+\]$/);
    const unhashed = bytes.subarray(0, bytes.length - 32);
    writeFileSync(join(root, 'unhashed.db'), unhashed);
    await expect(
      restoreSnapshot({ path: join(root, 'unhashed.db'), dataDir: join(root, 'd2') }),
    ).rejects.toThrow('snapshot missing hash but --skip-hash-check=false');
    const ok = await restoreSnapshot({
      path: join(root, 'unhashed.db'),
      dataDir: join(root, 'd3'),
      skipHashCheck: true,
    });
    expect(ok.index).toBeGreaterThan(0);
    const missing = restoreSnapshot({ path: join(root, 'nope.db'), dataDir: join(root, 'd4') });
    await expect(missing).rejects.toBeInstanceOf(SnapshotRestoreError);
    await expect(missing).rejects.toThrow(`open ${join(root, 'nope.db')}: no such file or directory`);
  });

  it('needs the member in the initial cluster', async () => {
    await expect(
      restoreSnapshot({
        path: good,
        name: 'n9',
        dataDir: join(root, 'd5'),
        initialCluster: 'n1=http://127.0.0.1:2380',
      }),
    ).rejects.toThrow('couldn\'t find local name "n9" in the initial cluster configuration');
  });

  it("still accepts kv's older format (a backend dump padded to 512 bytes plus its SHA-256)", async () => {
    const backend = await openBackend({ engine: 'memory' });
    const store = await MvccStore.open(backend);
    let index = 1;
    for (let i = 0; i < 10; i++)
      await store.put({ key: b(`old${i}`), value: b(`v${i}`) }, { index: index++ });
    await store.flush();
    const parts: Uint8Array[] = [];
    for await (const chunk of backend.snapshot()) parts.push(chunk);
    const raw = Buffer.concat(parts);
    const body = Buffer.concat([raw, Buffer.alloc((512 - (raw.length % 512)) % 512)]);
    const path = join(root, 'old-format.db');
    writeFileSync(path, Buffer.concat([body, createHash('sha256').update(body).digest()]));
    const st = await snapshotStatus(path);
    expect(st.revision).toBe(11);
    expect(st.hash).toBe(await store.hash());
    await store.close();
    const dataDir = join(root, 'old-format-restored');
    await restoreSnapshot({ path, dataDir, backend: 'memory' });
    const srv = await startServer({ backend: 'memory', dataDir, unsafeNoFsync: true });
    const c = connect(srv.address);
    try {
      const r = await call(c.kv, 'range', { key: b('old'), rangeEnd: b('old~') });
      expect(r.kvs.map((kv: { value: Uint8Array }) => s(kv.value))).toEqual(
        Array.from({ length: 10 }, (_, i) => `v${i}`),
      );
    } finally {
      c.close();
      await srv.close();
    }
  });
});
