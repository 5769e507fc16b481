/**
 * The KV service: Range, Put, DeleteRange, Txn, Compact with etcd's request checks
 * (api/v3rpc/key.go) before anything is proposed.
 */
import type {
  CompactionRequest,
  CompactionResponse,
  DeepPartial,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '@kv/client/api';
import { bytesToKey } from '@kv/mvcc';
import { checkRange, checkTxn as checkTxnAuth } from '../auth/permissions.js';
import { Errors, toEtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { header } from './context.js';
import { ANONYMOUS, type CallContext } from './identity.js';
import { withIdentity } from './propose.js';

type Resp<T> = DeepPartial<T>;

const isEmpty = (b: Uint8Array | undefined): boolean => !b || b.length === 0;

/** Handlers of etcdserverpb.KV. */
export class KvApi {
  constructor(
    private readonly etcd: EtcdServer,
    private readonly maxTxnOps: number,
  ) {}

  async range(req: RangeRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<RangeResponse>> {
    if (isEmpty(req.key)) throw Errors.emptyKey();
    if (!req.serializable) await this.etcd.readBarrier();
    // Reads are checked on the serving member, after the barrier (etcd's doSerialize).
    if (this.etcd.auth.isEnabled()) checkRange(this.etcd.auth, ctx.authInfo, req);
    try {
      const r = await this.etcd.store.range(req);
      this.etcd.metrics.rangeTotal.inc();
      return { header: header(this.etcd, r.revision), ...r.response };
    } catch (err) {
      throw toEtcdError(err);
    }
  }

  async put(req: PutRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<PutResponse>> {
    if (isEmpty(req.key)) throw Errors.emptyKey();
    if (req.ignoreValue && req.value?.length) throw Errors.valueProvided();
    if (req.ignoreLease && req.lease) throw Errors.leaseProvided();
    // After the request's own checks, as etcd 3.4.23 orders them (checked against the real etcd).
    // Usually answered synchronously (no promise to wait for).
    const quota = this.etcd.checkQuota({ put: req });
    if (quota) await quota;
    const r = await this.etcd.propose(withIdentity({ put: req }, ctx), ctx?.caller);
    return { header: header(this.etcd, r.revision), ...(r.response as object) };
  }

  async deleteRange(
    req: DeleteRangeRequest,
    ctx: CallContext = ANONYMOUS,
  ): Promise<Resp<DeleteRangeResponse>> {
    if (isEmpty(req.key)) throw Errors.emptyKey();
    const r = await this.etcd.propose(withIdentity({ deleteRange: req }, ctx), ctx?.caller);
    return { header: header(this.etcd, r.revision), ...(r.response as object) };
  }

  async txn(req: TxnRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<TxnResponse>> {
    checkTxn(req, this.maxTxnOps);
    const quota = this.etcd.checkQuota({ txn: req });
    if (quota) await quota;
    if (isReadOnly(req)) {
      if (!isSerializable(req)) await this.etcd.readBarrier();
      // Served without raft, so checked here (writes are checked in apply).
      if (this.etcd.auth.isEnabled()) checkTxnAuth(this.etcd.auth, ctx.authInfo, req);
      try {
        // A read-only txn needs no raft round (etcd evaluates it locally too).
        const r = await this.etcd.store.readTxn(req);
        const resp = r.response as TxnResponse;
        addNestedHeaders(resp.responses, r.revision);
        return { header: header(this.etcd, r.revision), ...resp };
      } catch (err) {
        throw toEtcdError(err);
      }
    }
    const r = await this.etcd.propose(withIdentity({ txn: req }, ctx), ctx?.caller);
    const resp = r.response as TxnResponse;
    addNestedHeaders(resp.responses, r.revision!);
    return { header: header(this.etcd, r.revision), ...resp };
  }

  async compact(req: CompactionRequest, ctx: CallContext = ANONYMOUS): Promise<Resp<CompactionResponse>> {
    const r = await this.etcd.propose(withIdentity({ compaction: req }, ctx), ctx?.caller);
    return { header: header(this.etcd, r.revision) };
  }
}

/** etcd puts a header with only the revision on responses nested in a txn. */
function addNestedHeaders(responses: ResponseOp[], revision: number): void {
  for (const op of responses) {
    const inner = op.responseRange ?? op.responsePut ?? op.responseDeleteRange ?? op.responseTxn;
    if (inner) (inner as { header?: unknown }).header = { revision };
    if (op.responseTxn) addNestedHeaders(op.responseTxn.responses, revision);
  }
}

function isReadOnly(req: TxnRequest): boolean {
  const readOnly = (op: RequestOp) => op.requestRange || (op.requestTxn && isReadOnly(op.requestTxn));
  // Two passes instead of a concatenated copy of both branches (this runs for every txn).
  return (req.success ?? []).every(readOnly) && (req.failure ?? []).every(readOnly);
}

function isSerializable(req: TxnRequest): boolean {
  const serializable = (op: RequestOp) =>
    op.requestRange ? op.requestRange.serializable : op.requestTxn ? isSerializable(op.requestTxn) : true;
  return (req.success ?? []).every(serializable) && (req.failure ?? []).every(serializable);
}

/** etcd's checkTxnRequest + checkIntervals: op counts, empty keys, duplicate writes per branch. */
export function checkTxn(req: TxnRequest, maxTxnOps: number): void {
  const compare = req.compare ?? [];
  const success = req.success ?? [];
  const failure = req.failure ?? [];
  if (compare.length > maxTxnOps || success.length > maxTxnOps || failure.length > maxTxnOps) {
    throw Errors.tooManyOps();
  }
  for (const c of compare) if (isEmpty(c.key)) throw Errors.emptyKey();
  for (const op of success) checkOp(op, maxTxnOps);
  for (const op of failure) checkOp(op, maxTxnOps);
  // A branch of one plain op cannot write a key twice: skip building its key sets (the common txn).
  if (success.length > 1 || success[0]?.requestTxn) branchWrites(success);
  if (failure.length > 1 || failure[0]?.requestTxn) branchWrites(failure);
}

function checkOp(op: RequestOp, maxTxnOps: number): void {
  // An op without a request is refused like etcd's checkRequestOp does.
  if (!op.requestRange && !op.requestPut && !op.requestDeleteRange && !op.requestTxn) {
    throw Errors.keyNotFound();
  }
  if (op.requestRange && isEmpty(op.requestRange.key)) throw Errors.emptyKey();
  if (op.requestPut && isEmpty(op.requestPut.key)) throw Errors.emptyKey();
  if (op.requestDeleteRange && isEmpty(op.requestDeleteRange.key)) throw Errors.emptyKey();
  if (op.requestTxn) checkTxn(op.requestTxn, maxTxnOps);
}

interface Writes {
  puts: Set<string>;
  dels: Array<[string, string | undefined]>; // [start, end) in latin1; end undefined = single key, '\0' = to infinity
}

function inDel(key: string, dels: Writes['dels']): boolean {
  return dels.some(([s, e]) => (e === undefined ? key === s : e === '\0' ? key >= s : key >= s && key < e));
}

/** Collects a branch's writes, throwing duplicateKey on a key put twice or put inside a deleted range. */
function branchWrites(ops: RequestOp[]): Writes {
  const w: Writes = { puts: new Set(), dels: [] };
  for (const op of ops) {
    if (op.requestDeleteRange) {
      const end = op.requestDeleteRange.rangeEnd;
      w.dels.push([bytesToKey(op.requestDeleteRange.key), isEmpty(end) ? undefined : bytesToKey(end)]);
    }
  }
  for (const op of ops) {
    if (op.requestPut) {
      const k = bytesToKey(op.requestPut.key);
      if (w.puts.has(k) || inDel(k, w.dels)) throw Errors.duplicateKey();
      w.puts.add(k);
    } else if (op.requestTxn) {
      // Writes of either nested branch may happen together with this branch's writes.
      for (const inner of [
        branchWrites(op.requestTxn.success ?? []),
        branchWrites(op.requestTxn.failure ?? []),
      ]) {
        for (const k of inner.puts) {
          if (w.puts.has(k) || inDel(k, w.dels)) throw Errors.duplicateKey();
        }
        for (const k of w.puts) if (inDel(k, inner.dels)) throw Errors.duplicateKey();
      }
      const s = branchWrites(op.requestTxn.success ?? []);
      const f = branchWrites(op.requestTxn.failure ?? []);
      for (const k of [...s.puts, ...f.puts]) w.puts.add(k);
      w.dels.push(...s.dels, ...f.dels);
    }
  }
  return w;
}
