/**
 * Exact 64-bit ids in the public API ({@link Id}: a number when exact, a bigint above 2^53). Every id field
 * is generated as an exact `bigint` (proto-gen.json); responses narrow them to {@link Id} and requests accept
 * number | bigint ({@link idRequests}).
 *
 * Lease ids (Lease*.ID, PutRequest/Compare/KeyValue/LeaderKey/Lock/Campaign `lease`) and watch ids
 * are generated as exact `bigint` fields (proto-gen.json): responses turn each bigint into an
 * {@link Id} ({@link exactId}), requests turn a number into a bigint ({@link wireId}).
 *
 * The fields still generated as numbers (cluster/member ids in headers, member lists, Status.leader,
 * alarms, MoveLeader) are rounded by the generated decoder above 2^53, so for those this module
 * re-reads the varint from the wire after the generated decoder ran and, when the value is not a
 * safe integer, stores it as a `bigint`. On the request side such an id given as a bigint is encoded
 * as an extra varint field appended to the generated encoding (protobuf allows fields in any order;
 * the generated encoder skips the zero placeholder). This workaround goes once those fields are
 * generated as bigint too.
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

/**
 * Where the id fields are: field number → field name (a varint id), or [name, nested schema] for a
 * message field (singular or repeated).
 */
export type IdSchema = { readonly [field: number]: string | readonly [string, IdSchema] };

// Only fields still generated as numbers are listed (lease and watch ids are bigints already).
const HEADER: IdSchema = { 1: 'clusterId', 2: 'memberId' };
const MEMBER: IdSchema = { 1: 'ID' };
const RANGE_RESPONSE: IdSchema = { 1: ['header', HEADER] };
const TXN_RESPONSE: IdSchema = { 1: ['header', HEADER], 3: ['responses', {}] };
// ResponseOp refers back to TxnResponse; close the cycle after both exist.
(TXN_RESPONSE as { [f: number]: unknown })[3] = [
  'responses',
  {
    1: ['responseRange', RANGE_RESPONSE],
    2: ['responsePut', { 1: ['header', HEADER] }],
    3: ['responseDeleteRange', { 1: ['header', HEADER] }],
    4: ['responseTxn', TXN_RESPONSE],
  },
];

/** Id schemas of the responses the client decodes. */
export const RESPONSE_IDS = {
  headerOnly: { 1: ['header', HEADER] },
  range: RANGE_RESPONSE,
  put: { 1: ['header', HEADER] },
  deleteRange: { 1: ['header', HEADER] },
  txn: TXN_RESPONSE,
  watch: { 1: ['header', HEADER] },
  leaseWithId: { 1: ['header', HEADER] },
  leaseLeases: { 1: ['header', HEADER] },
  memberAdd: { 1: ['header', HEADER], 2: ['member', MEMBER], 3: ['members', MEMBER] },
  members: { 1: ['header', HEADER], 2: ['members', MEMBER] },
  status: { 1: ['header', HEADER], 4: 'leader' },
  alarm: { 1: ['header', HEADER], 2: ['alarms', { 1: 'memberID' }] },
  campaign: { 1: ['header', HEADER] },
  leader: { 1: ['header', HEADER] },
} satisfies Record<string, IdSchema>;

/** Minimal protobuf wire walker: varints as bigint, everything else skipped or descended into. */
class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
  }
  smallVarint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  }
}

/** Overwrites id fields of `obj` (decoded from `buf[start, end)`) whose wire value is not a safe integer. */
function patch(
  buf: Uint8Array,
  start: number,
  end: number,
  obj: Record<string, unknown>,
  schema: IdSchema,
): void {
  const r = new WireReader(buf, start, end);
  const seen: Record<string, number> = {};
  while (r.pos < end) {
    const tag = r.smallVarint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    const spec = schema[field];
    if (wire === 0) {
      const v = r.varint();
      const decoded = typeof spec === 'string' ? obj[spec] : undefined;
      if (typeof decoded === 'bigint') {
        // Generated as an exact bigint: no re-read needed, only narrowed to a number when exact.
        obj[spec as string] = exactId(decoded);
      } else if (typeof spec === 'string' && v > BigInt(Number.MAX_SAFE_INTEGER)) {
        // int64 ids are signed on the wire; uint64 ids are not. etcd never hands out negative ids,
        // so the unsigned reading is the right one for both.
        obj[spec] = exactId(v);
      }
    } else if (wire === 2) {
      const len = r.smallVarint();
      const subStart = r.pos;
      r.pos += len;
      if (Array.isArray(spec)) {
        const [name, sub] = spec as readonly [string, IdSchema];
        const target = obj[name];
        let child: unknown = target;
        if (Array.isArray(target)) {
          const i = seen[name] ?? 0;
          seen[name] = i + 1;
          child = target[i];
        }
        if (child && typeof child === 'object')
          patch(buf, subStart, subStart + len, child as Record<string, unknown>, sub);
      }
    } else if (wire === 1) {
      r.pos += 8;
    } else if (wire === 5) {
      r.pos += 4;
    } else {
      return; // groups do not occur in etcd's API; stop rather than misread
    }
  }
}

/** Wraps a generated method so its responses carry exact ids ({@link Id}s). */
export function exactResponses<Req, Res>(
  def: MethodDef<Req, Res>,
  schema: IdSchema,
): MethodDef<Req, Exact<Res>> {
  return {
    path: def.path,
    requestSerialize: def.requestSerialize,
    responseDeserialize: (b: Buffer) => {
      const obj = def.responseDeserialize(b);
      patch(b, 0, b.length, obj as Record<string, unknown>, schema);
      exactBigints(obj);
      return obj as Exact<Res>;
    },
  };
}

function varintBytes(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/**
 * Wraps a generated method so top-level id fields of the request may be bigints: `fields` maps the
 * request key to its field number.
 */
export function exactRequests<Req extends object, Res>(
  def: MethodDef<Req, Res>,
  fields: Readonly<Record<string, number>>,
): MethodDef<ExactReq<Req>, Res> {
  return {
    path: def.path,
    responseDeserialize: def.responseDeserialize,
    requestSerialize: (req: ExactReq<Req>) => {
      const extra: number[] = [];
      let plain = req as Record<string, unknown>;
      for (const [key, field] of Object.entries(fields)) {
        const v = plain[key];
        if (typeof v === 'bigint') {
          plain = { ...plain, [key]: 0 };
          extra.push(...varintBytes(BigInt(field * 8)), ...varintBytes(v));
        }
      }
      const base = def.requestSerialize(plain as Req);
      return extra.length === 0 ? base : Buffer.concat([base, Buffer.from(extra)]);
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
