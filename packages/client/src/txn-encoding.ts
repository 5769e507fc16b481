/**
 * Lease ids inside transactions. The generated codec takes a put's `lease` and a lease compare's
 * `lease` as exact bigints; callers may pass any {@link Id} (number or bigint), at any nesting depth,
 * so numbers are converted before encoding.
 */
import {
  type DeepPartial,
  type RequestOp,
  type TxnRequest,
  TxnRequest as TxnRequestCodec,
} from './api/index.js';
import type { MethodDef } from './connection.js';
import { type Id, wireId } from './ids.js';

type AnyTxn = DeepPartial<TxnRequest>;
type AnyOp = DeepPartial<RequestOp>;

/** A lease as callers may give it: the generated bigint or any {@link Id}. */
const asWire = (lease: unknown): bigint | undefined =>
  lease === undefined || lease === null ? undefined : wireId(lease as Id);

function withWireOp(o: AnyOp): AnyOp {
  if (o.requestPut && typeof (o.requestPut.lease as unknown) === 'number') {
    return { ...o, requestPut: { ...o.requestPut, lease: asWire(o.requestPut.lease) } };
  }
  if (o.requestTxn) return { ...o, requestTxn: withWireLeases(o.requestTxn) };
  return o;
}

/** The transaction with every lease id as a bigint (the input is not modified). */
export function withWireLeases(txn: AnyTxn): AnyTxn {
  return {
    ...txn,
    compare: txn.compare?.map((c) =>
      typeof (c.lease as unknown) === 'number' ? { ...c, lease: asWire(c.lease) } : c,
    ),
    success: txn.success?.map(withWireOp),
    failure: txn.failure?.map(withWireOp),
  };
}

/** Encodes a TxnRequest whose lease ids may be numbers or bigints. */
export function encodeTxnRequest(txn: AnyTxn): Uint8Array {
  return TxnRequestCodec.encode(withWireLeases(txn));
}

/** Wraps the Txn method so its requests may carry lease ids as numbers or bigints. */
export function exactTxnRequests<Res>(def: MethodDef<AnyTxn, Res>): MethodDef<AnyTxn, Res> {
  return {
    path: def.path,
    responseDeserialize: def.responseDeserialize,
    requestSerialize: (txn) => Buffer.from(encodeTxnRequest(txn)),
  };
}
