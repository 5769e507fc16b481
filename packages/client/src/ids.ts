/**
 * Exact 64-bit ids in the public API ({@link Id}: a number when exact, a bigint above 2^53). Every id field
 * is generated as an exact `bigint` (proto-gen.json); responses narrow them to {@link Id} and requests accept
 * number | bigint ({@link idRequests}).
 */
import type { MethodDef } from './connection.js';

/**
 * An exact 64-bit id: a number when it is a safe integer, otherwise a bigint.
 *
 * @example
 * ```ts
 * const { ID } = await client.grant(60);
 * await client.put('k', 'v', { lease: ID });
 * console.log(ID.toString(16)); // hex, as etcdctl prints it
 * ```
 */
export type Id = number | bigint;

/** Keys of fields that hold ids. */
type IdKey = 'ID' | 'lease' | 'clusterId' | 'memberId' | 'leader' | 'memberID' | 'targetID' | 'watchId';

/**
 * `T` with every id field widened to {@link Id} (recursively).
 *
 * @example
 * ```ts
 * const res: Exact<LeaseGrantResponse> = await client.grant(60);
 * const id: Id = res.ID; // number below 2^53, bigint above
 * ```
 */
export type Exact<T> = T extends Uint8Array
  ? T
  : T extends (infer U)[]
    ? Exact<U>[]
    : T extends object
      ? { [K in keyof T]: K extends IdKey ? (T[K] extends number | bigint ? Id : Exact<T[K]>) : Exact<T[K]> }
      : T;

/**
 * Normalises a bigint to a number when that is exact.
 *
 * @example
 * ```ts
 * exactId(42n); // 42 (a number: exact)
 * exactId(2n ** 60n); // 1152921504606846976n (stays a bigint)
 * ```
 */
export function exactId(v: bigint): Id {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * An id as the generated codecs take it: an exact bigint. A number must be a safe integer (a rounded
 * number would name another lease); ids above 2^53 are passed as bigints.
 *
 * @example
 * ```ts
 * wireId(42); // 42n
 * wireId(3182763892645462267n); // 3182763892645462267n
 * wireId(2 ** 60); // throws RangeError: not exact
 * ```
 */
export function wireId(id: Id): bigint {
  if (typeof id === 'bigint') return id;
  if (!Number.isSafeInteger(id)) throw new RangeError(`id ${id} is not an exact integer; pass a bigint`);
  return BigInt(id);
}

/**
 * Turns every bigint in a decoded message into an {@link Id} (a number when exact), in place. Only id
 * fields are generated as bigint, so every bigint found is an id.
 */
function exactBigints(obj: unknown): void {
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      const v: unknown = obj[i];
      if (typeof v === 'bigint') obj[i] = exactId(v);
      else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) exactBigints(v);
    }
    return;
  }
  const rec = obj as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (typeof v === 'bigint') rec[k] = exactId(v);
    else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) exactBigints(v);
  }
}

/**
 * Parses an id written in hex (etcdctl's spelling of lease and member ids), e.g. `694d7a2f8b3c1a04`.
 *
 * @example
 * ```ts
 * const id = parseHexId('694d7a2f8b3c1a04'); // from `etcdctl lease list`
 * await client.revoke(id);
 * ```
 */
export function parseHexId(hex: string): Id {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(hex)) throw new RangeError(`bad hex id ${JSON.stringify(hex)}`);
  return exactId(BigInt(hex.startsWith('0x') ? hex : `0x${hex}`));
}

/** Wraps a generated method so its responses carry exact ids ({@link Id}s). */
export function exactResponses<Req, Res>(def: MethodDef<Req, Res>): MethodDef<Req, Exact<Res>> {
  return {
    path: def.path,
    requestSerialize: def.requestSerialize,
    responseDeserialize: (b: Buffer) => {
      const obj = def.responseDeserialize(b);
      exactBigints(obj);
      return obj as Exact<Res>;
    },
  };
}

/**
 * Wraps a generated method whose top-level id fields (`keys`) are generated as bigint, so callers may
 * pass any {@link Id} (numbers are converted with {@link wireId}).
 */
export function idRequests<Req extends object, Res>(
  def: MethodDef<Req, Res>,
  keys: readonly string[],
): MethodDef<ExactReq<Req>, Res> {
  return {
    path: def.path,
    responseDeserialize: def.responseDeserialize,
    requestSerialize: (req: ExactReq<Req>) => {
      let plain = req as Record<string, unknown>;
      for (const key of keys) {
        const v = plain[key];
        if (typeof v === 'number') plain = { ...plain, [key]: wireId(v) };
      }
      return def.requestSerialize(plain as Req);
    },
  };
}

/** A request type whose top-level id fields also accept bigints. */
export type ExactReq<Req> = { [K in keyof Req]: K extends IdKey ? Req[K] | Id : Req[K] };
