/** Pure pieces of etcd's range and compare semantics (etcdserver/apply.go), kept apart from I/O. */
import {
  type Compare,
  CompareResult,
  CompareTarget,
  EMPTY_BYTES,
  type KeyValue,
  type RangeRequest,
  SortOrder,
  SortTarget,
  toId,
  toNum,
} from './types.js';

/**
 * etcd's mkGteRange plus the single-key rule: absent/empty range end -> undefined (one key); "\0" ->
 * empty (every key >= key); anything else -> [key, rangeEnd).
 */
export function normaliseRangeEnd(rangeEnd: Uint8Array | null | undefined): Uint8Array | undefined {
  if (!rangeEnd || rangeEnd.length === 0) return undefined;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return EMPTY_BYTES;
  return rangeEnd;
}

/** Whether etcd fetches the whole range before applying the limit (sorting or revision filters). */
export function needsFullFetch(r: RangeRequest): boolean {
  return (
    (r.sortOrder ?? SortOrder.NONE) !== SortOrder.NONE ||
    toNum(r.minModRevision) !== 0 ||
    toNum(r.maxModRevision) !== 0 ||
    toNum(r.minCreateRevision) !== 0 ||
    toNum(r.maxCreateRevision) !== 0
  );
}

/** Drops kvs outside the request's min/max mod/create revision bounds. */
export function filterByRevisions(r: RangeRequest, kvs: KeyValue[]): KeyValue[] {
  const maxMod = toNum(r.maxModRevision);
  const minMod = toNum(r.minModRevision);
  const maxCreate = toNum(r.maxCreateRevision);
  const minCreate = toNum(r.minCreateRevision);
  if (!maxMod && !minMod && !maxCreate && !minCreate) return kvs;
  return kvs.filter(
    (kv) =>
      !(maxMod && kv.modRevision > maxMod) &&
      !(minMod && kv.modRevision < minMod) &&
      !(maxCreate && kv.createRevision > maxCreate) &&
      !(minCreate && kv.createRevision < minCreate),
  );
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Sorts per sort target/order; a non-KEY target with order NONE sorts ascending, as etcd does. */
export function sortKvs(r: RangeRequest, kvs: KeyValue[]): KeyValue[] {
  const target = r.sortTarget ?? SortTarget.KEY;
  let order = r.sortOrder ?? SortOrder.NONE;
  if (target !== SortTarget.KEY && order === SortOrder.NONE) order = SortOrder.ASCEND;
  if (order === SortOrder.NONE) return kvs;
  let cmp: (a: KeyValue, b: KeyValue) => number;
  switch (target) {
    case SortTarget.VERSION:
      cmp = (a, b) => a.version - b.version;
      break;
    case SortTarget.CREATE:
      cmp = (a, b) => a.createRevision - b.createRevision;
      break;
    case SortTarget.MOD:
      cmp = (a, b) => a.modRevision - b.modRevision;
      break;
    case SortTarget.VALUE:
      cmp = (a, b) => compareBytes(a.value, b.value);
      break;
    default:
      cmp = (a, b) => compareBytes(a.key, b.key);
  }
  const sorted = kvs.slice().sort(cmp);
  if (order === SortOrder.DESCEND) sorted.reverse();
  return sorted;
}

/** etcd's compareKV: one kv against one Compare. */
export function compareKv(c: Compare, kv: KeyValue): boolean {
  let result: number;
  switch (c.target ?? CompareTarget.VERSION) {
    case CompareTarget.VALUE:
      result = compareBytes(kv.value, c.value ?? EMPTY_BYTES);
      break;
    case CompareTarget.CREATE:
      result = Math.sign(kv.createRevision - toNum(c.createRevision));
      break;
    case CompareTarget.MOD:
      result = Math.sign(kv.modRevision - toNum(c.modRevision));
      break;
    case CompareTarget.LEASE:
      result = compareIds(kv.lease, toId(c.lease));
      break;
    default:
      result = Math.sign(kv.version - toNum(c.version));
  }
  switch (c.result ?? CompareResult.EQUAL) {
    case CompareResult.EQUAL:
      return result === 0;
    case CompareResult.NOT_EQUAL:
      return result !== 0;
    case CompareResult.GREATER:
      return result > 0;
    case CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/** -1, 0 or 1 as `a` sorts before, with or after `b`. */
function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** etcd's applyCompare over the kvs the compare's key range holds. */
export function compareRange(c: Compare, kvs: KeyValue[]): boolean {
  if (kvs.length === 0) {
    // A missing key has no value, so VALUE compares on it always fail.
    if ((c.target ?? CompareTarget.VERSION) === CompareTarget.VALUE) return false;
    return compareKv(c, {
      key: EMPTY_BYTES,
      createRevision: 0,
      modRevision: 0,
      version: 0,
      value: EMPTY_BYTES,
      lease: 0n,
    });
  }
  return kvs.every((kv) => compareKv(c, kv));
}
