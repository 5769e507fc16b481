/**
 * Raft snapshots of one member: writing them every `--snapshot-count` entries, and receiving the
 * leader's backend when this member is too far behind for the log.
 *
 * Crash safety of an install: the received backend is written to `snap/<index>.snap.db` (tmp + fsync +
 * rename) before raft sees the snapshot; the snapshot file then embeds it and its WAL marker is written
 * before the backend is replaced. A crash before the marker leaves the old state (raft asks again); a
 * crash after it restarts from the snapshot file, which restores the backend again if its consistent
 * index is below the snapshot's — never a mix of the two.
 */
import { createWriteStream } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BboltReader, openBackend } from '@kv/mvcc';
import type { ConfState, Snapshot } from '@kv/raft';
import type { Snapshotter, Wal } from '@kv/wal';
import { ETCD_CLUSTER_VERSION, loadEtcdBackend } from './etcd-backend.js';
import { idHex, parseIdHex } from './ids.js';
import { Membership } from './membership.js';
import { isBboltFile } from './restore.js';
import { decodeSnapshotFile, encodeSnapshotFile } from './snapshot-file.js';
import { decodeV2StoreSnapshot, encodeV2StoreSnapshot, isV2StoreSnapshot } from './v2store-snapshot.js';

/** Entries kept in the raft log after a snapshot so slow followers catch up by log (etcd: 5000). */
export const SNAPSHOT_CATCHUP_ENTRIES = 5000;

const receivedDbName = (index: number) => `${index.toString(16).padStart(16, '0')}.snap.db`;

/**
 * The data raft carries in a snapshot (and a MsgSnap): the member list and cluster version as etcd 3.4's
 * v2 store JSON (v2store-snapshot.ts), so an etcd 3.4 member can recover from a kv leader's snapshot. The
 * conf state travels in the snapshot's metadata; the backend after the message on `POST /raft/snapshot`.
 */
export function snapshotMetaData(membership: Membership): Uint8Array {
  return encodeV2StoreSnapshot(
    {
      members: membership.list(),
      removed: [...membership.removed].map(idHex),
      clusterVersion: membership.clusterVersion ?? ETCD_CLUSTER_VERSION,
    },
    idHex,
  );
}

/**
 * Reads a snapshot's membership: etcd's v2 store JSON (what kv and etcd 3.4 send), or the kv snapshot-file
 * encoding that earlier kv versions put in raft snapshots. The cluster id is the receiver's own (a v2 store
 * does not carry it).
 */
export function decodeSnapshotMeta(
  snap: Snapshot,
  clusterId: bigint,
): { membership: Membership; confState: ConfState } {
  if (isV2StoreSnapshot(snap.data)) {
    const v2 = decodeV2StoreSnapshot(snap.data, parseIdHex);
    const membership = new Membership(clusterId);
    for (const m of v2.members) membership.add(m);
    for (const hex of v2.removed) membership.removed.add(parseIdHex(hex));
    membership.clusterVersion = v2.clusterVersion;
    return { membership, confState: snap.metadata.confState };
  }
  const d = decodeSnapshotFile(snap.data);
  return { membership: Membership.fromJSON(d.payload.membership), confState: d.confState };
}

/** Writes an incoming snapshot's backend durably under the snap dir; resolves with its path. */
export async function saveReceivedDb(
  snapDir: string,
  index: number,
  data: AsyncIterable<Uint8Array>,
): Promise<string> {
  const path = join(snapDir, receivedDbName(index));
  const tmp = `${path}.tmp`;
  const out = createWriteStream(tmp);
  try {
    for await (const chunk of data) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', r));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    const fh = await open(tmp, 'r+');
    await fh.datasync();
    await fh.close();
    await rename(tmp, path);
    const dir = await open(snapDir, 'r');
    await dir.sync();
    await dir.close();
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  return path;
}

/** Chunk size of a backend sent to a follower. */
export const SNAPSHOT_CHUNK_BYTES = 64 * 1024;

/**
 * The received backend as kv's engine-neutral dump: a bbolt database in etcd 3.4's layout (what kv and
 * etcd leaders send) is loaded through a memory backend; a kv dump (from an earlier kv leader) is kept.
 */
export async function receivedDbAsDump(db: Uint8Array): Promise<Uint8Array> {
  if (!isBboltFile(db)) return db;
  const backend = await openBackend({ engine: 'memory' });
  try {
    await loadEtcdBackend(BboltReader.fromBytes(db), backend);
    const parts: Uint8Array[] = [];
    for await (const chunk of backend.snapshot()) parts.push(chunk);
    return Buffer.concat(parts);
  } finally {
    await backend.close();
  }
}

/** Reads the backend received for the snapshot at `index` (removed by dropReceivedDb once embedded). */
export async function takeReceivedDb(snapDir: string, index: number): Promise<Uint8Array> {
  const path = join(snapDir, receivedDbName(index));
  return await readFile(path);
}

/** Removes the received backend file once its snapshot file holds it. */
export async function dropReceivedDb(snapDir: string, index: number): Promise<void> {
  await rm(join(snapDir, receivedDbName(index)), { force: true });
}

/** What writing a snapshot needs. */
export interface SnapshotWriter {
  wal: Wal;
  snapshotter: Snapshotter;
  maxSnapshots: number;
}

/**
 * Writes the snapshot file for `index` and its WAL marker (etcd's order: marker first, then the file;
 * a crash between them leaves a marker without a file, which restart skips), then releases WAL segments
 * the snapshot covers unless `release` is false (a received snapshot: the caller releases once the hard
 * state committing it is saved, since restart ignores a marker past the saved commit). Raft's in-memory
 * log is the caller's business.
 */
export async function writeSnapshot(
  w: SnapshotWriter,
  index: number,
  term: number,
  membership: Membership,
  confState: ConfState,
  dump: Uint8Array | undefined,
  release = true,
): Promise<void> {
  const data = encodeSnapshotFile(
    { membership: membership.toJSON(), hasBackendDump: dump !== undefined },
    confState,
    dump,
  );
  await w.wal.saveSnapshot({ index, term });
  await w.snapshotter.save({ index, term, data });
  if (release) await w.wal.releaseTo(index);
  if (w.maxSnapshots > 0) await w.snapshotter.purge(w.maxSnapshots);
}
