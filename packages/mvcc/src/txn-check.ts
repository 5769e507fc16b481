/**
 * Request validation etcd performs before a request reaches raft (etcdserver/api/v3rpc/key.go): empty
 * keys and keys written twice in one txn. The server may call these at the gRPC edge; the store runs them
 * again so it never applies a request etcd would have refused.
 */
import { bytesToKey } from './btree.js';
import { ErrDuplicateKey, ErrEmptyKey } from './errors.js';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';

function checkKey(key: Uint8Array | null | undefined): void {
  if (!key || key.length === 0) throw new ErrEmptyKey();
}

export function checkRangeRequest(r: RangeRequest): void {
  checkKey(r.key);
}

export function checkPutRequest(r: PutRequest): void {
  checkKey(r.key);
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  checkKey(r.key);
}

/** A delete interval over latin1 key strings; `end` undefined: single key. */
interface Interval {
  start: string;
  end: string | undefined;
}

function intervalOf(r: DeleteRangeRequest): Interval {
  const start = bytesToKey(r.key!);
  const end = r.rangeEnd && r.rangeEnd.length > 0 ? bytesToKey(r.rangeEnd) : undefined;
  // Like etcd's affine intervals, a "\0" range end is compared literally (so from-key deletes never
  // collide with puts here); only the server's apply order decides the outcome then.
  return { start, end };
}

function covers(dels: Interval[], k: string): boolean {
  for (const d of dels) {
    if (d.end === undefined) {
      if (d.start === k) return true;
    } else if (k >= d.start && k < d.end) return true;
  }
  return false;
}

/** etcd's checkIntervals: returns this level's puts and deletes; throws on overlap. */
function checkIntervals(reqs: RequestOp[]): [Set<string>, Interval[]] {
  const dels: Interval[] = [];
  for (const op of reqs) if (op.requestDeleteRange) dels.push(intervalOf(op.requestDeleteRange));
  const puts = new Set<string>();
  for (const op of reqs) {
    if (!op.requestTxn) continue;
    const [putsThen, delsThen] = checkIntervals(op.requestTxn.success ?? []);
    const [putsElse, delsElse] = checkIntervals(op.requestTxn.failure ?? []);
    for (const k of putsThen) {
      if (puts.has(k) || covers(dels, k)) throw new ErrDuplicateKey();
      puts.add(k);
    }
    for (const k of putsElse) {
      // Then and else are mutually exclusive, so a key in both branches is fine.
      if (puts.has(k) && !putsThen.has(k)) throw new ErrDuplicateKey();
      if (covers(dels, k)) throw new ErrDuplicateKey();
      puts.add(k);
    }
    dels.push(...delsThen, ...delsElse);
  }
  for (const op of reqs) {
    if (!op.requestPut) continue;
    const k = bytesToKey(op.requestPut.key!);
    if (puts.has(k) || covers(dels, k)) throw new ErrDuplicateKey();
    puts.add(k);
  }
  return [puts, dels];
}

function checkOps(reqs: RequestOp[]): void {
  for (const op of reqs) {
    if (op.requestRange) checkRangeRequest(op.requestRange);
    else if (op.requestPut) checkPutRequest(op.requestPut);
    else if (op.requestDeleteRange) checkDeleteRequest(op.requestDeleteRange);
    else if (op.requestTxn) checkTxnRequest(op.requestTxn);
  }
}

/** Validates a txn like etcd's checkTxnRequest + checkIntervals (keys present, no duplicate writes). */
export function checkTxnRequest(r: TxnRequest): void {
  for (const c of r.compare ?? []) checkKey(c.key);
  checkOps(r.success ?? []);
  checkOps(r.failure ?? []);
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  if (mayOverlap(success)) checkIntervals(success);
  if (mayOverlap(failure)) checkIntervals(failure);
}

/** A branch of one plain op cannot write a key twice: skip building its key sets (the common txn). */
function mayOverlap(reqs: RequestOp[]): boolean {
  return reqs.length > 1 || (reqs.length === 1 && Boolean(reqs[0]!.requestTxn));
}
