/** Converts model operations into etcd-shaped requests and store results back into model shapes. */
import type { Compare, KeyValue, RangeRequest, RequestOp, ResponseOp, TxnRequest } from '../../src/index.js';
import type { MCompare, MKv, MOp, MRange, MTxn } from './model.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function toKv(kv: KeyValue): MKv {
  return {
    key: dec(kv.key),
    value: dec(kv.value),
    create: kv.createRevision,
    mod: kv.modRevision,
    version: kv.version,
    lease: Number(kv.lease),
  };
}

export function rangeReq(q: MRange): RangeRequest {
  return {
    key: enc(q.key),
    rangeEnd: q.end === undefined ? new Uint8Array(0) : enc(q.end),
    revision: q.rev ?? 0,
    limit: q.limit ?? 0,
    sortOrder: q.sortOrder ?? 0,
    sortTarget: q.sortTarget ?? 0,
    countOnly: q.countOnly ?? false,
    keysOnly: q.keysOnly ?? false,
    minModRevision: q.minMod ?? 0,
    maxModRevision: q.maxMod ?? 0,
    minCreateRevision: q.minCreate ?? 0,
    maxCreateRevision: q.maxCreate ?? 0,
  };
}

function compareReq(c: MCompare): Compare {
  const out: Compare = { key: enc(c.key), target: c.target, result: c.result };
  if (c.end !== undefined) out.rangeEnd = enc(c.end);
  const field = ['version', 'createRevision', 'modRevision', 'value', 'lease'][c.target]!;
  (out as Record<string, unknown>)[field] = c.target === 3 ? enc(c.operand as string) : c.operand;
  return out;
}

export function opReq(op: MOp): RequestOp {
  if ('range' in op) return { requestRange: rangeReq(op.range) };
  if ('put' in op) {
    return {
      requestPut: {
        key: enc(op.put.key),
        value: enc(op.put.value),
        lease: op.put.lease,
        prevKv: op.put.prevKv ?? false,
        ignoreValue: op.put.ignoreValue ?? false,
        ignoreLease: op.put.ignoreLease ?? false,
      },
    };
  }
  if ('del' in op) {
    return {
      requestDeleteRange: {
        key: enc(op.del.key),
        rangeEnd: op.del.end === undefined ? undefined : enc(op.del.end),
        prevKv: op.del.prevKv ?? false,
      },
    };
  }
  return { requestTxn: txnReq(op.txn) };
}

export function txnReq(t: MTxn): TxnRequest {
  return { compare: t.compare.map(compareReq), success: t.success.map(opReq), failure: t.failure.map(opReq) };
}

/** Store txn response in the model's response shape. */
export function fromResponses(responses: ResponseOp[]): unknown[] {
  return responses.map((r) => {
    if (r.responseRange) {
      return {
        range: {
          kvs: r.responseRange.kvs.map(toKv),
          more: r.responseRange.more,
          count: r.responseRange.count,
        },
      };
    }
    if (r.responsePut) return { put: r.responsePut.prevKv ? { prevKv: toKv(r.responsePut.prevKv) } : {} };
    if (r.responseDeleteRange) {
      return {
        del: { deleted: r.responseDeleteRange.deleted, prevKvs: r.responseDeleteRange.prevKvs.map(toKv) },
      };
    }
    return {
      txn: { succeeded: r.responseTxn!.succeeded, responses: fromResponses(r.responseTxn!.responses) },
    };
  });
}
