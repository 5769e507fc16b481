/**
 * `snapshot restore` and `snapshot status` for snapshot files: etcd's (a bbolt database in etcd 3.4's
 * backend layout plus the SHA-256 of it — what `etcdctl snapshot save` writes against etcd, and
 * against kv-server since it streams the same format) and kv's older format (a backend dump
 * zero-padded to 512 bytes plus the SHA-256).
 *
 * Restore creates a new member data directory for a new cluster, as etcd's does: the key space,
 * leases, auth and alarms come from the snapshot; membership and ids come from the flags. It writes
 * only what a restarting kv-server reads — a raft snapshot carrying the dump, at the dump's consistent
 * index, and a WAL holding that snapshot's marker — so the server's own restart path loads the data
 * into whatever engine it is configured with. New entries then start above the dump's consistent
 * index, so none of them is mistaken for one already applied.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { BboltReader, backendSnapshotLength, type EngineName, MvccStore, openBackend } from '@kv/mvcc';
import { Snapshotter, Wal } from '@kv/wal';
import { parseInitialCluster } from '../config/parse.js';
import { writeEngineRecord } from './engine-record.js';
import { etcdDbStatus, loadEtcdBackend } from './etcd-backend.js';
import { computeClusterId, computeMemberId } from './member-id.js';
import { type Member, Membership } from './membership.js';
import { encodeSnapshotFile } from './snapshot-file.js';
import { walMetadata } from './wal-metadata.js';

/** A restore or status that cannot proceed; `message` is etcd's text where etcd has one. */
export class SnapshotRestoreError extends Error {
  override name = 'SnapshotRestoreError';
}

/** Options of {@link restoreSnapshot}, named after etcdctl's flags. */
export interface RestoreOptions {
  /** The snapshot file. */
  path: string;
  /** Member name (--name); default `default`. */
  name?: string;
  /** Data directory to create (--data-dir); default `<name>.etcd`. It must not exist. */
  dataDir?: string;
  /** WAL directory (--wal-dir); default `<data-dir>/member/wal`. */
  walDir?: string;
  /** --initial-cluster, e.g. `n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380`; default `<name>=http://localhost:2380`. */
  initialCluster?: string;
  /** --initial-cluster-token; default `etcd-cluster`. */
  initialClusterToken?: string;
  /** --initial-advertise-peer-urls (comma separated); default `http://localhost:2380`. */
  initialAdvertisePeerUrls?: string;
  /** --skip-hash-check: accept a file without (or with a wrong) SHA-256 trailer. */
  skipHashCheck?: boolean;
  /**
   * --backend: the storage engine kv-server will run the data dir on (default `level`, kv-server's
   * default), recorded in `member/engine.json`; kv-server refuses to start it with another engine.
   */
  backend?: EngineName;
}

/** What a restore produced. */
export interface RestoreResult {
  dataDir: string;
  walDir: string;
  snapDir: string;
  /** The engine recorded in the data dir. */
  backend: EngineName;
  clusterId: bigint;
  memberId: bigint;
  members: Member[];
  /** Raft index of the written snapshot (the dump's consistent index). */
  index: number;
}

/** `etcdctl snapshot status` fields. */
export interface SnapshotStatus {
  /**
   * etcd database: etcdctl's CRC-32C over every bucket name, key and value. kv dump: the restored
   * store's MVCC hash.
   */
  hash: number;
  revision: number;
  /** Entries in every bucket. */
  totalKey: number;
  /** etcd database: its size without the hash trailer (as etcdctl); kv dump: the file size. */
  totalSize: number;
}

const SHA256_LEN = 32;
/** bbolt's meta magic, just after the 16-byte header of page 0. */
const BBOLT_MAGIC = 0xed0cdaed;

/**
 * A snapshot file's contents: kv's own backend dump (read whole), or an etcd (bbolt) database, left in
 * its file and read page by page.
 */
export type SnapshotContent = { format: 'kv'; dump: Uint8Array } | { format: 'etcd'; path: string };

/** Opens `path` for reading, with etcd's error text for a missing file. */
function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw new SnapshotRestoreError(`open ${path}: ${errnoText(err)}`);
  }
}

/** True when `bytes` start like a bbolt database (etcd's snapshots and data files). */
export function isBboltFile(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 20 && Buffer.from(bytes.buffer, bytes.byteOffset, 20).readUInt32LE(16) === BBOLT_MAGIC
  );
}

const HASH_READ_CHUNK = 1 << 20;

/** SHA-256 of the file's first `length` bytes and the 32 bytes after them, read in 1 MiB steps. */
function fileDigest(fd: number, length: number): { got: Buffer; want: Buffer } {
  const sha = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ_CHUNK);
  for (let at = 0; at < length; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, length - at), at);
    if (n === 0) break;
    sha.update(buf.subarray(0, n));
    at += n;
  }
  const want = Buffer.alloc(SHA256_LEN);
  readSync(fd, want, 0, SHA256_LEN, length);
  return { got: sha.digest(), want };
}

/**
 * Checks the SHA-256 trailer the way etcd's restore does: a file whose size is 32 more than a multiple
 * of 512 carries one (a database is page-aligned, kv's dump is padded to 512). Returns whether it has one.
 */
function checkHash(fd: number, size: number, skipHashCheck: boolean): boolean {
  const hasHash = size % 512 === SHA256_LEN;
  if (hasHash && !skipHashCheck) {
    const { got, want } = fileDigest(fd, size - SHA256_LEN);
    if (!got.equals(want)) {
      // etcd prints both digests as Go byte slices.
      throw new SnapshotRestoreError(`expected sha256 [${[...want].join(' ')}], got [${[...got].join(' ')}]`);
    }
  } else if (!hasHash && !skipHashCheck) {
    throw new SnapshotRestoreError('snapshot missing hash but --skip-hash-check=false');
  }
  return hasHash;
}

/** Reads a snapshot file of either format, checking its SHA-256 trailer unless told to skip. */
export function readSnapshotContent(path: string, skipHashCheck = false): SnapshotContent {
  const fd = openFile(path);
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 20));
    readSync(fd, head, 0, head.length, 0);
    if (isBboltFile(head)) {
      checkHash(fd, size, skipHashCheck);
      return { format: 'etcd', path };
    }
    const bytes = readFileSync(fd);
    const length = backendSnapshotLength(bytes);
    if (length === undefined) {
      throw new SnapshotRestoreError(
        `${path}: not a snapshot (neither an etcd/bbolt database nor a kv backend dump)`,
      );
    }
    const hasHash = checkHash(fd, size, skipHashCheck);
    if (length > bytes.length - (hasHash ? SHA256_LEN : 0)) {
      throw new SnapshotRestoreError(`${path}: backend dump runs into the hash trailer`);
    }
    return { format: 'kv', dump: bytes.subarray(0, length) };
  } finally {
    closeSync(fd);
  }
}

/** Opens a bbolt database file for positional reads, turning format errors into restore errors. */
function openBbolt(path: string): BboltReader {
  try {
    return BboltReader.open(path);
  } catch (err) {
    throw new SnapshotRestoreError(`invalid database: ${(err as Error).message}`);
  }
}

/**
 * The snapshot's state in a memory backend (kv dumps are validated by their checksum, etcd databases
 * converted by {@link loadEtcdBackend}), handed to `fn` as a store.
 */
async function withSnapshotStore<T>(
  content: SnapshotContent,
  fn: (store: MvccStore) => Promise<T>,
): Promise<T> {
  const backend = await openBackend({ engine: 'memory' });
  try {
    if (content.format === 'kv') await backend.restore([content.dump]);
    else {
      const db = openBbolt(content.path);
      try {
        await loadEtcdBackend(db, backend);
      } finally {
        db.close();
      }
    }
  } catch (err) {
    await backend.close();
    if (err instanceof SnapshotRestoreError) throw err;
    throw new SnapshotRestoreError(`invalid snapshot: ${(err as Error).message}`);
  }
  const store = await MvccStore.open(backend);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * `snapshot status`: hash, revision, number of backend entries and file size. For an etcd database
 * these are computed as etcdctl does (CRC-32C over every bucket, key and value; the database size
 * without the trailer); for a kv dump, the hash is the restored store's MVCC hash.
 */
export async function snapshotStatus(path: string): Promise<SnapshotStatus> {
  const content = readSnapshotContent(path, true);
  if (content.format === 'etcd') {
    const db = openBbolt(content.path);
    try {
      return etcdDbStatus(db);
    } catch (err) {
      throw new SnapshotRestoreError(`snapshot file integrity check failed: ${(err as Error).message}`);
    } finally {
      db.close();
    }
  }
  const totalSize = readFileSync(path).length;
  return withSnapshotStore(content, async (store) => {
    let totalKey = 0;
    for await (const chunk of store.backend.scanChunks('key')) totalKey += chunk.length;
    for (const bucket of ['meta', 'lease', 'auth', 'authUsers', 'authRoles', 'alarm']) {
      for await (const chunk of store.backend.scanChunks(bucket)) totalKey += chunk.length;
    }
    return { hash: await store.hash(), revision: store.rev(), totalKey, totalSize };
  });
}

/** `snapshot restore`: creates a new member data directory from a snapshot file. */
export async function restoreSnapshot(opts: RestoreOptions): Promise<RestoreResult> {
  const name = opts.name ?? 'default';
  const dataDir = opts.dataDir ?? `${name}.etcd`;
  const walDir = opts.walDir ?? join(dataDir, 'member', 'wal');
  const snapDir = join(dataDir, 'member', 'snap');
  const token = opts.initialClusterToken ?? 'etcd-cluster';
  const selfPeerUrls = (opts.initialAdvertisePeerUrls ?? 'http://localhost:2380').split(',').filter(Boolean);
  const clusterText = opts.initialCluster ?? `${name}=${selfPeerUrls.join(`,${name}=`)}`;
  const cluster = parseInitialCluster(clusterText);
  const own = cluster.get(name);
  if (!own) {
    throw new SnapshotRestoreError(`couldn't find local name "${name}" in the initial cluster configuration`);
  }
  if ([...own].sort().join(',') !== [...selfPeerUrls].sort().join(',')) {
    throw new SnapshotRestoreError(
      `--initial-cluster has ${name}=${own.join(',')} but missing from --initial-advertise-peer-urls=${selfPeerUrls.join(',')}`,
    );
  }
  if (existsSync(dataDir)) throw new SnapshotRestoreError(`data-dir "${dataDir}" exists`);
  if (opts.walDir !== undefined && existsSync(walDir)) {
    throw new SnapshotRestoreError(`wal-dir "${walDir}" exists`);
  }

  const content = readSnapshotContent(opts.path, opts.skipHashCheck ?? false);
  // The restored state as a kv backend dump (an etcd database is converted first), and the index it
  // counts as applied at; a raft index must be at least 1.
  const { dump, index } = await withSnapshotStore(content, async (store) => {
    const ci = Math.max(1, store.consistentIndex());
    if (content.format === 'kv') return { dump: content.dump, index: ci };
    const parts: Uint8Array[] = [];
    for await (const chunk of store.backend.snapshot()) parts.push(chunk);
    return { dump: Buffer.concat(parts), index: ci };
  });

  const members: Member[] = [...cluster].map(([memberName, urls]) => ({
    id: computeMemberId(urls, token),
    name: memberName,
    peerURLs: urls,
    clientURLs: [],
    isLearner: false,
  }));
  const membership = new Membership(computeClusterId(members.map((m) => m.id)));
  for (const m of members) membership.add(m);
  const memberId = computeMemberId(own, token);
  const term = 1;

  mkdirSync(snapDir, { recursive: true });
  mkdirSync(join(walDir, '..'), { recursive: true });
  const data = encodeSnapshotFile(
    { membership: membership.toJSON(), hasBackendDump: true },
    {
      voters: members.map((m) => m.id),
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    },
    dump,
  );
  const meta = walMetadata(memberId, membership.clusterId);
  const wal = await Wal.create(walDir, meta);
  try {
    // Marker first, then the file: the restart path picks the newest snapshot the WAL has a marker for.
    await wal.saveSnapshot({ index, term });
    await wal.save({ term, vote: 0n, commit: index }, []);
  } finally {
    await wal.close();
  }
  await new Snapshotter(snapDir).save({ index, term, data });
  // Last: a crash before it leaves a data dir whose data is all in the WAL and snapshot, which the
  // server's first start records under whatever engine it runs (engine-record.ts).
  const backend = opts.backend ?? 'level';
  await writeEngineRecord(join(dataDir, 'member'), backend);
  return { dataDir, walDir, snapDir, backend, clusterId: membership.clusterId, memberId, members, index };
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
}
