/**
 * Key namespaces: pure request/response rewrites that put every key of a call under a prefix and take
 * it off again in what comes back (etcd's clientv3/namespace does the same for Go).
 *
 * Ranges keep their meaning inside the namespace: an end of `\0` ("to the end of the key space")
 * becomes the end of the namespace, so `get('', { prefix: true })` on `client.namespace('/app/')`
 * reads exactly the keys under `/app/`.
 */
import type {
  Compare,
  DeepPartial,
  DeleteRangeRequest,
  Event,
  KeyValue,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from './api/index.js';
import { prefixEnd } from './bytes.js';

/** `a` followed by `b`. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const isZeroByte = (b: Uint8Array | undefined): boolean => b !== undefined && b.length === 1 && b[0] === 0;

/**
 * The wire key and range end of `[key, end)` inside namespace `ns` (etcd's `prefixInterval`).
 * An empty end stays empty (a single key); `\0` (the edge of the key space) becomes the namespace's
 * end; the "all keys" key `\0` with end `\0` starts at the namespace itself.
 */
export function prefixInterval(
  ns: Uint8Array,
  key: Uint8Array,
  end: Uint8Array | undefined,
): { key: Uint8Array; rangeEnd: Uint8Array } {
  const all = isZeroByte(key) && isZeroByte(end);
  const k = all ? ns : concatBytes(ns, key);
  if (end === undefined || end.length === 0) return { key: k, rangeEnd: new Uint8Array(0) };
  if (isZeroByte(end)) return { key: k, rangeEnd: prefixEnd(ns) };
  return { key: k, rangeEnd: concatBytes(ns, end) };
}

/** Drops the namespace from a key returned by the server. */
export function stripKey(ns: Uint8Array, key: Uint8Array): Uint8Array {
  return key.subarray(Math.min(ns.length, key.length));
}

/** A range or delete request moved into the namespace. */
export function prefixRange<R extends DeepPartial<RangeRequest> | DeepPartial<DeleteRangeRequest>>(
  ns: Uint8Array,
  req: R,
): R {
  return { ...req, ...prefixInterval(ns, req.key ?? new Uint8Array(0), req.rangeEnd) };
}

/** A compare moved into the namespace. */
function prefixCompare(ns: Uint8Array, c: DeepPartial<Compare>): DeepPartial<Compare> {
  return { ...c, ...prefixInterval(ns, c.key ?? new Uint8Array(0), c.rangeEnd) };
}

/** One transaction operation moved into the namespace (nested transactions included). */
function prefixOp(ns: Uint8Array, op: DeepPartial<RequestOp>): DeepPartial<RequestOp> {
  if (op.requestRange) return { requestRange: prefixRange(ns, op.requestRange) };
  if (op.requestDeleteRange) return { requestDeleteRange: prefixRange(ns, op.requestDeleteRange) };
  if (op.requestPut) {
    return { requestPut: { ...op.requestPut, key: concatBytes(ns, op.requestPut.key ?? new Uint8Array(0)) } };
  }
  if (op.requestTxn) return { requestTxn: prefixTxn(ns, op.requestTxn) };
  return op;
}

/** A transaction moved into the namespace: every compare and every operation. */
export function prefixTxn(ns: Uint8Array, req: DeepPartial<TxnRequest>): DeepPartial<TxnRequest> {
  return {
    compare: (req.compare ?? []).map((c) => prefixCompare(ns, c)),
    success: (req.success ?? []).map((o) => prefixOp(ns, o)),
    failure: (req.failure ?? []).map((o) => prefixOp(ns, o)),
  };
}

/** Shape shared by every key-value the server returns (exact-id variants included). */
type KvLike = Pick<KeyValue, 'key'>;

/** Strips the namespace from one key-value in place. */
export function stripKv<T extends KvLike | undefined>(ns: Uint8Array, kv: T): T {
  if (kv) kv.key = stripKey(ns, kv.key);
  return kv;
}

/** The parts of the responses that carry keys (structural, so exact-id responses fit too). */
interface RangeLike {
  kvs: KvLike[];
}
interface PutLike {
  prevKv?: KvLike | undefined;
}
interface DeleteLike {
  prevKvs: KvLike[];
}
interface TxnLike {
  responses: {
    responseRange?: RangeLike | undefined;
    responsePut?: PutLike | undefined;
    responseDeleteRange?: DeleteLike | undefined;
    responseTxn?: TxnLike | undefined;
  }[];
}

/** Strips the namespace from every key of a range response, in place. */
export function stripRange<T extends RangeLike>(ns: Uint8Array, res: T): T {
  for (const kv of res.kvs) stripKv(ns, kv);
  return res;
}

/** Strips the namespace from a put response's previous key-value, in place. */
export function stripPut<T extends PutLike>(ns: Uint8Array, res: T): T {
  stripKv(ns, res.prevKv);
  return res;
}

/** Strips the namespace from a delete response's previous key-values, in place. */
export function stripDelete<T extends DeleteLike>(ns: Uint8Array, res: T): T {
  for (const kv of res.prevKvs) stripKv(ns, kv);
  return res;
}

/** Strips the namespace from every key in a transaction response (nested ones too), in place. */
export function stripTxn<T extends TxnLike>(ns: Uint8Array, res: T): T {
  for (const r of res.responses) {
    if (r.responseRange) stripRange(ns, r.responseRange);
    if (r.responsePut) stripPut(ns, r.responsePut);
    if (r.responseDeleteRange) stripDelete(ns, r.responseDeleteRange);
    if (r.responseTxn) stripTxn(ns, r.responseTxn);
  }
  return res;
}

/** Strips the namespace from a watch event's key-values, in place. */
export function stripEvent<
  T extends Pick<Event, never> & { kv?: KvLike | undefined; prevKv?: KvLike | undefined },
>(ns: Uint8Array, ev: T): T {
  stripKv(ns, ev.kv);
  stripKv(ns, ev.prevKv);
  return ev;
}
