/**
 * The data dir knows its storage engine. kv's engines (`--backend memory|level|lmdb`) keep the key
 * space in different places and formats: LevelDB and LMDB files under `member/snap/db`, the memory
 * engine only in its WAL and snapshot files. Opening a data dir with another engine than the one that
 * wrote it used to succeed and serve whatever the WAL still held after the last snapshot (2 keys out
 * of 30, without a word). So the engine is recorded in `member/engine.json` when the data dir is
 * created, and a start with another `--backend` is refused with {@link EngineMismatchError}.
 *
 * The decision ({@link resolveEngine}) is a pure function of what is on disk; {@link checkEngineRecord}
 * does the I/O around it. Order matters for crashes: the record is written (tmp file, fsync, rename,
 * directory fsync) before the backend is created, so backend files never exist without a record
 * except in data dirs made by kv versions that predate it; those are recognised by their files
 * (LevelDB's CURRENT, LMDB's data.mdb) and get a record on their first start. A record in a data dir
 * that holds nothing else comes from a creation that crashed right after writing it, and is replaced.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineName } from '@kv/mvcc';
import { nodeFileSystem, Snapshotter, Wal } from '@kv/wal';
import { decodeSnapshotFile } from './snapshot-file.js';

/** Name of the record, in `<data-dir>/member`. */
export const ENGINE_RECORD_FILE = 'engine.json';

const ENGINES: readonly EngineName[] = ['memory', 'level', 'lmdb'];

/** What the record file holds. */
export interface EngineRecord {
  engine: EngineName;
}

/** What is on disk in a member directory, as far as the choice of engine goes. */
export interface EngineEvidence {
  /** The engine named by `member/engine.json`, if the file exists. */
  recorded?: EngineName | undefined;
  /** LevelDB's files (CURRENT, MANIFEST-*) under `member/snap/db`. */
  levelFiles: boolean;
  /** LMDB's `data.mdb` under `member/snap/db`. */
  lmdbFiles: boolean;
  /** The WAL has at least one segment. */
  wal: boolean;
  /**
   * The newest snapshot file carries the backend data (memory engine, `snapshot restore`): true;
   * it does not (a disk engine wrote it, its data is in member/snap/db): false; no snapshot: undefined.
   */
  snapshotHasData?: boolean | undefined;
}

/** Outcome of {@link resolveEngine}. */
export type EngineResolution =
  /** The record names the requested engine. */
  | { action: 'open' }
  /** Write a record naming `engine` (the requested one), then open. `why` is for the log. */
  | { action: 'record'; engine: EngineName; why: string }
  /** Refuse to start. */
  | { action: 'refuse'; error: EngineMismatchError | EngineRecordError };

/** Starting a data dir with another engine than the one it was created with. */
export class EngineMismatchError extends Error {
  override readonly name = 'EngineMismatchError';
  constructor(
    readonly dataDir: string,
    /** The engine the data dir holds. */
    readonly existing: EngineName,
    /** The engine `--backend` asked for. */
    readonly requested: EngineName,
    /** How `existing` was known: the record file, or the files found (a data dir of an older kv). */
    readonly source: 'record' | 'files',
  ) {
    super(
      `data dir "${dataDir}" was created with --backend ${existing}` +
        `${source === 'files' ? ' (found its files; no engine record yet)' : ''}` +
        ` and cannot be opened with --backend ${requested}: the engines store data in different formats` +
        ` and ${requested} would not see the ${existing} data. Start with --backend ${existing}, or convert:` +
        ` with the server running on --backend ${existing}, 'etcdctl snapshot save FILE', then` +
        ` 'kvctl snapshot restore FILE --backend ${requested} --data-dir NEW_DIR' and start kv-server` +
        ` with --backend ${requested} --data-dir NEW_DIR`,
    );
  }
}

/** The record cannot be read, or the files on disk do not tell one engine. */
export class EngineRecordError extends Error {
  override readonly name = 'EngineRecordError';
}

/**
 * Decides what to do with a data dir given what is on disk and the requested engine.
 *
 * @example
 * ```ts
 * resolveEngine('/d', { levelFiles: true, lmdbFiles: false, wal: true }, 'lmdb');
 * // => { action: 'refuse', error: EngineMismatchError(level vs lmdb) }
 * ```
 */
export function resolveEngine(
  dataDir: string,
  disk: EngineEvidence,
  requested: EngineName,
): EngineResolution {
  const holdsData = disk.levelFiles || disk.lmdbFiles || disk.wal;
  if (disk.wal && !disk.levelFiles && !disk.lmdbFiles && disk.snapshotHasData === false) {
    // A disk engine's snapshot leaves the data to member/snap/db, which is gone: the WAL holds only
    // what followed the snapshot, so any engine would start with part of the key space.
    const engine = disk.recorded ?? 'disk engine';
    return {
      action: 'refuse',
      error: new EngineRecordError(
        `data dir "${dataDir}": the ${engine} database (member/snap/db) is missing; its newest snapshot` +
          ` leaves the data to that database and the WAL holds only later entries, so starting would serve` +
          ` part of the key space. Put member/snap/db back, or restore a snapshot file ('etcdctl snapshot` +
          ` save') with 'kvctl snapshot restore FILE --backend ${requested} --data-dir NEW_DIR'`,
      ),
    };
  }
  if (disk.recorded !== undefined) {
    if (disk.recorded === requested) return { action: 'open' };
    if (!holdsData) {
      return {
        action: 'record',
        engine: requested,
        why: `replacing the record of ${disk.recorded}: the data dir holds no data (creation was interrupted)`,
      };
    }
    return { action: 'refuse', error: new EngineMismatchError(dataDir, disk.recorded, requested, 'record') };
  }
  if (disk.levelFiles && disk.lmdbFiles) {
    return {
      action: 'refuse',
      error: new EngineRecordError(
        `data dir "${dataDir}" has no engine record and holds files of two engines under member/snap/db` +
          ` (LevelDB's CURRENT and LMDB's data.mdb): an older kv opened it with a second engine. Keep the` +
          ` files of the engine that wrote the data, remove the others, and start with that --backend`,
      ),
    };
  }
  const found: EngineName | undefined = disk.levelFiles ? 'level' : disk.lmdbFiles ? 'lmdb' : undefined;
  if (found !== undefined) {
    if (found !== requested) {
      return { action: 'refuse', error: new EngineMismatchError(dataDir, found, requested, 'files') };
    }
    return { action: 'record', engine: found, why: `found ${found} files in a data dir of an older kv` };
  }
  // No engine files: every change is in the WAL and the snapshot files (a memory-engine data dir, or
  // one `kvctl snapshot restore` made and nothing started yet). Any engine loads all of it, so the
  // requested one is recorded.
  return {
    action: 'record',
    engine: requested,
    why: disk.wal ? 'the data is wholly in the WAL and snapshots' : 'new data dir',
  };
}

/** Reads `member/engine.json`; undefined if it does not exist. */
export function readEngineRecord(memberDir: string): EngineName | undefined {
  const path = join(memberDir, ENGINE_RECORD_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EngineRecordError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let engine: unknown;
  try {
    engine = (JSON.parse(text) as Partial<EngineRecord>).engine;
  } catch {
    engine = undefined;
  }
  if (!ENGINES.includes(engine as EngineName)) {
    throw new EngineRecordError(
      `${path} does not name a storage engine (want {"engine":"memory|level|lmdb"}, got ${JSON.stringify(text.slice(0, 80))})`,
    );
  }
  return engine as EngineName;
}

/** Durably writes `member/engine.json`: temp file, fsync, rename, directory fsync. */
export async function writeEngineRecord(memberDir: string, engine: EngineName): Promise<void> {
  const fs = nodeFileSystem;
  await fs.mkdir(memberDir);
  const path = join(memberDir, ENGINE_RECORD_FILE);
  const tmp = `${path}.tmp`;
  const record: EngineRecord = { engine };
  await fs.writeFile(tmp, new TextEncoder().encode(`${JSON.stringify(record)}\n`), 'w');
  const file = await fs.open(tmp, 'r+');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(memberDir);
}

/**
 * What is on disk: the record, the engine files under `dbPath`, the WAL and, when no engine files are
 * there but a WAL is, whether the newest snapshot in `member/snap` carries the data.
 */
export async function inspectDataDir(
  memberDir: string,
  dbPath: string,
  walDir: string,
): Promise<EngineEvidence> {
  let names: string[] = [];
  try {
    names = readdirSync(dbPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const disk: EngineEvidence = {
    recorded: readEngineRecord(memberDir),
    levelFiles: names.includes('CURRENT') || names.some((n) => n.startsWith('MANIFEST-')),
    lmdbFiles: names.includes('data.mdb'),
    wal: Wal.exists(walDir),
  };
  if (disk.wal && !disk.levelFiles && !disk.lmdbFiles) {
    const newest = await new Snapshotter(join(memberDir, 'snap')).loadNewest();
    if (newest) disk.snapshotHasData = decodeSnapshotFile(newest.data).payload.hasBackendDump;
  }
  return disk;
}

/** Where a member's engine lives, as the server lays out a data dir. */
export interface EngineLocation {
  /** `--data-dir`. */
  dataDir: string;
  /** `--wal-dir`; empty or undefined: `<data-dir>/member/wal`. */
  walDir?: string | undefined;
  /** The backend's directory, `<data-dir>/member/snap/db`. */
  dbPath: string;
}

/**
 * Checks the data dir against the requested engine before the backend is opened, writing the record
 * when the data dir gets one. Throws {@link EngineMismatchError} or {@link EngineRecordError} to refuse.
 * Returns the resolution so the caller can log a newly written record.
 *
 * @example
 * ```ts
 * await checkEngineRecord({ dataDir: 'n1.etcd', dbPath: 'n1.etcd/member/snap/db' }, 'level');
 * ```
 */
export async function checkEngineRecord(
  where: EngineLocation,
  requested: EngineName,
): Promise<EngineResolution> {
  const memberDir = join(where.dataDir, 'member');
  const walDir = where.walDir || join(memberDir, 'wal');
  const decision = resolveEngine(
    where.dataDir,
    await inspectDataDir(memberDir, where.dbPath, walDir),
    requested,
  );
  if (decision.action === 'refuse') throw decision.error;
  if (decision.action === 'record') await writeEngineRecord(memberDir, decision.engine);
  return decision;
}
