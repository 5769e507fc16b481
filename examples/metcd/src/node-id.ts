/**
 * Raft node ids, in one place. @kv/raft takes etcd's uint64 ids as `bigint`s; everything in metcd names
 * ids through {@link NodeId} and builds them with {@link nodeId}.
 */

/** A raft node id as @kv/raft takes it. */
export type NodeId = bigint;

/** The constructor matching {@link NodeId}. */
const makeId: (digits: string) => NodeId = BigInt;

/** etcd's ids are uint64. */
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/**
 * Parses a node id from a flag, a URL path or a JSON key. Ids are positive decimal integers up to
 * 2^64-1; 0 is raft's "no node" and is refused.
 *
 * @example
 * ```ts
 * const id = nodeId('3'); // 3n
 * ```
 */
export function nodeId(value: string | number | bigint): NodeId {
  const digits = String(value).trim();
  if (!/^[1-9][0-9]*$/.test(digits)) throw new RangeError(`invalid node id "${digits}"`);
  if (BigInt(digits) > MAX_UINT64) throw new RangeError(`node id ${digits} exceeds uint64`);
  return makeId(digits);
}
