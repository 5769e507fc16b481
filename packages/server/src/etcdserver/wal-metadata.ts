/**
 * The WAL's metadata record: which member wrote it, in which cluster. etcd stores a protobuf there;
 * kv stores JSON, with the ids as decimal strings so they stay exact (uint64) in any JSON reader.
 */
import { toId } from './member-id.js';

/**
 * Encodes the metadata of a new WAL.
 *
 * @example
 * ```ts
 * await Wal.create(dir, walMetadata(memberId, clusterId));
 * ```
 */
export const walMetadata = (memberId: bigint, clusterId: bigint) =>
  new TextEncoder().encode(
    JSON.stringify({ memberId: memberId.toString(), clusterId: clusterId.toString() }),
  );

/** Reads {@link walMetadata}; WALs written by older versions hold the ids as JSON numbers. */
export function readWalMetadata(bytes: Uint8Array): { memberId: bigint; clusterId: bigint } {
  const j = JSON.parse(new TextDecoder().decode(bytes)) as { memberId: unknown; clusterId: unknown };
  return { memberId: toId(j.memberId), clusterId: toId(j.clusterId) };
}
