/**
 * kv's lease bucket: key = the lease id as 8 bytes big-endian (two's complement, like etcd's), value =
 * JSON `{"id","ttl","remainingTtl"?}`. The id is written as a decimal string so it is exact above 2^53;
 * data dirs written before lease ids were 64-bit hold a JSON number (always below 2^53), read alike.
 * Shared by the apply layer (writes, restart) and the etcd-format backend conversion.
 */

/** One lease as the bucket holds it. */
export interface LeaseBucketRecord {
  id: bigint;
  /** Granted TTL in seconds. */
  ttl: number;
  /** Checkpointed remaining TTL (`--experimental-enable-lease-checkpoint`), absent or 0 when none. */
  remainingTtl?: number;
}

/** The JSON as stored. */
interface LeaseJson {
  id: string | number;
  ttl: number;
  remainingTtl?: number;
}

/**
 * The bucket key of a lease id.
 *
 * @example
 * ```ts
 * leaseBucketKey(1n); // Uint8Array [0, 0, 0, 0, 0, 0, 0, 1]
 * ```
 */
export function leaseBucketKey(id: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, id));
  return new Uint8Array(b);
}

/**
 * Serialises a lease for the bucket (remainingTtl only when checkpointed).
 *
 * @example
 * ```ts
 * encodeLeaseRecord({ id: 3182763892645462267n, ttl: 60 }); // {"id":"3182763892645462267","ttl":60}
 * ```
 */
export function encodeLeaseRecord(l: LeaseBucketRecord): Uint8Array {
  const json: LeaseJson = { id: l.id.toString(), ttl: l.ttl };
  if (l.remainingTtl && l.remainingTtl > 0) json.remainingTtl = l.remainingTtl;
  return new Uint8Array(Buffer.from(JSON.stringify(json)));
}

/**
 * Parses a bucket value, old (numeric id) or new (string id); throws on anything else.
 *
 * @example
 * ```ts
 * decodeLeaseRecord(Buffer.from('{"id":7,"ttl":5}')); // { id: 7n, ttl: 5, remainingTtl: 0 }
 * ```
 */
export function decodeLeaseRecord(value: Uint8Array): Required<LeaseBucketRecord> {
  const json = JSON.parse(
    Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString(),
  ) as LeaseJson;
  const idOk =
    (typeof json.id === 'number' && Number.isSafeInteger(json.id)) ||
    (typeof json.id === 'string' && /^-?\d+$/.test(json.id));
  if (!idOk || typeof json.ttl !== 'number') throw new Error(`bad lease record ${JSON.stringify(json)}`);
  return { id: BigInt(json.id), ttl: json.ttl, remainingTtl: json.remainingTtl ?? 0 };
}
