/**
 * P-compositionality: split a history into groups of operations that share no key, so each group can
 * be searched alone. Only sound with a model whose groups share no state: the revision-blind per-key
 * model (kv-models.ts), never the global one, because etcd's revision is a single counter. Lease
 * operations touch keys the history does not name (a revoke deletes whatever is attached), so a history
 * with any lease operation is not split.
 */
import { keysOf, type Operation } from './history.js';

/**
 * Groups operations by connected key sets (a txn over keys a and b joins their groups). Each group's
 * operations are renumbered 0..n-1 (the search needs dense ids); `source` maps back.
 *
 * @example
 * const groups = partitionByKey(ops); // [[ops on a], [ops on b, c touched together by a txn], ...]
 */
export function partitionByKey(
  ops: readonly Operation[],
): { keys: string[]; ops: Operation[]; source: number[] }[] {
  const hasLeases = ops.some(
    (o) =>
      o.request.type === 'leaseGrant' ||
      o.request.type === 'leaseRevoke' ||
      (o.request.type === 'put' && o.request.lease !== undefined && o.request.lease !== '0'),
  );
  if (hasLeases) return [renumber(ops, [...new Set(ops.flatMap((o) => keysOf(o.request)))])];
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let p = parent.get(k) ?? k;
    if (p !== k) {
      p = find(p);
      parent.set(k, p);
    }
    return p;
  };
  for (const op of ops) {
    const ks = keysOf(op.request);
    for (const k of ks) if (!parent.has(k)) parent.set(k, k);
    for (const k of ks.slice(1)) parent.set(find(k), find(ks[0]!));
  }
  const groups = new Map<string, { keys: Set<string>; ops: Operation[] }>();
  for (const op of ops) {
    const ks = keysOf(op.request);
    const root = ks.length > 0 ? find(ks[0]!) : '';
    const g = groups.get(root) ?? { keys: new Set<string>(), ops: [] };
    for (const k of ks) g.keys.add(k);
    g.ops.push(op);
    groups.set(root, g);
  }
  return [...groups.values()].map((g) => renumber(g.ops, [...g.keys].sort()));
}

/** Copies operations with ids 0..n-1, remembering the original ids. */
export function renumber(ops: readonly Operation[], keys: string[] = []) {
  return { keys, ops: ops.map((o, i) => ({ ...o, id: i })), source: ops.map((o) => o.id) };
}
