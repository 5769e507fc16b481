/**
 * Raft node ids, in one place. @kv/raft takes `number` ids today; etcd's are uint64 and @kv/raft is
 * moving to `bigint`. Everything in metcd names ids through {@link NodeId} and builds them with
 * {@link nodeId}, so that switch is a one-line change here (`number` -> `bigint`, `Number` -> `BigInt`).
 */

/** A raft node id as @kv/raft takes it. */
export type NodeId = number;

/** The constructor matching {@link NodeId} (`BigInt` once ids are bigints). */
const makeId: (digits: string) => NodeId = Number;

/**
 * Parses a node id from a flag, a URL path or a JSON key. Ids are positive decimal integers; 0 is
 * raft's "no node" and is refused.
 *
 * @example
 * ```ts
 * const id = nodeId('3'); // 3
 * ```
 */
export function nodeId(value: string | number | bigint): NodeId {
  const digits = String(value).trim();
  if (!/^[1-9][0-9]*$/.test(digits)) throw new RangeError(`invalid node id "${digits}"`);
  const id = makeId(digits);
  if (typeof id === 'number' && !Number.isSafeInteger(id))
    throw new RangeError(`node id ${digits} too large`);
  return id;
}
