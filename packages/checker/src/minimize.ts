/**
 * Shrinks a failing history to a small one that still fails, using only changes that make a history
 * MORE permissive, so whatever still fails is a genuine violation of the original:
 * - removing a read (reads only constrain, they change no state);
 * - turning a write with an answer into a write with an unknown outcome (it may then happen at any
 *   time after its call, or never).
 * Plain removal of writes is not used: with etcd's global revision, removing one write shifts every
 * later revision and "fails" for a reason the original never had.
 * Candidates go in chunks (halves, quarters, ... single operations), delta-debugging style.
 */
import type { Operation } from './history.js';
import { renumber } from './partition.js';

const isRead = (o: Operation) =>
  o.request.type === 'get' ||
  (o.request.type === 'txn' && [...o.request.success, ...o.request.failure].every((x) => x.type === 'get'));

/**
 * Returns a weakened subset of `ops` that `fails` still rejects. `fails` gets operations with dense ids
 * (0..n-1); the result keeps the original ids.
 *
 * @example
 * const small = minimizeFailure(ops, (sub) => searchLinearization(sub, model).verdict === 'violation', deadline);
 */
export function minimizeFailure(
  ops: readonly Operation[],
  fails: (ops: Operation[]) => boolean,
  deadline: number,
): Operation[] {
  const test = (subset: readonly Operation[]) => subset.length > 0 && fails(renumber(subset).ops);
  let cur = [...ops];
  // Phase 1: drop reads.
  cur = shrink(cur, isRead, (list, drop) => list.filter((o) => !drop.has(o.id)), test, deadline);
  // Phase 2: writes with answers become unknown-outcome writes.
  cur = shrink(
    cur,
    (o) => !isRead(o) && o.outcome === 'ok',
    (list, pick) =>
      list.map((o) =>
        pick.has(o.id)
          ? { ...o, outcome: 'unknown' as const, response: undefined, ret: Number.POSITIVE_INFINITY }
          : o,
      ),
    test,
    deadline,
  );
  return cur;
}

function shrink(
  start: Operation[],
  candidate: (o: Operation) => boolean,
  apply: (list: Operation[], chosen: Set<number>) => Operation[],
  test: (ops: readonly Operation[]) => boolean,
  deadline: number,
): Operation[] {
  let cur = start;
  let pool = cur.filter(candidate).map((o) => o.id);
  let chunk = Math.max(1, Math.ceil(pool.length / 2));
  while (pool.length > 0 && Date.now() < deadline) {
    const kept: number[] = [];
    let changed = false;
    for (let i = 0; i < pool.length && Date.now() < deadline; i += chunk) {
      const chosen = new Set(pool.slice(i, i + chunk));
      const next = apply(cur, chosen);
      if (test(next)) {
        cur = next;
        changed = true;
      } else {
        kept.push(...chosen);
      }
    }
    pool = kept;
    if (chunk === 1 && !changed) break;
    if (!changed) chunk = Math.max(1, Math.floor(chunk / 2));
  }
  return cur;
}
