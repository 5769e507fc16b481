/**
 * A sequential model of etcd's KV store (mvcc + lessor), as pure functions: given a state and a
 * request, the state after it, the response etcd would give and the changes a watch would see.
 *
 * Facts it follows (from etcd 3.4's applier and mvcc, checked against the running etcd):
 * - every write transaction that changes something takes the next revision; all its puts and deletes
 *   share it. A delete or txn that changes nothing does not advance the revision, and answers with the
 *   current one, as reads do;
 * - a put keeps the key's create revision, sets its mod revision and adds one to its version; a delete
 *   removes the key (a later put starts again at version 1 with a new create revision);
 * - a compare on a missing key compares against a zero KeyValue, except `value`, which is always false;
 * - reads inside a transaction see the transaction's earlier writes;
 * - a put with an unknown lease fails as a whole (LeaseNotFound); revoking a lease deletes its keys in
 *   one revision; lease grants answer the current revision.
 * Leases never expire in this model: histories must use TTLs longer than the run (the harness does).
 */
import type { Compare, KeyValue, Request, Response, TxnOp, TxnOpResult } from './history.js';

/** The whole store: current revision, live keys and granted leases. Never mutated. */
export interface KvState {
  readonly rev: number;
  readonly kvs: ReadonlyMap<string, KeyValue>;
  readonly leases: ReadonlySet<string>;
}

/** One change as a watch reports it. */
export interface Change {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  /** For a delete: key and modRevision only, the rest zero, as etcd's delete events. */
  kv: KeyValue;
  prev?: KeyValue;
}

/** The result of applying a request. */
export type Applied =
  | { ok: true; state: KvState; response: Response; changes: Change[] }
  | { ok: false; error: string };

/**
 * A fresh store at `revision` (etcd starts at 1) holding `kvs`.
 *
 * @example
 * const s = initialState(1); // empty store at revision 1, as a new etcd
 */
export function initialState(revision = 1, kvs: readonly KeyValue[] = []): KvState {
  return { rev: revision, kvs: new Map(kvs.map((kv) => [kv.key, kv])), leases: new Set() };
}

/** A deterministic fingerprint of a state, for memoisation. */
export function stateKey(s: KvState): string {
  const keys = [...s.kvs.keys()].sort();
  let out = `${s.rev}|`;
  for (const k of keys) {
    const kv = s.kvs.get(k)!;
    out += `${k}\u0000${kv.value}\u0000${kv.createRevision},${kv.modRevision},${kv.version},${kv.lease}\u0001`;
  }
  if (s.leases.size > 0) out += `|${[...s.leases].sort().join(',')}`;
  return out;
}

/** The KeyValue a compare sees for a missing key. */
const ABSENT: KeyValue = { key: '', value: '', createRevision: 0, modRevision: 0, version: 0, lease: '0' };

/**
 * Evaluates one compare against a key's record (undefined = missing), as etcd's applyCompare.
 *
 * @example
 * evalCompare({ key: 'a', target: 'create', result: '=', operand: 0 }, undefined); // true: absent
 */
export function evalCompare(c: Compare, kv: KeyValue | undefined): boolean {
  if (!kv && c.target === 'value') return false;
  const cur = kv ?? ABSENT;
  let cmp: number;
  switch (c.target) {
    case 'value': {
      const a = Buffer.from(cur.value);
      const b = Buffer.from(String(c.operand));
      cmp = Buffer.compare(a, b);
      break;
    }
    case 'lease':
      cmp = compareBig(BigInt(cur.lease), BigInt(c.operand));
      break;
    case 'version':
      cmp = Math.sign(cur.version - Number(c.operand));
      break;
    case 'create':
      cmp = Math.sign(cur.createRevision - Number(c.operand));
      break;
    case 'mod':
      cmp = Math.sign(cur.modRevision - Number(c.operand));
      break;
  }
  switch (c.result) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '>':
      return cmp > 0;
    case '<':
      return cmp < 0;
  }
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A mutable working copy used while applying one request. */
interface Work {
  kvs: Map<string, KeyValue>;
  leases: Set<string>;
  changes: Change[];
  next: number;
}

function putInto(w: Work, key: string, value: string, lease: string | undefined): string | undefined {
  const l = lease ?? '0';
  if (l !== '0' && !w.leases.has(l)) return 'lease not found';
  const prev = w.kvs.get(key);
  const kv: KeyValue = {
    key,
    value,
    createRevision: prev ? prev.createRevision : w.next,
    modRevision: w.next,
    version: prev ? prev.version + 1 : 1,
    lease: l,
  };
  w.kvs.set(key, kv);
  w.changes.push({ revision: w.next, key, type: 'put', kv, prev });
  return undefined;
}

function deleteFrom(w: Work, key: string): number {
  const prev = w.kvs.get(key);
  if (!prev) return 0;
  w.kvs.delete(key);
  w.changes.push({
    revision: w.next,
    key,
    type: 'delete',
    kv: { key, value: '', createRevision: 0, modRevision: w.next, version: 0, lease: '0' },
    prev,
  });
  return 1;
}

function runTxnOp(w: Work, op: TxnOp): TxnOpResult | string {
  switch (op.type) {
    case 'put': {
      const err = putInto(w, op.key, op.value, op.lease);
      return err ?? { type: 'put' };
    }
    case 'get': {
      const kv = w.kvs.get(op.key);
      // A read after a write in the same txn sees the pending revision (etcd's storeTxnWrite.Range).
      return { type: 'get', kvs: kv ? [kv] : [] };
    }
    case 'delete':
      return { type: 'delete', deleted: deleteFrom(w, op.key) };
  }
}

/**
 * Applies a request to a state. `observed` is only consulted for what the server chooses and the model
 * cannot know: the id of a granted lease.
 *
 * @example
 * const a = applyRequest(initialState(), { type: 'put', key: 'k', value: 'v' });
 * // a.ok && a.response => { type: 'put', revision: 2 }
 */
export function applyRequest(s: KvState, req: Request, observed?: Response): Applied {
  const w: Work = { kvs: new Map(s.kvs), leases: new Set(s.leases), changes: [], next: s.rev + 1 };
  const done = (response: Response): Applied => {
    const changed = w.changes.length > 0;
    const state: KvState = changed
      ? { rev: s.rev + 1, kvs: w.kvs, leases: w.leases }
      : w.leases.size !== s.leases.size
        ? { rev: s.rev, kvs: s.kvs, leases: w.leases }
        : s;
    return { ok: true, state, response, changes: w.changes };
  };
  const rev = () => (w.changes.length > 0 ? s.rev + 1 : s.rev);
  switch (req.type) {
    case 'get': {
      const kv = s.kvs.get(req.key);
      return done({ type: 'get', revision: s.rev, kvs: kv ? [kv] : [] });
    }
    case 'put': {
      const err = putInto(w, req.key, req.value, req.lease);
      if (err) return { ok: false, error: err };
      return done({ type: 'put', revision: rev() });
    }
    case 'delete': {
      const deleted = deleteFrom(w, req.key);
      return done({ type: 'delete', revision: rev(), deleted });
    }
    case 'txn': {
      const succeeded = req.compare.every((c) => evalCompare(c, s.kvs.get(c.key)));
      const results: TxnOpResult[] = [];
      for (const op of succeeded ? req.success : req.failure) {
        const r = runTxnOp(w, op);
        if (typeof r === 'string') return { ok: false, error: r };
        results.push(r);
      }
      return done({ type: 'txn', revision: rev(), succeeded, results });
    }
    case 'leaseGrant': {
      if (observed?.type !== 'leaseGrant') return { ok: false, error: 'lease id unknown' };
      if (w.leases.has(observed.id)) return { ok: false, error: 'lease already exists' };
      w.leases.add(observed.id);
      return done({ type: 'leaseGrant', revision: s.rev, id: observed.id });
    }
    case 'leaseRevoke': {
      if (!w.leases.has(req.id)) return { ok: false, error: 'lease not found' };
      w.leases.delete(req.id);
      for (const key of [...w.kvs.keys()].sort()) {
        if (w.kvs.get(key)!.lease === req.id) deleteFrom(w, key);
      }
      return done({ type: 'leaseRevoke', revision: rev() });
    }
  }
}

function sameKvs(a: readonly KeyValue[], b: readonly KeyValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.key !== y.key ||
      x.value !== y.value ||
      x.createRevision !== y.createRevision ||
      x.modRevision !== y.modRevision ||
      x.version !== y.version ||
      x.lease !== y.lease
    ) {
      return false;
    }
  }
  return true;
}

/**
 * Whether a response the server gave equals the model's, field by field, revision included.
 *
 * @example
 * sameResponse({ type: 'put', revision: 2 }, { type: 'put', revision: 2 }); // true
 */
export function sameResponse(model: Response, got: Response): boolean {
  if (model.type !== got.type || model.revision !== got.revision) return false;
  switch (model.type) {
    case 'get':
      return sameKvs(model.kvs, (got as typeof model).kvs);
    case 'delete':
      return model.deleted === (got as typeof model).deleted;
    case 'txn': {
      const g = got as typeof model;
      if (model.succeeded !== g.succeeded || model.results.length !== g.results.length) return false;
      return model.results.every((r, i) => {
        const o = g.results[i]!;
        if (r.type !== o.type) return false;
        if (r.type === 'get') return sameKvs(r.kvs, (o as typeof r).kvs);
        if (r.type === 'delete') return r.deleted === (o as typeof r).deleted;
        return true;
      });
    }
    case 'leaseGrant':
      return model.id === (got as typeof model).id;
    default:
      return true;
  }
}
