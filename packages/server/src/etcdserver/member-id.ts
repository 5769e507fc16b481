/**
 * Member and cluster ids, computed exactly as etcd computes them (etcdserver/api/membership): the same
 * `--initial-cluster`, `--initial-cluster-token` and peer URLs give the same full 64-bit ids, so kv and
 * etcd members name each other identically. Ids are `bigint` (uint64); most are above 2^53.
 */
import { createHash } from 'node:crypto';

/** Largest uint64. */
const MAX_UINT64 = (1n << 64n) - 1n;

/** First 8 bytes of a SHA-1 digest, big-endian (etcd: `binary.BigEndian.Uint64(hash[:8])`). */
function sha1Uint64(data: Uint8Array | string): bigint {
  return createHash('sha1').update(data).digest().readBigUInt64BE(0);
}

/**
 * A member's id: sha1 of its sorted peer URLs, then the cluster token, then (for `member add`) the unix
 * time in seconds, all concatenated (etcd's membership.newMember).
 *
 * @example
 * ```ts
 * // etcd --name a --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster-token tok
 * computeMemberId(['http://127.0.0.1:2380'], 'tok');
 * // member add (no token, current second): computeMemberId(urls, '', Math.floor(Date.now() / 1000))
 * ```
 */
export function computeMemberId(
  peerUrls: readonly string[],
  clusterToken: string,
  unixSeconds?: number,
): bigint {
  let text = [...peerUrls].sort().join('') + clusterToken;
  if (unixSeconds !== undefined) text += String(unixSeconds);
  return sha1Uint64(text);
}

/**
 * The cluster id: sha1 of the ascending member ids, each as 8 big-endian bytes (etcd's RaftCluster.genID).
 *
 * @example
 * ```ts
 * const cid = computeClusterId(members.map((m) => m.id));
 * ```
 */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  for (let i = 0; i < sorted.length; i++) buf.writeBigUInt64BE(sorted[i]!, 8 * i);
  return sha1Uint64(buf);
}

/** Why a value is not a uint64 id. */
export class BadIdError extends Error {
  constructor(value: unknown) {
    super(`invalid id ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
    this.name = 'BadIdError';
  }
}

/**
 * Reads a uint64 id from what JSON or older data dirs hold: a bigint, a safe-integer number, a decimal
 * string, or a `0x`-prefixed hex string. Throws {@link BadIdError} for anything else.
 *
 * @example
 * ```ts
 * toId('10276657743932975437'); // 10276657743932975437n
 * toId(12345); // 12345n (a number written by an older kv)
 * ```
 */
export function toId(v: unknown): bigint {
  let id: bigint;
  if (typeof v === 'bigint') id = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) id = BigInt(v);
  else if (typeof v === 'string' && /^(\d{1,20}|0x[0-9a-fA-F]{1,16})$/.test(v)) id = BigInt(v);
  else throw new BadIdError(v);
  if (id < 0n || id > MAX_UINT64) throw new BadIdError(v);
  return id;
}

/**
 * Parses an id written in hex, as etcdctl prints and takes member ids (`8e9e05c52164694d`) and as the
 * peer routes carry them (`/members/promote/<hex>`, `X-Server-From`). Undefined when not hex.
 *
 * @example
 * ```ts
 * parseHexId('8e9e05c52164694d'); // 10276657743932975437n
 * ```
 */
export function parseHexId(hex: string): bigint | undefined {
  return /^[0-9a-fA-F]{1,16}$/.test(hex) ? BigInt(`0x${hex}`) : undefined;
}

/** Lower-case hex like etcd's `types.ID.String()` (`%x`): what logs, headers and routes carry. */
export const idHex = (id: bigint | number): string => id.toString(16);
