/**
 * Request builders for the KV service: range/put/delete options to wire requests, and a typed
 * transaction builder (compares + operations).
 */
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  type Compare as CompareMsg,
  type DeepPartial,
  type DeleteRangeRequest,
  type PutRequest,
  type RangeRequest,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type RequestOp,
  type TxnRequest,
} from './api/index.js';
import { type Bytes, prefixEnd, toBytes } from './bytes.js';
import type { CallOpts } from './connection.js';
import { type Id, wireId } from './ids.js';

/**
 * Which keys a range-style request covers, beyond the single key.
 *
 * @example
 * ```ts
 * const scope: RangeScope = { prefix: true };
 * await client.delete('tmp/', scope);
 * ```
 */
export interface RangeScope {
  /** Every key starting with the key. */
  prefix?: boolean;
  /** Every key >= the key (an empty key with `fromKey` means all keys). */
  fromKey?: boolean;
  /** Explicit exclusive end of the range. */
  rangeEnd?: Bytes;
}

/**
 * Options of `get`/`range`.
 *
 * @example
 * ```ts
 * const opts: GetOptions = { prefix: true, limit: 100, sortTarget: 'mod', sortOrder: 'descend' };
 * const recent = await client.get('events/', opts);
 * ```
 */
export interface GetOptions extends RangeScope {
  limit?: number;
  /** Read at this revision (0 = latest). */
  revision?: number;
  sortOrder?: 'none' | 'ascend' | 'descend';
  sortTarget?: 'key' | 'version' | 'create' | 'mod' | 'value';
  /** Serve from the local member without a quorum round (etcd's `--consistency=s`). */
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
  minModRevision?: number;
  maxModRevision?: number;
  minCreateRevision?: number;
  maxCreateRevision?: number;
}

/**
 * Options of `put`.
 *
 * @example
 * ```ts
 * await client.put('services/api', '10.0.0.1:80', { lease: session.lease, prevKv: true });
 * ```
 */
export interface PutOptions {
  /** Attach the key to this lease (0 = none). */
  lease?: Id;
  /** Return the previous key-value in `prevKv`. */
  prevKv?: boolean;
  /** Keep the current value (the key must exist). */
  ignoreValue?: boolean;
  /** Keep the current lease (the key must exist). */
  ignoreLease?: boolean;
}

/**
 * Options of `delete`.
 *
 * @example
 * ```ts
 * const { deleted, prevKvs } = await client.delete('jobs/', { prefix: true, prevKv: true });
 * ```
 */
export interface DeleteOptions extends RangeScope {
  /** Return the deleted key-values in `prevKvs`. */
  prevKv?: boolean;
}

/**
 * The wire key for a scope: an empty key with `prefix` or `fromKey` means "all keys", which etcd
 * spells as key `\0` (clientv3 does the same; etcd rejects an empty key).
 *
 * @example
 * ```ts
 * keyFor(new Uint8Array(0), { prefix: true }); // Uint8Array [0]: etcd's spelling of 'all keys'
 * ```
 */
export function keyFor(key: Uint8Array, scope: RangeScope): Uint8Array {
  return key.length === 0 && (scope.prefix || scope.fromKey) && scope.rangeEnd === undefined
    ? new Uint8Array([0])
    : key;
}

/**
 * Computes the wire `range_end` for a key and scope.
 *
 * @example
 * ```ts
 * rangeEndFor(toBytes('app/'), { prefix: true }); // bytes of 'app0'
 * ```
 */
export function rangeEndFor(key: Uint8Array, scope: RangeScope): Uint8Array {
  if (scope.rangeEnd !== undefined) return toBytes(scope.rangeEnd);
  if (scope.prefix) return key.length === 0 ? new Uint8Array([0]) : prefixEnd(key);
  if (scope.fromKey) return new Uint8Array([0]);
  return new Uint8Array(0);
}

const SORT_ORDER = {
  none: RangeRequest_SortOrder.NONE,
  ascend: RangeRequest_SortOrder.ASCEND,
  descend: RangeRequest_SortOrder.DESCEND,
} as const;
const SORT_TARGET = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
} as const;

/** Builds a RangeRequest. */
export function rangeRequest(key: Bytes, opts: GetOptions = {}): DeepPartial<RangeRequest> {
  const k = toBytes(key);
  return {
    key: keyFor(k, opts),
    rangeEnd: rangeEndFor(k, opts),
    limit: opts.limit ?? 0,
    revision: opts.revision ?? 0,
    sortOrder: SORT_ORDER[opts.sortOrder ?? 'none'],
    sortTarget: SORT_TARGET[opts.sortTarget ?? 'key'],
    serializable: opts.serializable ?? false,
    keysOnly: opts.keysOnly ?? false,
    countOnly: opts.countOnly ?? false,
    minModRevision: opts.minModRevision ?? 0,
    maxModRevision: opts.maxModRevision ?? 0,
    minCreateRevision: opts.minCreateRevision ?? 0,
    maxCreateRevision: opts.maxCreateRevision ?? 0,
  };
}

/** Builds a PutRequest. */
export function putRequest(key: Bytes, value: Bytes, opts: PutOptions = {}): DeepPartial<PutRequest> {
  return {
    key: toBytes(key),
    value: toBytes(value),
    lease: wireId(opts.lease ?? 0),
    prevKv: opts.prevKv ?? false,
    ignoreValue: opts.ignoreValue ?? false,
    ignoreLease: opts.ignoreLease ?? false,
  };
}

/** Builds a DeleteRangeRequest. */
export function deleteRequest(key: Bytes, opts: DeleteOptions = {}): DeepPartial<DeleteRangeRequest> {
  const k = toBytes(key);
  return { key: keyFor(k, opts), rangeEnd: rangeEndFor(k, opts), prevKv: opts.prevKv ?? false };
}

/**
 * Operations usable inside a transaction.
 *
 * @example
 * ```ts
 * await client
 *   .txn()
 *   .then(Op.put('a', '1', { lease: session.lease }), Op.get('b'), Op.delete('c/', { prefix: true }))
 *   .commit();
 * ```
 */
export const Op = {
  get: (key: Bytes, opts?: GetOptions): DeepPartial<RequestOp> => ({ requestRange: rangeRequest(key, opts) }),
  /** A put inside a transaction (a lease id above 2^53 is passed as a bigint and stays exact). */
  put: (key: Bytes, value: Bytes, opts?: PutOptions): DeepPartial<RequestOp> => ({
    requestPut: putRequest(key, value, opts),
  }),
  delete: (key: Bytes, opts?: DeleteOptions): DeepPartial<RequestOp> => ({
    requestDeleteRange: deleteRequest(key, opts),
  }),
  txn: (req: DeepPartial<TxnRequest>): DeepPartial<RequestOp> => ({ requestTxn: req }),
};

/**
 * Comparison operators, as written in etcdctl's txn syntax.
 *
 * @example
 * ```ts
 * const op: CompareOp = '!=';
 * await client.txn().if(Cmp.version('k', op, 0)).then(Op.delete('k')).commit();
 * ```
 */
export type CompareOp = '=' | '!=' | '>' | '<';

const RESULT: Record<CompareOp, Compare_CompareResult> = {
  '=': Compare_CompareResult.EQUAL,
  '!=': Compare_CompareResult.NOT_EQUAL,
  '>': Compare_CompareResult.GREATER,
  '<': Compare_CompareResult.LESS,
};

/**
 * Transaction guards. Each returns a wire `Compare`; `create(key, '=', 0)` means "key absent".
 *
 * @example
 * ```ts
 * await client
 *   .txn()
 *   .if(Cmp.value('k', '=', 'v1'), Cmp.mod('other', '<', 100), Cmp.create('absent', '=', 0))
 *   .then(Op.put('k', 'v2'))
 *   .commit();
 * ```
 */
export const Cmp = {
  value: (key: Bytes, op: CompareOp, value: Bytes, scope?: RangeScope): DeepPartial<CompareMsg> =>
    cmp(key, op, Compare_CompareTarget.VALUE, { value: toBytes(value) }, scope),
  version: (key: Bytes, op: CompareOp, version: number, scope?: RangeScope): DeepPartial<CompareMsg> =>
    cmp(key, op, Compare_CompareTarget.VERSION, { version }, scope),
  create: (key: Bytes, op: CompareOp, revision: number, scope?: RangeScope): DeepPartial<CompareMsg> =>
    cmp(key, op, Compare_CompareTarget.CREATE, { createRevision: revision }, scope),
  mod: (key: Bytes, op: CompareOp, revision: number, scope?: RangeScope): DeepPartial<CompareMsg> =>
    cmp(key, op, Compare_CompareTarget.MOD, { modRevision: revision }, scope),
  /** Compares the key's lease id (a bigint id above 2^53 stays exact). */
  lease: (key: Bytes, op: CompareOp, lease: Id, scope?: RangeScope): DeepPartial<CompareMsg> =>
    cmp(key, op, Compare_CompareTarget.LEASE, { lease: wireId(lease) }, scope),
};

function cmp(
  key: Bytes,
  op: CompareOp,
  target: Compare_CompareTarget,
  operand: DeepPartial<CompareMsg>,
  scope: RangeScope = {},
): DeepPartial<CompareMsg> {
  const k = toBytes(key);
  return { key: k, rangeEnd: rangeEndFor(k, scope), result: RESULT[op], target, ...operand };
}

/** A callback as `Promise.then` receives it. */
type Settle<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;

/**
 * Fluent transaction, as in clientv3 and the npm etcd3 client:
 * `client.txn().if(Cmp.value('k', '=', 'v')).then(Op.put('k', 'w')).else(Op.get('k')).commit()`.
 * `if`, `then`/`success` and `else`/`failure` may repeat; each appends. `commit()` sends it (once;
 * later calls return the same result).
 *
 * @example
 * ```ts
 * const res = await client
 *   .txn()
 *   .if(Cmp.version('config', '=', 0))
 *   .then(Op.put('config', 'v1'))
 *   .else(Op.get('config'))
 *   .commit();
 * console.log(res.succeeded);
 * ```
 */
export class TxnBuilder<R> {
  private readonly req: {
    compare: DeepPartial<CompareMsg>[];
    success: DeepPartial<RequestOp>[];
    failure: DeepPartial<RequestOp>[];
  } = {
    compare: [],
    success: [],
    failure: [],
  };
  private sent: Promise<R> | undefined;
  private call: CallOpts = {};
  constructor(private readonly run: (req: DeepPartial<TxnRequest>, call: CallOpts) => Promise<R>) {}
  /** Sets the call options (deadline, abort signal) used when the transaction is sent. */
  options(call: CallOpts): this {
    this.call = { ...this.call, ...call };
    return this;
  }
  /** Adds guards (all must hold for the success branch to run). */
  if(...compares: DeepPartial<CompareMsg>[]): this {
    this.req.compare.push(...compares);
    return this;
  }
  /** Adds operations run when every guard holds (same as `then` with operations). */
  success(...ops: DeepPartial<RequestOp>[]): this {
    this.req.success.push(...ops);
    return this;
  }
  /** Adds operations run when a guard fails (same as `else`). */
  failure(...ops: DeepPartial<RequestOp>[]): this {
    this.req.failure.push(...ops);
    return this;
  }
  /** Adds operations run when a guard fails. */
  else(...ops: DeepPartial<RequestOp>[]): this {
    return this.failure(...ops);
  }
  /**
   * Adds operations run when every guard holds. (Called by a plain-JavaScript `await` with two
   * callbacks, it sends the transaction instead, so awaiting a builder still works at run time;
   * TypeScript asks for `.commit()`.)
   */
  // biome-ignore lint/suspicious/noThenProperty: clientv3's and etcd3's name for the success branch
  then(...ops: DeepPartial<RequestOp>[]): this {
    const args = ops as unknown[];
    if (args.length > 0 && args.every((a) => a === undefined || a === null || typeof a === 'function')) {
      void this.commit().then(args[0] as Settle<R, unknown>, args[1] as Settle<unknown, unknown>);
      return this;
    }
    return this.success(...ops);
  }
  /** Sends the transaction and handles a failure. */
  catch<B = never>(onrejected?: Settle<unknown, B>): Promise<R | B> {
    return this.commit().catch(onrejected);
  }
  /** The request built so far. */
  request(): DeepPartial<TxnRequest> {
    return this.req;
  }
  /** Sends the transaction (once; later calls return the same result). */
  commit(): Promise<R> {
    this.sent ??= this.run(this.req, this.call);
    return this.sent;
  }
}
