/**
 * etcd 3.4's backend layout: a database written by Debian's etcd (generated here with the real binary:
 * puts, overwrites, deletes, a lease, a compaction, auth) is read by kv's bbolt reader, reported by
 * `snapshotStatus` exactly as `etcdctl snapshot status` reports it, and loaded into a kv store whose
 * hashKV equals etcd's. And kv's own state survives kv -> etcd layout -> kv unchanged.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LeaseRecord } from '@kv/client/api';
import { BboltReader, bytesToRev, collectBbolt, MvccStore, openBackend } from '@kv/mvcc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdProcess, startEtcd } from '../../client/test/etcd-process.js';
import { alarmKey, decodeAlarmRecord, encodeAlarmRecord } from '../src/etcdserver/alarm-record.js';
import { etcdBucketsFromKv, etcdDbStatus, loadEtcdBackend } from '../src/etcdserver/etcd-backend.js';
import { openEtcdSnapshot } from '../src/etcdserver/etcd-snapshot-stream.js';
import { decodeLeaseRecord, encodeLeaseRecord, leaseBucketKey } from '../src/etcdserver/lease-record.js';
import { restoreSnapshot, SnapshotRestoreError, snapshotStatus } from '../src/index.js';

const execFileAsync = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'kv-etcd-backend-'));
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function etcdctl(endpoint: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('etcdctl', [`--endpoints=${endpoint}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  return stdout;
}

describe('a database written by Debian etcd 3.4', () => {
  let etcd: EtcdProcess;
  const snap = join(root, 'etcd.db');
  let leaseId = '';
  let etcdHash: { hash: number; compact_revision: number; header: { revision: number } };

  beforeAll(async () => {
    etcd = await startEtcd({ name: 'bbolt' });
    const ep = etcd.clientUrl;
    for (let i = 0; i < 20; i++) await etcdctl(ep, 'put', `k${i}`, `v${i}`);
    await etcdctl(ep, 'put', 'k1', 'again');
    await etcdctl(ep, 'del', 'k2');
    leaseId = (await etcdctl(ep, 'lease', 'grant', '900')).split(' ')[1]!;
    await etcdctl(ep, 'put', 'leased', 'x', `--lease=${leaseId}`);
    await etcdctl(ep, 'compact', '5');
    await etcdctl(ep, 'put', 'big', 'y'.repeat(10_000));
    await etcdctl(ep, 'user', 'add', 'root:pw');
    await etcdctl(ep, 'role', 'add', 'reader');
    await etcdctl(ep, 'role', 'grant-permission', 'reader', 'read', 'a', 'b');
    etcdHash = JSON.parse(await etcdctl(ep, 'endpoint', 'hashkv', '-w', 'json'))[0].HashKV;
    await etcdctl(ep, 'snapshot', 'save', snap);
    await etcd.stop();
  });

  afterAll(async () => {
    await etcd?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('is read by the bbolt reader: etcd buckets, revision keys in order, leasepb leases', () => {
    const db = BboltReader.open(snap);
    try {
      expect(db.bucketNames()).toEqual(
        expect.arrayContaining([
          'alarm',
          'auth',
          'authRoles',
          'authUsers',
          'cluster',
          'key',
          'lease',
          'members',
          'meta',
        ]),
      );
      const revs = [...db.bucket('key')!.entries()].map(([k]) => bytesToRev(k));
      expect(revs.length).toBeGreaterThan(15);
      expect(revs.at(-1)!.main).toBe(etcdHash.header.revision);
      // After `compact 5` nothing at or below 5 is left but the newest revision of each key.
      expect(revs.every((r, i) => i === 0 || r.main > revs[i - 1]!.main || r.sub > revs[i - 1]!.sub)).toBe(
        true,
      );
      const leases = [...db.bucket('lease')!.entries()].map(([k, v]) => [
        Buffer.from(k).toString('hex'),
        LeaseRecord.decode(v).TTL,
      ]);
      expect(leases).toEqual([[leaseId.padStart(16, '0'), 900]]);
      const members = [...db.bucket('members')!.entries()].map(
        ([, v]) => JSON.parse(dec(v)) as { name: string },
      );
      expect(members.map((m) => m.name)).toEqual(['bbolt']);
    } finally {
      db.close();
    }
  });

  it('gets the status etcdctl snapshot status prints', async () => {
    const want = JSON.parse(
      (
        await execFileAsync('etcdctl', ['snapshot', 'status', snap, '-w', 'json'], {
          env: { ...process.env, ETCDCTL_API: '3' },
        })
      ).stdout,
    );
    expect(await snapshotStatus(snap)).toEqual(want);
  });

  it('restore and status refuse a damaged database with a clear error', async () => {
    const bytes = Buffer.from(readFileSync(snap));
    // Overwrite the header of every page after the metas and freelist (keeping the trailer).
    for (let at = 3 * 4096; at + 4096 <= bytes.length - 32; at += 4096) bytes.fill(0xee, at, at + 16);
    const bad = join(root, 'damaged.db');
    writeFileSync(bad, bytes);
    await expect(
      restoreSnapshot({ path: bad, dataDir: join(root, 'bad-restore'), skipHashCheck: true }),
    ).rejects.toThrow(SnapshotRestoreError);
    await expect(snapshotStatus(bad)).rejects.toThrow(/snapshot file integrity check failed: page \d+/);
    await expect(restoreSnapshot({ path: bad, dataDir: join(root, 'bad-restore-2') })).rejects.toThrow(
      /^expected sha256/,
    );
  });

  it('loads into a kv store with etcd hashKV, revision and compaction', async () => {
    const backend = await openBackend({ engine: 'memory' });
    const db = BboltReader.open(snap);
    try {
      await loadEtcdBackend(db, backend);
    } finally {
      db.close();
    }
    const store = await MvccStore.open(backend);
    try {
      expect(store.rev()).toBe(etcdHash.header.revision);
      expect(await store.hashKV(0)).toEqual({
        hash: etcdHash.hash,
        compactRevision: etcdHash.compact_revision,
        revision: etcdHash.header.revision,
      });
      const leases = await store.rangeMeta('lease');
      expect(leases.map(([, v]) => JSON.parse(dec(v)))).toEqual([
        // etcd's id is above 2^53: exact, as a decimal string.
        { id: BigInt(`0x${leaseId}`).toString(), ttl: 900 },
      ]);
      expect((await store.rangeMeta('authUsers')).map(([k]) => dec(k))).toEqual(['root']);
    } finally {
      await store.close();
    }
  });
});

describe('kv -> etcd layout -> kv', () => {
  it('keeps every bucket kv writes, converting leases, alarms and compaction revisions', async () => {
    const src = await openBackend({ engine: 'memory' });
    const store = await MvccStore.open(src);
    let index = 1;
    const ctx = () => ({ index: index++ });
    for (let i = 0; i < 30; i++) await store.put({ key: enc(`k${i % 7}`), value: enc(`v${i}`) }, ctx());
    await store.deleteRange({ key: enc('k3') }, ctx());
    await (await store.compact(10, ctx())).response.physical;
    // A record as kv wrote it before ids were exact (a JSON number), and one above 2^53 as written now.
    const leaseKey = new Uint8Array([0, 0, 0, 0, 0, 0, 0x12, 0x34]);
    store.putMeta('lease', leaseKey, enc(JSON.stringify({ id: 0x1234, ttl: 60 })), ctx());
    const bigId = 3182763892645462267n;
    store.putMeta(
      'lease',
      leaseBucketKey(bigId),
      encodeLeaseRecord({ id: bigId, ttl: 90, remainingTtl: 30 }),
      ctx(),
    );
    // Alarm member ids are uint64s: kept as decimal strings (older records held numbers; both read).
    const alarm = { memberID: 0xfedcba9876543210n, alarm: 1 };
    store.putMeta('alarm', enc(alarmKey(alarm)), encodeAlarmRecord(alarm), ctx());
    expect(decodeAlarmRecord(enc(JSON.stringify({ memberID: 7, alarm: 1 })))).toEqual({
      memberID: 7n,
      alarm: 1,
    });
    store.putMeta('auth', enc('authEnabled'), new Uint8Array([1]), ctx());
    await store.flush();
    const view = src.view();
    const bytes = await collectBbolt(
      etcdBucketsFromKv(view, {
        members: [{ id: 0xabcn, name: 'm', peerURLs: ['http://a:2380'], clientURLs: [], isLearner: false }],
        removed: [0xdefn],
      }),
    );
    view.close();
    const db = BboltReader.fromBytes(bytes);
    // etcd's encodings where they differ from kv's.
    expect(dec(db.bucket('members')!.entries().next().value![1])).toBe(
      '{"id":2748,"peerURLs":["http://a:2380"],"name":"m"}',
    );
    expect([...db.bucket('members_removed')!.entries()].map(([k, v]) => [dec(k), dec(v)])).toEqual([
      ['def', 'removed'],
    ]);
    expect([...db.bucket('cluster')!.entries()].map(([k, v]) => [dec(k), dec(v)])).toEqual([
      ['clusterVersion', '3.4.0'],
    ]);
    const finished = [...db.bucket('meta')!.entries()].find(([k]) => dec(k) === 'finishedCompactRev')!;
    expect(bytesToRev(finished[1])).toEqual({ main: 10, sub: 0, tombstone: false });
    expect([...db.bucket('lease')!.entries()].map(([, v]) => LeaseRecord.decode(v))).toEqual([
      { ID: 0x1234n, TTL: 60, RemainingTTL: 0 },
      { ID: bigId, TTL: 90, RemainingTTL: 30 },
    ]);
    expect(etcdDbStatus(db).revision).toBe(store.rev());

    const dst = await openBackend({ engine: 'memory' });
    await loadEtcdBackend(db, dst);
    const leases = async (b: typeof src) => {
      const out: unknown[] = [];
      for await (const [k, v] of b.scan('lease'))
        out.push([Buffer.from(k).toString('hex'), decodeLeaseRecord(v)]);
      return out;
    };
    // Same leases back (the old numeric record comes back in today's exact spelling).
    expect(await leases(dst)).toEqual(await leases(src));
    for (const bucket of ['key', 'meta', 'alarm', 'auth']) {
      const a: string[] = [];
      const b: string[] = [];
      for await (const [k, v] of src.scan(bucket))
        a.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
      for await (const [k, v] of dst.scan(bucket))
        b.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
      expect(b, bucket).toEqual(a);
    }
    const restored = await MvccStore.open(dst);
    expect(await restored.hashKV(0)).toEqual(await store.hashKV(0));
    await restored.close();
    await store.close();
  });
});

describe('the Maintenance.Snapshot byte stream', () => {
  it('is the planned size in 32 KiB chunks: a bbolt file and its SHA-256', async () => {
    const backend = await openBackend({ engine: 'memory' });
    const store = await MvccStore.open(backend);
    for (let i = 0; i < 3000; i++)
      await store.put({ key: enc(`key-${i}`), value: new Uint8Array(i % 200) }, { index: i + 1 });
    await store.flush();
    const snap = await openEtcdSnapshot(backend, { members: [], removed: [] });
    const chunks: Uint8Array[] = [];
    for await (const c of snap.chunks(32 * 1024)) chunks.push(c);
    await store.close();
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(snap.size);
    expect(all.length % 512).toBe(32);
    expect(chunks.slice(0, -1).every((c) => c.length === 32 * 1024)).toBe(true);
    const body = all.subarray(0, all.length - 32);
    expect(
      createHash('sha256')
        .update(body)
        .digest()
        .equals(all.subarray(all.length - 32)),
    ).toBe(true);
    const db = BboltReader.fromBytes(body);
    expect(etcdDbStatus(db).revision).toBe(3001);
    expect([...db.bucket('key')!.entries()].length).toBe(3000);
  });
});
