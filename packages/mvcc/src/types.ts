/**
 * Request and response shapes mirroring etcd's etcdserverpb / mvccpb messages with protobufjs-style
 * camelCase names, so decoded gRPC requests pass straight in. Every request field is optional; 64-bit
 * counts and revisions are numbers, lease ids are exact `bigint`s (etcd hands out ids above 2^53);
 * enums use etcd's numbers.
 */

/** mvccpb.KeyValue. */
export interface KeyValue {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  /** Lease id, 0n when the key has no lease (exact: etcd lease ids use all 63 bits). */
  lease: bigint;
}

/** RangeRequest.SortOrder. */
export const SortOrder = { NONE: 0, ASCEND: 1, DESCEND: 2 } as const;
export type SortOrder = (typeof SortOrder)[keyof typeof SortOrder];

/** RangeRequest.SortTarget. */
export const SortTarget = { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } as const;
export type SortTarget = (typeof SortTarget)[keyof typeof SortTarget];

/** Compare.CompareResult. */
export const CompareResult = { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } as const;
export type CompareResult = (typeof CompareResult)[keyof typeof CompareResult];

/** Compare.CompareTarget. */
export const CompareTarget = { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } as const;
export type CompareTarget = (typeof CompareTarget)[keyof typeof CompareTarget];

/** mvccpb.Event.EventType. */
export const EventType = { PUT: 0, DELETE: 1 } as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/** Anything protobufjs may hand us for an int64 field. */
export type Int64Like = number | { toNumber(): number } | string | null | undefined;

/**
 * A lease id as callers hand it in: a bigint (the generated codecs' exact form), a safe-integer number,
 * a decimal string, or absent (0n).
 */
export type IdLike = bigint | number | string | null | undefined;

export interface RangeRequest {
  key?: Uint8Array | null;
  /** Empty/absent: single key; `\0`: every key >= key; otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array | null;
  limit?: Int64Like;
  /** <= 0: the current revision. */
  revision?: Int64Like;
  sortOrder?: number | null;
  sortTarget?: number | null;
  /** Meaningful to the server (linearizable vs local read); the store always reads locally. */
  serializable?: boolean | null;
  keysOnly?: boolean | null;
  countOnly?: boolean | null;
  minModRevision?: Int64Like;
  maxModRevision?: Int64Like;
  minCreateRevision?: Int64Like;
  maxCreateRevision?: Int64Like;
}

export interface RangeResponse {
  kvs: KeyValue[];
  more: boolean;
  count: number;
}

export interface PutRequest {
  key?: Uint8Array | null;
  value?: Uint8Array | null;
  lease?: IdLike;
  prevKv?: boolean | null;
  ignoreValue?: boolean | null;
  ignoreLease?: boolean | null;
}

export interface PutResponse {
  prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  key?: Uint8Array | null;
  rangeEnd?: Uint8Array | null;
  prevKv?: boolean | null;
}

export interface DeleteRangeResponse {
  deleted: number;
  prevKvs: KeyValue[];
}

export interface Compare {
  result?: number | null;
  target?: number | null;
  key?: Uint8Array | null;
  rangeEnd?: Uint8Array | null;
  version?: Int64Like;
  createRevision?: Int64Like;
  modRevision?: Int64Like;
  value?: Uint8Array | null;
  lease?: IdLike;
}

export interface RequestOp {
  requestRange?: RangeRequest | null;
  requestPut?: PutRequest | null;
  requestDeleteRange?: DeleteRangeRequest | null;
  requestTxn?: TxnRequest | null;
}

export interface TxnRequest {
  compare?: Compare[] | null;
  success?: RequestOp[] | null;
  failure?: RequestOp[] | null;
}

export interface ResponseOp {
  responseRange?: RangeResponse;
  responsePut?: PutResponse;
  responseDeleteRange?: DeleteRangeResponse;
  responseTxn?: TxnResponse;
}

export interface TxnResponse {
  succeeded: boolean;
  responses: ResponseOp[];
}

/** mvccpb.Event. */
export interface Event {
  type: EventType;
  kv: KeyValue;
  prevKv?: KeyValue;
}

/** Normalises a protobufjs int64 (number, Long, string or absent) to a number. */
export function toNum(v: Int64Like): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/**
 * Normalises a lease id to an exact bigint (0n when absent).
 *
 * @example
 * ```ts
 * toId(3182763892645462267n); // 3182763892645462267n
 * toId(42); // 42n
 * toId(undefined); // 0n
 * ```
 */
export function toId(v: IdLike): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`lease id ${v} is not exact; pass a bigint`);
    return BigInt(v);
  }
  return BigInt(v);
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);
