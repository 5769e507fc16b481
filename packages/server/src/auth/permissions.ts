/**
 * The permission checks of each KV-touching request, as etcd's applierV3Auth and v3 server do them.
 * Every function is a no-op while auth is disabled and throws a typed AuthError otherwise.
 *
 * Writes (Put, DeleteRange, Txn, LeaseRevoke) must be checked in the APPLY path with the identity from
 * the entry's RequestHeader (username + auth_revision), so every member decides alike; reads (Range,
 * read-only Txn, Watch create) are checked on the serving member before reading.
 */
import { type IdLike, toId } from '@kv/mvcc';
import type { AccessKind, AuthInfo, AuthStore } from './store.js';

/** The request fields the checks look at (mvcc's and the generated messages both fit). */
interface KeyRange {
  key?: Uint8Array | null;
  rangeEnd?: Uint8Array | null;
}
export interface RangeLike extends KeyRange {}
export interface PutLike {
  key?: Uint8Array | null;
  prevKv?: boolean | null;
  lease?: IdLike;
}
export interface DeleteRangeLike extends KeyRange {
  prevKv?: boolean | null;
}
export interface RequestOpLike {
  requestRange?: RangeLike | null;
  requestPut?: PutLike | null;
  requestDeleteRange?: DeleteRangeLike | null;
  requestTxn?: TxnLike | null;
}
export interface TxnLike {
  compare?: KeyRange[] | null;
  success?: RequestOpLike[] | null;
  failure?: RequestOpLike[] | null;
}

/** Keys currently attached to a lease (the server's lessor answers). */
export type LeaseKeys = (leaseId: bigint) => Iterable<Uint8Array>;

const EMPTY = new Uint8Array(0);

function check(store: AuthStore, info: AuthInfo | undefined, r: KeyRange, kind: AccessKind): void {
  store.checkOp(info, r.key ?? EMPTY, r.rangeEnd, kind);
}

/** Range: read on [key, range_end). */
export function checkRange(store: AuthStore, info: AuthInfo | undefined, r: RangeLike): void {
  check(store, info, r, 'read');
}

/**
 * Put: write on the key; read too with prev_kv; with a lease, write on every key already attached to
 * that lease (etcd's checkLeasePuts: attaching to a lease lets its revoker delete the key).
 */
export function checkPut(
  store: AuthStore,
  info: AuthInfo | undefined,
  r: PutLike,
  leaseKeys?: LeaseKeys,
): void {
  if (!store.isEnabled()) return;
  check(store, info, { key: r.key }, 'write');
  if (r.prevKv) check(store, info, { key: r.key }, 'read');
  const id = toId(r.lease);
  if (id !== 0n && leaseKeys) checkLeaseKeys(store, info, leaseKeys(id));
}

/** DeleteRange: write on the range; read too with prev_kv. */
export function checkDeleteRange(store: AuthStore, info: AuthInfo | undefined, r: DeleteRangeLike): void {
  if (!store.isEnabled()) return;
  check(store, info, r, 'write');
  if (r.prevKv) check(store, info, r, 'read');
}

/** Txn: read on every compare's range, then every op of both branches, recursively. */
export function checkTxn(
  store: AuthStore,
  info: AuthInfo | undefined,
  r: TxnLike,
  leaseKeys?: LeaseKeys,
): void {
  if (!store.isEnabled()) return;
  for (const c of r.compare ?? []) check(store, info, c, 'read');
  for (const op of [...(r.success ?? []), ...(r.failure ?? [])]) {
    if (op.requestRange) checkRange(store, info, op.requestRange);
    else if (op.requestPut) checkPut(store, info, op.requestPut, leaseKeys);
    else if (op.requestDeleteRange) checkDeleteRange(store, info, op.requestDeleteRange);
    else if (op.requestTxn) checkTxn(store, info, op.requestTxn, leaseKeys);
  }
}

/** Watch create: read on the watched range. */
export function checkWatchCreate(store: AuthStore, info: AuthInfo | undefined, r: RangeLike): void {
  check(store, info, r, 'read');
}

/**
 * LeaseRevoke: revoking deletes the attached keys, so write on each of them (etcd's checkLeasePuts; a
 * lease without keys needs no permission, as in etcd).
 */
export function checkLeaseRevoke(
  store: AuthStore,
  info: AuthInfo | undefined,
  keys: Iterable<Uint8Array>,
): void {
  if (!store.isEnabled()) return;
  checkLeaseKeys(store, info, keys);
}

function checkLeaseKeys(store: AuthStore, info: AuthInfo | undefined, keys: Iterable<Uint8Array>): void {
  for (const k of keys) store.checkOp(info, k, null, 'write');
}

/** Snapshot, Defragment, HashKV, Alarm, member add/remove/update/promote, MoveLeader: root only. */
export function checkAdmin(store: AuthStore, info: AuthInfo | undefined): void {
  store.checkAdmin(info);
}
