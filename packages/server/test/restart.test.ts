import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/config/parse.js';
import { KvServer } from '../src/embed.js';
import { leaseBucketKey } from '../src/etcdserver/lease-record.js';
import { KEY_INDEX_FILE } from '../src/etcdserver/store.js';
import { startServer } from '../src/index.js';
import { b, call, connect, memoryLogger, s, sleep } from './helpers.js';

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'kv-restart-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.each(['level', 'lmdb', 'memory'] as const)('restart (%s engine)', (backend) => {
  it('keeps data, leases and ids across restarts, through snapshots and WAL replay', async () => {
    const dataDir = freshDir();
    const args = ['--snapshot-count', '20'];
    let srv = await startServer({ backend, dataDir, args, unsafeNoFsync: false });
    let c = connect(srv.address);
    const first = await call(c.kv, 'range', { key: b('x') });
    const lease = await call(c.lease, 'leaseGrant', { TTL: 300 });
    for (let i = 0; i < 50; i++) await call(c.kv, 'put', { key: b(`k/${i}`), value: b(`v${i}`) });
    await call(c.kv, 'put', { key: b('leased'), value: b('l'), lease: lease.ID });
    await call(c.kv, 'deleteRange', { key: b('k/7') });
    const last = await call(c.kv, 'put', { key: b('k/last'), value: b('end') });
    c.close();
    await srv.close();
    const snaps = readdirSync(join(dataDir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
    expect(snaps.length).toBeGreaterThan(0);
    // A clean stop saved the key index (disk engines), and the next start consumes it (it is loaded
    // instead of a scan of the key bucket, and removed before the first write).
    const savedIndex = join(dataDir, 'member', 'snap', 'db', KEY_INDEX_FILE);
    expect(existsSync(savedIndex)).toBe(backend !== 'memory');

    srv = await startServer({ backend, dataDir, args, unsafeNoFsync: false });
    expect(existsSync(savedIndex)).toBe(false);
    c = connect(srv.address);
    const again = await call(c.kv, 'range', { key: b('k/'), rangeEnd: b('k0') });
    expect(again.count).toBe(50); // 50 puts - k/7 + k/last
    expect(again.header.revision).toBe(last.header.revision);
    expect(again.header.clusterId).toBe(first.header.clusterId);
    expect(again.header.memberId).toBe(first.header.memberId);
    expect(s((await call(c.kv, 'range', { key: b('k/last') })).kvs[0].value)).toBe('end');
    const ttl = await call(c.lease, 'leaseTimeToLive', { ID: lease.ID, keys: true });
    expect(ttl.keys.map(s)).toEqual(['leased']);
    // Writes continue at the next revision.
    const next = await call(c.kv, 'put', { key: b('after'), value: b('restart') });
    expect(next.header.revision).toBe(last.header.revision + 1);
    c.close();
    await srv.close();
  });
});

describe('lease ids across a restart', () => {
  it('keeps an id above 2^53 exact and still loads lease records written with numeric ids', async () => {
    const dataDir = freshDir();
    let srv = await startServer({ backend: 'level', dataDir, unsafeNoFsync: false });
    let c = connect(srv.address);
    const big = 3182763892645462267n;
    const old = 0x1234n;
    for (const ID of [big, old]) await call(c.lease, 'leaseGrant', { TTL: 300, ID });
    await call(c.kv, 'put', { key: b('on-big'), value: b('1'), lease: big });
    await call(c.kv, 'put', { key: b('on-old'), value: b('2'), lease: old });
    c.close();
    await srv.close();
    // Rewrite one record as data dirs written before ids were exact hold it: `id` a JSON number.
    const dbPath = join(dataDir, 'member', 'snap', 'db');
    const store = await MvccStore.open(await openBackend({ engine: 'level', path: dbPath }));
    store.putMeta('lease', leaseBucketKey(old), Buffer.from(JSON.stringify({ id: Number(old), ttl: 300 })));
    await store.close();
    const check = await MvccStore.open(await openBackend({ engine: 'level', path: dbPath }));
    expect(Buffer.from((await check.getMeta('lease', leaseBucketKey(old)))!).toString()).toBe(
      '{"id":4660,"ttl":300}',
    );
    await check.close();

    srv = await startServer({ backend: 'level', dataDir, unsafeNoFsync: false });
    c = connect(srv.address);
    for (const [ID, key] of [
      [big, 'on-big'],
      [old, 'on-old'],
    ] as const) {
      const ttl = await call(c.lease, 'leaseTimeToLive', { ID, keys: true });
      expect([ttl.ID, ttl.grantedTTL, ttl.keys.map(s)]).toEqual([ID, 300, [key]]);
    }
    expect((await call(c.lease, 'leaseLeases', {})).leases.map((l: { ID: bigint }) => l.ID).sort()).toEqual(
      [big, old].sort(),
    );
    c.close();
    await srv.close();
  });
});

describe('raft log of a lone voter', () => {
  it('drops applied entries from memory long before --snapshot-count, and restarts with every write', async () => {
    const dataDir = freshDir();
    // The snapshot (at 2200 entries) comes after several in-memory compactions.
    const args = ['--snapshot-count', '2200'];
    let srv = await startServer({ backend: 'level', dataDir, args, unsafeNoFsync: false });
    let c = connect(srv.address);
    const write = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let i = from; i < to; i++)
            await call(c.kv, 'put', { key: b(`w${w}/${i}`), value: b(`${w}-${i}`) });
        }),
      );
    await write(0, 200);
    // biome-ignore lint/suspicious/noExplicitAny: reading the raft storage of the running server
    const storage = (srv.server.etcd as any).raftStorage;
    // No snapshot yet: only the lone-voter compaction can have moved the first index.
    expect(storage.firstIndex()).toBeGreaterThan(900);
    expect(storage.lastIndex() - storage.firstIndex()).toBeLessThan(1100);
    await write(200, 250);
    const last = await call(c.kv, 'put', { key: b('last'), value: b('x') });
    c.close();
    await srv.close();

    srv = await startServer({ backend: 'level', dataDir, args, unsafeNoFsync: false });
    c = connect(srv.address);
    const all = await call(c.kv, 'range', { key: b('w'), rangeEnd: b('x'), countOnly: true });
    expect(all.count).toBe(2500);
    expect(s((await call(c.kv, 'range', { key: b('w7/249') })).kvs[0].value)).toBe('7-249');
    expect((await call(c.kv, 'range', { key: b('last') })).header.revision).toBe(last.header.revision);
    c.close();
    await srv.close();
  });
});

describe('snapshots and auto compaction', () => {
  it('snapshots every --snapshot-count entries and releases old WAL segments and snapshots', async () => {
    const dataDir = freshDir();
    const srv = await startServer({
      backend: 'level',
      dataDir,
      args: ['--snapshot-count', '10', '--max-snapshots', '2'],
    });
    const c = connect(srv.address);
    for (let i = 0; i < 60; i++) await call(c.kv, 'put', { key: b(`s${i}`), value: b('v') });
    await sleep(200);
    const snaps = readdirSync(join(dataDir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
    expect(snaps.length).toBeGreaterThan(0);
    expect(snaps.length).toBeLessThanOrEqual(2);
    expect(existsSync(join(dataDir, 'member', 'wal'))).toBe(true);
    c.close();
    await srv.close();
  });

  it('auto-compacts in revision mode', async () => {
    const srv = await startServer({
      args: ['--auto-compaction-mode', 'revision', '--auto-compaction-retention', '5'],
      revisionCompactionCheckMs: 100,
    });
    const c = connect(srv.address);
    for (let i = 0; i < 20; i++) await call(c.kv, 'put', { key: b('ac'), value: b(String(i)) });
    const rev = (await call(c.kv, 'range', { key: b('ac') })).header.revision;
    let err: { details?: string } | undefined;
    for (let i = 0; i < 30 && !err; i++) {
      await sleep(100);
      err = await call(c.kv, 'range', { key: b('ac'), revision: 2 }).then(
        () => undefined,
        (e) => e,
      );
    }
    expect(err?.details).toBe('etcdserver: mvcc: required revision has been compacted');
    // Revisions within the retention window stay readable.
    expect((await call(c.kv, 'range', { key: b('ac'), revision: rev - 4 })).count).toBe(1);
    c.close();
    await srv.close();
  });

  it('auto-compacts in periodic mode', async () => {
    const srv = await startServer({
      args: ['--auto-compaction-mode', 'periodic', '--auto-compaction-retention', '1s'],
    });
    const c = connect(srv.address);
    await call(c.kv, 'put', { key: b('pc'), value: b('old') });
    let err: { details?: string } | undefined;
    for (let i = 0; i < 40 && !err; i++) {
      await call(c.kv, 'put', { key: b('pc'), value: b(String(i)) });
      await sleep(100);
      err = await call(c.kv, 'range', { key: b('pc'), revision: 2 }).then(
        () => undefined,
        (e) => e,
      );
    }
    expect(err?.details).toBe('etcdserver: mvcc: required revision has been compacted');
    c.close();
    await srv.close();
  });
});

describe('backend quota', () => {
  it('raises NOSPACE past --quota-backend-bytes and refuses writes, reads still work', async () => {
    const srv = await startServer({ backend: 'memory', args: ['--quota-backend-bytes', '20000'] });
    const c = connect(srv.address);
    let err: { details?: string } | undefined;
    for (let i = 0; i < 200 && !err; i++) {
      err = await call(c.kv, 'put', { key: b(`q${i}`), value: Buffer.alloc(1000, 1) }).then(
        () => undefined,
        (e) => e,
      );
      if (!err) await sleep(20);
    }
    expect(err?.details).toBe('etcdserver: mvcc: database space exceeded');
    const alarms = await call(c.maintenance, 'alarm', { action: 0 });
    expect(alarms.alarms).toEqual([expect.objectContaining({ alarm: 1 })]);
    expect((await call(c.kv, 'range', { key: b('q0') })).count).toBe(1);
    c.close();
    await srv.close();
  });
});

describe('WAL events in the member log', () => {
  it('a torn last write is dropped on restart, logged by the member, and nothing acknowledged is lost', async () => {
    const dataDir = freshDir();
    const srv = await startServer({ backend: 'level', dataDir, unsafeNoFsync: false });
    const c = connect(srv.address);
    for (let i = 0; i < 20; i++) await call(c.kv, 'put', { key: b(`k/${i}`), value: b(`v${i}`) });
    c.close();
    await srv.close();
    // A crash in the middle of the next write: part of a record header after the last batch.
    const walDir = join(dataDir, 'member', 'wal');
    const segment = join(
      walDir,
      readdirSync(walDir)
        .filter((f) => f.endsWith('.wal'))
        .sort()
        .at(-1)!,
    );
    // The end of what the WAL wrote: past the last non-zero byte (the rest is preallocated zeros).
    const bytes = readFileSync(segment);
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    const fd = openSync(segment, 'r+');
    writeSync(fd, Buffer.from([0x30, 0, 0, 0, 2, 0]), 0, 6, Math.ceil(end / 8) * 8);
    closeSync(fd);

    const { log, lines } = memoryLogger();
    const parsed = parseArgs([
      ...['--name', 'default', '--data-dir', dataDir, '--backend', 'level'],
      ...['--listen-client-urls', 'http://127.0.0.1:0', '--advertise-client-urls', 'http://127.0.0.1:0'],
      ...[
        '--listen-peer-urls',
        'http://127.0.0.1:0',
        '--initial-advertise-peer-urls',
        'http://127.0.0.1:2380',
      ],
      ...['--initial-cluster', 'default=http://127.0.0.1:2380'],
    ]);
    if (parsed.action !== 'run') throw new Error('unexpected');
    const server = await KvServer.start(parsed.config, { logger: log });
    try {
      const repair = lines().filter((l) => l.msg === 'wal: dropping torn tail');
      expect(repair).toHaveLength(1);
      expect(repair[0]).toMatchObject({ level: 'warn', file: segment });
      const again = connect(server.clientUrls[0]!.replace(/^https?:\/\//, ''));
      const got = await call(again.kv, 'range', { key: b('k/'), rangeEnd: b('k0') });
      expect(got.count).toBe(20);
      again.close();
    } finally {
      await server.close();
    }
  });
});
