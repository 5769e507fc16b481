/**
 * `snapshot restore` and `snapshot status` for files written by `etcdctl snapshot save` (or `kvctl`)
 * against kv-server: the Maintenance.Snapshot stream, which is a backend dump zero-padded to 512 bytes
 * plus the SHA-256 of everything before it.
 *
 * Restore creates a new member data directory for a new cluster, as etcd's does: the key space,
 * leases, auth and alarms come from the snapshot; membership and ids come from the flags. It writes
 * only what a restarting kv-server reads — a raft snapshot carrying the dump, at the dump's consistent
 * index, and a WAL holding that snapshot's marker — so the server's own restart path loads the data
 * into whatever engine it is configured with. New entries then start above the dump's consistent
 * index, so none of them is mistaken for one already applied.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendSnapshotLength, type EngineName, MvccStore, openBackend } from '@kv/mvcc';
import { Snapshotter, Wal } from '@kv/wal';
import { parseInitialCluster } from '../config/parse.js';
import { writeEngineRecord } from './engine-record.js';
import { computeClusterId, computeMemberId } from './ids.js';
import { type Member, Membership } from './membership.js';
import { encodeSnapshotFile } from './snapshot-file.js';

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
  clusterId: number;
  memberId: number;
  members: Member[];
  /** Raft index of the written snapshot (the dump's consistent index). */
  index: number;
}

/** `etcdctl snapshot status` fields. */
export interface SnapshotStatus {
  /** The store's hash of the restored key space (kv's MVCC hash, not a bolt checksum). */
  hash: number;
  revision: number;
  /** Entries in the backend dump, every bucket. */
  totalKey: number;
  /** File size in bytes. */
  totalSize: number;
}

const SHA256_LEN = 32;

/** Reads a snapshot file and returns the backend dump inside it, checking the SHA-256 trailer. */
export function readSnapshotDump(path: string, skipHashCheck = false): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new SnapshotRestoreError(`open ${path}: ${errnoText(err)}`);
  }
  const length = backendSnapshotLength(bytes);
  if (length === undefined)
    throw new SnapshotRestoreError(`${path}: not a kv snapshot (no backend dump found)`);
  const hasHash = bytes.length % 512 === SHA256_LEN;
  if (hasHash && !skipHashCheck) {
    const body = bytes.subarray(0, bytes.length - SHA256_LEN);
    const want = bytes.subarray(bytes.length - SHA256_LEN);
    const got = createHash('sha256').update(body).digest();
    if (!got.equals(want)) {
      // etcd prints both digests as Go byte slices.
      throw new SnapshotRestoreError(`expected sha256 [${[...want].join(' ')}], got [${[...got].join(' ')}]`);
    }
  } else if (!hasHash && !skipHashCheck) {
    throw new SnapshotRestoreError('snapshot missing hash but --skip-hash-check=false');
  }
  if (length > bytes.length - (hasHash ? SHA256_LEN : 0)) {
    throw new SnapshotRestoreError(`${path}: backend dump runs into the hash trailer`);
  }
  return bytes.subarray(0, length);
}

/** Opens the dump in a memory backend (validating its checksum) and hands the store to `fn`. */
async function withDumpStore<T>(dump: Uint8Array, fn: (store: MvccStore) => Promise<T>): Promise<T> {
  const backend = await openBackend({ engine: 'memory' });
  try {
    await backend.restore([dump]);
  } catch (err) {
    await backend.close();
    throw new SnapshotRestoreError(`invalid snapshot: ${(err as Error).message}`);
  }
  const store = await MvccStore.open(backend);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `snapshot status`: hash, revision, number of backend entries and file size. */
export async function snapshotStatus(path: string): Promise<SnapshotStatus> {
  const dump = readSnapshotDump(path, true);
  const totalSize = readFileSync(path).length;
  return withDumpStore(dump, async (store) => {
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

  const dump = readSnapshotDump(opts.path, opts.skipHashCheck ?? false);
  // The index the restored data counts as applied at; a raft index must be at least 1.
  const index = Math.max(1, await withDumpStore(dump, async (store) => store.consistentIndex()));

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
  const meta = new TextEncoder().encode(JSON.stringify({ memberId, clusterId: membership.clusterId }));
  const wal = await Wal.create(walDir, meta);
  try {
    // Marker first, then the file: the restart path picks the newest snapshot the WAL has a marker for.
    await wal.saveSnapshot({ index, term });
    await wal.save({ term, vote: 0, commit: index }, []);
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
