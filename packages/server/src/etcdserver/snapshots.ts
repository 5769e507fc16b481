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
import type { ConfState } from '@kv/raft';
import type { Snapshotter, Wal } from '@kv/wal';
import type { Membership } from './membership.js';
import { decodeSnapshotFile, encodeSnapshotFile, type SnapshotPayload } from './snapshot-file.js';

/** Entries kept in the raft log after a snapshot so slow followers catch up by log (etcd: 5000). */
export const SNAPSHOT_CATCHUP_ENTRIES = 5000;

const receivedDbName = (index: number) => `${index.toString(16).padStart(16, '0')}.snap.db`;

/**
 * The data raft carries in a snapshot (and a MsgSnap): the member list and conf state, without a
 * backend (that travels after the message on `POST /raft/snapshot`).
 */
export function snapshotMetaData(membership: Membership, confState: ConfState): Uint8Array {
  return encodeSnapshotFile({ membership: membership.toJSON(), hasBackendDump: false }, confState, undefined);
}

/** Reads what {@link snapshotMetaData} wrote. */
export function decodeSnapshotMeta(data: Uint8Array): { payload: SnapshotPayload; confState: ConfState } {
  const d = decodeSnapshotFile(data);
  return { payload: d.payload, confState: d.confState };
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
