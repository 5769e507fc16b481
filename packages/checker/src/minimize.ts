/**
 * Shrinks a failing history to a small one that still fails on its own: delta-debugging style removal
 * of chunks (halves, quarters, ... single operations), keeping a removal whenever the rest is still
 * not linearizable. The result is a genuine failing history, though removing a write can change which
 * violation remains (the report shows the sub-history; the full history holds the context).
 */
import type { Operation } from './history.js';
import { renumber } from './partition.js';
import { type SearchModel, searchLinearization } from './search.js';

/**
 * Returns a subset of `ops` (original objects, original order) that still fails under `model`.
 *
 * @example
 * const small = minimizeFailure(ops, globalModel(init), Date.now() + 10_000);
 */
export function minimizeFailure<S>(
  ops: readonly Operation[],
  model: SearchModel<S>,
  deadline: number,
): Operation[] {
  const fails = (subset: readonly Operation[]) => {
    if (subset.length === 0) return false;
    const r = searchLinearization(renumber(subset).ops, model, { maxStates: 200_000, deadline });
    return r.verdict === 'violation';
  };
  let cur = [...ops];
  let chunk = Math.max(1, Math.floor(cur.length / 2));
  while (Date.now() < deadline) {
    let removed = false;
    for (let start = 0; start < cur.length && Date.now() < deadline; ) {
      const candidate = [...cur.slice(0, start), ...cur.slice(start + chunk)];
      if (fails(candidate)) {
        cur = candidate;
        removed = true;
      } else {
        start += chunk;
      }
    }
    if (chunk === 1 && !removed) break;
    if (!removed) chunk = Math.max(1, Math.floor(chunk / 2));
  }
  return cur;
}
