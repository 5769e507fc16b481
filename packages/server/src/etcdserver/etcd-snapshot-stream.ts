/**
 * The byte stream of etcd's Maintenance.Snapshot: the backend as a bbolt file in etcd 3.4's layout,
 * then the SHA-256 of those bytes (etcdctl checks that `size % 512 == 32` and the digest). Built page
 * by page from one consistent read view (the backend's bulk view), so memory stays at one chunk plus
 * the writer's plan.
 */
import { createHash } from 'node:crypto';
import { type Backend, planBbolt } from '@kv/mvcc';
import { type EtcdClusterInfo, etcdBucketsFromKv } from './etcd-backend.js';

/** A planned snapshot: its size is known before the first byte. Iterate it once, or close() it. */
export interface EtcdSnapshotStream {
  /** Bytes to come: the database plus (unless disabled) the 32-byte digest. */
  readonly size: number;
  /**
   * The stream in chunks of `chunkSize` bytes (the last may be shorter); closes the view at the end.
   * With `reuseBuffer`, every chunk is the same buffer, overwritten by the next: the consumer must be
   * done with a chunk (encode or copy it) before asking for the next one.
   */
  chunks(chunkSize: number, opts?: { reuseBuffer?: boolean }): AsyncGenerator<Uint8Array>;
  /** Releases the read view (idempotent; chunks() calls it when done). */
  close(): void;
}

/**
 * Plans the snapshot of `backend` (reading it once) and returns the stream that writes it.
 *
 * @example
 * ```ts
 * const snap = await openEtcdSnapshot(backend, { members, removed: [] });
 * for await (const blob of snap.chunks(32 * 1024)) socket.write(blob);
 * ```
 */
export async function openEtcdSnapshot(
  backend: Backend,
  cluster: EtcdClusterInfo,
  opts: { digest?: boolean } = {},
): Promise<EtcdSnapshotStream> {
  // Maintenance.Snapshot appends the SHA-256 of the file; a raft snapshot (POST /raft/snapshot) is the
  // bare database, as bbolt's tx.WriteTo writes it in etcd.
  const digest = opts.digest ?? true;
  // The bulk view: on the level engine its scans read LevelDB's table files with plain reads, so a
  // snapshot of a large database grows the page cache, not this process's RSS (docs/operations.md
  // "Snapshot memory").
  const view = await backend.bulkView();
  let closed = false;
  const close = () => {
    if (!closed) view.close();
    closed = true;
  };
  let plan: Awaited<ReturnType<typeof planBbolt>>;
  try {
    plan = await planBbolt(etcdBucketsFromKv(view, cluster));
  } catch (err) {
    close();
    throw err;
  }
  return {
    size: plan.size + (digest ? 32 : 0),
    close,
    async *chunks(chunkSize: number, opts: { reuseBuffer?: boolean } = {}) {
      try {
        const sha = createHash('sha256');
        // A fresh buffer per chunk is 32 KiB of external memory each time: V8 collects it only when
        // 64 MB of such memory has piled up, so a 1 GiB stream would hold tens of MiB of dead chunks.
        const next = () => (opts.reuseBuffer ? buf : Buffer.allocUnsafe(chunkSize));
        let buf = Buffer.allocUnsafe(chunkSize);
        let used = 0;
        // Each page is copied into the chunk before the next is asked for, so one page buffer serves all.
        for await (const page of plan.pages({ reuseBuffer: true })) {
          sha.update(page);
          let at = 0;
          while (at < page.length) {
            const n = Math.min(chunkSize - used, page.length - at);
            buf.set(page.subarray(at, at + n), used);
            used += n;
            at += n;
            if (used === chunkSize) {
              yield buf;
              buf = next();
              used = 0;
            }
          }
        }
        close();
        const tail = digest ? Buffer.concat([buf.subarray(0, used), sha.digest()]) : buf.subarray(0, used);
        for (let at = 0; at < tail.length; at += chunkSize) yield tail.subarray(at, at + chunkSize);
      } finally {
        close();
      }
    },
  };
}
