/**
 * Raft node ids, in one place. @kv/raft takes `number` ids today; etcd's are uint64 and @kv/raft is
 * moving to `bigint`. Everything in metcd names ids through {@link NodeId} and builds them with
 * {@link nodeId}, so that switch is a one-line change here (`number` -> `bigint`, `Number` -> `BigInt`).
 */

/** A raft node id as @kv/raft takes it. */
export type NodeId = number;

/** The constructor matching {@link NodeId} (`BigInt` once ids are bigints). */
const makeId: (digits: string) => NodeId = Number;

/** etcd's ids are uint64. */
const MAX_UINT64 = 0xffff_ffff_ffff_ffffn;

/**
 * Parses a node id from a flag, a URL path or a JSON key. Ids are positive decimal integers up to
 * 2^64-1 (while ids are numbers, up to 2^53-1); 0 is raft's "no node" and is refused.
 *
 * @example
 * ```ts
 * const id = nodeId('3'); // 3
 * ```
 */
export function nodeId(value: string | number | bigint): NodeId {
  const digits = String(value).trim();
  if (!/^[1-9][0-9]*$/.test(digits)) throw new RangeError(`invalid node id "${digits}"`);
  if (BigInt(digits) > MAX_UINT64) throw new RangeError(`node id ${digits} exceeds uint64`);
  const id = makeId(digits);
  if (typeof id === 'number' && !Number.isSafeInteger(id))
    throw new RangeError(`node id ${digits} too large`);
  return id;
}
