/**
 * What the store held at every revision, rebuilt by replaying a linearization through the model. The
 * serializable-read and watch checks compare what servers reported against it.
 */
import type { KeyValue, Operation } from './history.js';
import { applyRequest, type Change, type KvState } from './model.js';

/** Every change in revision order plus per-key lookups. */
export interface RevisionLog {
  /** Changes in the order a watch must report them (revision, then order inside a txn). */
  changes: Change[];
  /** The revision after the last linearized operation. */
  finalRevision: number;
  /** The key's record as of `revision` (undefined: absent). */
  kvAt(key: string, revision: number): KeyValue | undefined;
}

/**
 * Replays `order` (operation ids) from `init`; operations must be the ones the order was found for.
 *
 * @example
 * const log = buildRevisionLog(initialState(), ops, result.order);
 * log.kvAt('k', 7);
 */
export function buildRevisionLog(
  init: KvState,
  ops: readonly Operation[],
  order: readonly number[],
): RevisionLog {
  let state = init;
  const changes: Change[] = [];
  for (const id of order) {
    const op = ops[id]!;
    const a = applyRequest(state, op.request, op.response);
    if (!a.ok) continue;
    state = a.state;
    changes.push(...a.changes);
  }
  // Per key: the revisions at which it changed and what it became, ascending.
  const byKey = new Map<string, { revision: number; kv: KeyValue | undefined }[]>();
  for (const kv of init.kvs.values()) byKey.set(kv.key, [{ revision: kv.modRevision, kv }]);
  for (const c of changes) {
    const list = byKey.get(c.key) ?? [];
    list.push({ revision: c.revision, kv: c.type === 'put' ? c.kv : undefined });
    byKey.set(c.key, list);
  }
  return {
    changes,
    finalRevision: state.rev,
    kvAt(key, revision) {
      const list = byKey.get(key);
      if (!list) return undefined;
      let found: KeyValue | undefined;
      for (const x of list) {
        if (x.revision > revision) break;
        found = x.kv;
      }
      return found;
    },
  };
}
