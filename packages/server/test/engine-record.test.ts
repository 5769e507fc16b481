/**
 * The data dir knows its engine (engine-record.ts): the decision table, the record file, real engine
 * files recognised in data dirs of older kv versions, and the refusal end to end — in process through
 * startServer and through the kv-server binary (exit 1 and the message).
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '@kv/mvcc';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkEngineRecord,
  ENGINE_RECORD_FILE,
  EngineMismatchError,
  EngineRecordError,
  inspectDataDir,
  readEngineRecord,
  resolveEngine,
  writeEngineRecord,
} from '../src/etcdserver/engine-record.js';
import { restoreSnapshot, startServer } from '../src/index.js';
import { b, call, connect, readSnapshot, s } from './helpers.js';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'kv-engine-record-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `d${n++}`);

const none = { levelFiles: false, lmdbFiles: false, wal: false };

describe('resolveEngine (pure decision)', () => {
  it('opens when the record names the requested engine', () => {
    expect(resolveEngine('/d', { ...none, recorded: 'lmdb', wal: true, lmdbFiles: true }, 'lmdb')).toEqual({
      action: 'open',
    });
  });

  it('refuses another engine than the recorded one, naming both and the conversion', () => {
    const r = resolveEngine('/d', { ...none, recorded: 'level', levelFiles: true, wal: true }, 'lmdb');
    expect(r.action).toBe('refuse');
    const err = (r as { error: EngineMismatchError }).error;
    expect(err).toBeInstanceOf(EngineMismatchError);
    expect(err).toMatchObject({ existing: 'level', requested: 'lmdb', source: 'record' });
    expect(err.message).toContain('data dir "/d" was created with --backend level');
    expect(err.message).toContain('cannot be opened with --backend lmdb');
    expect(err.message).toContain("'etcdctl snapshot save FILE'");
    expect(err.message).toContain("'kvctl snapshot restore FILE --backend lmdb --data-dir NEW_DIR'");
  });

  it('refuses a memory data dir (WAL only) recorded as memory when another engine is asked for', () => {
    const r = resolveEngine('/d', { ...none, recorded: 'memory', wal: true }, 'level');
    expect(r.action).toBe('refuse');
  });

  it('replaces a record in a data dir that holds nothing else (creation crashed after the record)', () => {
    expect(resolveEngine('/d', { ...none, recorded: 'level' }, 'lmdb')).toMatchObject({
      action: 'record',
      engine: 'lmdb',
    });
  });

  it('infers the engine of an older data dir from its files and records it', () => {
    expect(resolveEngine('/d', { ...none, levelFiles: true, wal: true }, 'level')).toMatchObject({
      action: 'record',
      engine: 'level',
    });
    expect(resolveEngine('/d', { ...none, lmdbFiles: true, wal: true }, 'lmdb')).toMatchObject({
      action: 'record',
      engine: 'lmdb',
    });
    const r = resolveEngine('/d', { ...none, levelFiles: true, wal: true }, 'memory');
    expect(r.action).toBe('refuse');
    expect((r as { error: EngineMismatchError }).error).toMatchObject({
      existing: 'level',
      requested: 'memory',
      source: 'files',
    });
  });

  it('refuses an older data dir holding files of two engines', () => {
    const r = resolveEngine('/d', { ...none, levelFiles: true, lmdbFiles: true, wal: true }, 'level');
    expect(r.action).toBe('refuse');
    expect((r as { error: Error }).error).toBeInstanceOf(EngineRecordError);
    expect((r as { error: Error }).error.message).toContain('files of two engines');
  });

  it('refuses a disk-engine dir whose database is gone (its snapshot does not carry the data)', () => {
    const gone = { ...none, wal: true, snapshotHasData: false };
    for (const disk of [{ ...gone, recorded: 'level' as const }, gone]) {
      const r = resolveEngine('/d', disk, 'level');
      expect(r.action).toBe('refuse');
      expect((r as { error: Error }).error).toBeInstanceOf(EngineRecordError);
      expect((r as { error: Error }).error.message).toContain('(member/snap/db) is missing');
    }
    // A snapshot that carries the data (memory engine, snapshot restore) loads in any engine.
    expect(resolveEngine('/d', { ...none, wal: true, snapshotHasData: true }, 'lmdb')).toMatchObject({
      action: 'record',
    });
  });

  it('records the requested engine for a new dir and for one whose data is all in WAL and snapshots', () => {
    expect(resolveEngine('/d', none, 'memory')).toMatchObject({ action: 'record', engine: 'memory' });
    expect(resolveEngine('/d', { ...none, wal: true }, 'lmdb')).toMatchObject({
      action: 'record',
      engine: 'lmdb',
    });
  });
});

describe('the record file', () => {
  it('round-trips, leaves no temp file, and a damaged record is a clear error', async () => {
    const member = join(freshDir(), 'member');
    expect(readEngineRecord(member)).toBeUndefined();
    await writeEngineRecord(member, 'lmdb');
    expect(readEngineRecord(member)).toBe('lmdb');
    expect(readdirSync(member)).toEqual([ENGINE_RECORD_FILE]);
    expect(JSON.parse(readFileSync(join(member, ENGINE_RECORD_FILE), 'utf8'))).toEqual({ engine: 'lmdb' });
    await writeEngineRecord(member, 'level');
    expect(readEngineRecord(member)).toBe('level');
    writeFileSync(join(member, ENGINE_RECORD_FILE), '{"engine":"rocks"}');
    expect(() => readEngineRecord(member)).toThrow(EngineRecordError);
    writeFileSync(join(member, ENGINE_RECORD_FILE), 'garbage');
    expect(() => readEngineRecord(member)).toThrow(/does not name a storage engine/);
  });

  it.each(['level', 'lmdb'] as const)('recognises the files a real %s engine writes', async (engine) => {
    const dataDir = freshDir();
    const member = join(dataDir, 'member');
    const dbPath = join(member, 'snap', 'db');
    const be = await openBackend({ engine, path: dbPath });
    const batch = be.batch();
    batch.put('key', b('k'), b('v'));
    await batch.commit();
    await be.close();
    const seen = await inspectDataDir(member, dbPath, join(member, 'wal'));
    expect(seen).toEqual({
      recorded: undefined,
      levelFiles: engine === 'level',
      lmdbFiles: engine === 'lmdb',
      wal: false,
    });
    const other = engine === 'level' ? 'lmdb' : 'level';
    await expect(checkEngineRecord({ dataDir, dbPath }, other)).rejects.toThrow(EngineMismatchError);
    expect(readEngineRecord(member)).toBeUndefined(); // a refusal writes nothing
    await checkEngineRecord({ dataDir, dbPath }, engine);
    expect(readEngineRecord(member)).toBe(engine);
  });
});

/** Starts, writes 30 keys with snapshots taken along the way, saves a snapshot file, stops. */
async function create30(dataDir: string, snapFile?: string): Promise<number> {
  const srv = await startServer({ backend: 'level', dataDir, args: ['--snapshot-count', '10'] });
  const c = connect(srv.address);
  try {
    let rev = 0;
    for (let i = 0; i < 30; i++) {
      rev = Number(
        (await call(c.kv, 'put', { key: b(`k${String(i).padStart(2, '0')}`), value: b(`v${i}`) })).header
          .revision,
      );
    }
    if (snapFile) writeFileSync(snapFile, await readSnapshot(c.maintenance));
    return rev;
  } finally {
    c.close();
    await srv.close();
  }
}

async function count30(dataDir: string, backend: 'memory' | 'level' | 'lmdb'): Promise<string[]> {
  const srv = await startServer({ backend, dataDir });
  const c = connect(srv.address);
  try {
    const r = await call(c.kv, 'range', { key: b('k'), rangeEnd: b('l') });
    return r.kvs.map((kv: { value: Uint8Array }) => s(kv.value));
  } finally {
    c.close();
    await srv.close();
  }
}

/** Runs the kv-server binary until it exits; resolves with its exit code and stderr. */
function runBin(dataDir: string, backend: string): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      MAIN,
      '--data-dir',
      dataDir,
      '--backend',
      backend,
      '--listen-client-urls',
      'http://127.0.0.1:0',
      '--advertise-client-urls',
      'http://127.0.0.1:0',
      '--listen-peer-urls',
      'http://127.0.0.1:0',
    ]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => resolve({ code, err }));
  });
}

describe('a data dir started with another engine', () => {
  it('level data dir with 30 keys and snapshots: lmdb is refused, level serves all 30 keys', async () => {
    const dataDir = freshDir();
    const snapFile = join(root, 'level-30.db');
    await create30(dataDir, snapFile);
    expect(readEngineRecord(join(dataDir, 'member'))).toBe('level');
    expect(readdirSync(join(dataDir, 'member', 'snap')).some((f) => f.endsWith('.snap'))).toBe(true);

    await expect(startServer({ backend: 'lmdb', dataDir })).rejects.toThrow(
      `data dir "${dataDir}" was created with --backend level and cannot be opened with --backend lmdb`,
    );
    // Nothing of the other engine was created.
    expect(existsSync(join(dataDir, 'member', 'snap', 'db', 'data.mdb'))).toBe(false);

    // The binary refuses with exit 1 and the message in its log.
    const bin = await runBin(dataDir, 'memory');
    expect(bin.code).toBe(1);
    const failed = bin.err
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === 'failed to start kv-server');
    expect(failed.level).toBe('error');
    expect(failed.error).toContain(
      'was created with --backend level and cannot be opened with --backend memory',
    );
    expect(failed.error).toContain("'kvctl snapshot restore FILE --backend memory --data-dir NEW_DIR'");

    expect(await count30(dataDir, 'level')).toHaveLength(30);

    // The conversion the message names: restore the snapshot file on lmdb, which serves the same keys.
    const converted = freshDir();
    await restoreSnapshot({ path: snapFile, dataDir: converted, backend: 'lmdb' });
    expect(readEngineRecord(join(converted, 'member'))).toBe('lmdb');
    await expect(startServer({ backend: 'level', dataDir: converted })).rejects.toThrow(EngineMismatchError);
    expect(await count30(converted, 'lmdb')).toEqual(await count30(dataDir, 'level'));
  });

  it('a data dir of an older kv (no record) is recognised by its files, refused, then recorded', async () => {
    const dataDir = freshDir();
    await create30(dataDir);
    rmSync(join(dataDir, 'member', ENGINE_RECORD_FILE));
    await expect(startServer({ backend: 'lmdb', dataDir })).rejects.toThrow(
      '(found its files; no engine record yet) and cannot be opened with --backend lmdb',
    );
    expect(await count30(dataDir, 'level')).toHaveLength(30);
    expect(readEngineRecord(join(dataDir, 'member'))).toBe('level');
  });

  it('a level data dir whose database was deleted is refused, not served from the WAL tail', async () => {
    const dataDir = freshDir();
    await create30(dataDir);
    rmSync(join(dataDir, 'member', 'snap', 'db'), { recursive: true });
    await expect(startServer({ backend: 'level', dataDir })).rejects.toThrow(
      `data dir "${dataDir}": the level database (member/snap/db) is missing`,
    );
    expect(existsSync(join(dataDir, 'member', 'snap', 'db'))).toBe(false);
  });

  it('a memory data dir is recorded as memory and refused by level', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    const srv = await startServer({ backend: 'memory', dataDir });
    const c = connect(srv.address);
    await call(c.kv, 'put', { key: b('k1'), value: b('one') });
    c.close();
    await srv.close();
    expect(readEngineRecord(join(dataDir, 'member'))).toBe('memory');
    await expect(startServer({ backend: 'level', dataDir })).rejects.toThrow(
      'was created with --backend memory and cannot be opened with --backend level',
    );
    expect(existsSync(join(dataDir, 'member', 'snap', 'db'))).toBe(false);
    expect(await count30(dataDir, 'memory')).toEqual(['one']);
  });
});
