/**
 * Exact 64-bit lease ids inside transactions.
 *
 * The generated encoder writes every int64 from a JS number. A lease id above 2^53 (etcd hands those
 * out) may appear inside a transaction in two places: a put's `lease` (PutRequest field 3) and a
 * lease compare's `lease` (Compare field 8), at any nesting depth. When such a bigint is present this
 * module encodes the TxnRequest itself, message by message, letting the generated encoders write
 * everything else and appending each bigint as its own varint field (protobuf takes the last value
 * of a scalar field, and the generated encoder leaves the placeholder out).
 */
import {
  Compare,
  type DeepPartial,
  PutRequest,
  RequestOp,
  type TxnRequest,
  TxnRequest as TxnRequestCodec,
} from './api/index.js';
import type { MethodDef } from './connection.js';

function varint(v: bigint): number[] {
  let x = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** A varint field (`field`, wire type 0) holding `v`. */
function varintField(field: number, v: bigint): Uint8Array {
  return Uint8Array.from([...varint(BigInt(field << 3)), ...varint(v)]);
}

/** A length-delimited field (`field`, wire type 2) holding `body`. */
function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  return concat([
    Uint8Array.from([...varint(BigInt((field << 3) | 2)), ...varint(BigInt(body.length))]),
    body,
  ]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

type AnyTxn = DeepPartial<TxnRequest>;
type AnyOp = DeepPartial<RequestOp>;

/** True when a bigint lease occurs anywhere in the transaction. */
function hasBigLease(txn: AnyTxn): boolean {
  if ((txn.compare ?? []).some((c) => typeof (c.lease as unknown) === 'bigint')) return true;
  const ops = [...(txn.success ?? []), ...(txn.failure ?? [])];
  return ops.some(
    (o) =>
      typeof (o.requestPut?.lease as unknown) === 'bigint' ||
      (o.requestTxn !== undefined && hasBigLease(o.requestTxn)),
  );
}

function encodeCompare(c: NonNullable<AnyTxn['compare']>[number]): Uint8Array {
  const lease = c.lease as unknown;
  if (typeof lease !== 'bigint') return Compare.encode(c);
  return concat([Compare.encode({ ...c, lease: undefined }), varintField(8, lease)]);
}

function encodeOp(o: AnyOp): Uint8Array {
  const lease = o.requestPut?.lease as unknown;
  if (o.requestPut && typeof lease === 'bigint') {
    const put = concat([PutRequest.encode({ ...o.requestPut, lease: 0 }), varintField(3, lease)]);
    return lengthDelimited(2, put);
  }
  if (o.requestTxn) return lengthDelimited(4, encodeTxn(o.requestTxn));
  return RequestOp.encode(o);
}

/** Encodes a TxnRequest, keeping bigint lease ids exact. */
export function encodeTxn(txn: AnyTxn): Uint8Array {
  if (!hasBigLease(txn)) return TxnRequestCodec.encode(txn);
  const parts: Uint8Array[] = [];
  for (const c of txn.compare ?? []) parts.push(lengthDelimited(1, encodeCompare(c)));
  for (const o of txn.success ?? []) parts.push(lengthDelimited(2, encodeOp(o)));
  for (const o of txn.failure ?? []) parts.push(lengthDelimited(3, encodeOp(o)));
  return concat(parts);
}

/** Wraps the Txn method so its requests may carry bigint lease ids. */
export function exactTxnRequests<Res>(def: MethodDef<AnyTxn, Res>): MethodDef<AnyTxn, Res> {
  return { ...def, requestSerialize: (req) => Buffer.from(encodeTxn(req)) };
}
