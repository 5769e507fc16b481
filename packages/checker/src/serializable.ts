/**
 * The weaker check for serializable gets, which a member answers from its local state without a quorum
 * round: the key-value returned must be what the store held at SOME revision r with
 * `observed <= r <= header revision`, where `observed` is the highest revision the same process had
 * already seen complete (reads may be stale, but not older than what this client saw, and not from a
 * revision the store had not reached). They are left out of the linearizability search.
 */
import type { KeyValue, Operation } from './history.js';
import type { RevisionLog } from './revision-log.js';

/** A serializable read that no revision explains. */
export interface SerializableProblem {
  op: number;
  message: string;
}

function same(a: KeyValue | undefined, b: KeyValue | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.value === b.value &&
    a.createRevision === b.createRevision &&
    a.modRevision === b.modRevision &&
    a.version === b.version &&
    a.lease === b.lease
  );
}

/**
 * Checks every ok serializable get in `ops` against the revision log.
 *
 * @example
 * const problems = checkSerializableReads(ops, log); // [] when every stale read is explainable
 */
export function checkSerializableReads(ops: readonly Operation[], log: RevisionLog): SerializableProblem[] {
  const problems: SerializableProblem[] = [];
  const byProcess = new Map<number, Operation[]>();
  for (const op of ops) {
    const list = byProcess.get(op.process) ?? [];
    list.push(op);
    byProcess.set(op.process, list);
  }
  for (const list of byProcess.values()) {
    list.sort((a, b) => a.call - b.call);
    let observed = 0;
    for (const op of list) {
      const r = op.response;
      if (op.request.type === 'get' && op.request.serializable && r?.type === 'get') {
        const got = r.kvs[0];
        const key = op.request.key;
        if (r.revision > log.finalRevision) {
          problems.push({
            op: op.id,
            message: `revision ${r.revision} is beyond the store's ${log.finalRevision}`,
          });
        } else if (r.revision < observed) {
          problems.push({
            op: op.id,
            message: `revision ${r.revision} is older than ${observed}, already seen`,
          });
        } else {
          // The record changes only at the key's own revisions: test those in [observed, revision].
          let ok = same(log.kvAt(key, observed), got);
          for (const c of log.changes) {
            if (ok || c.revision > r.revision) break;
            if (c.key === key && c.revision >= observed) ok = same(log.kvAt(key, c.revision), got);
          }
          if (!ok) {
            problems.push({
              op: op.id,
              message: `${key}=${got ? `${got.value}@${got.modRevision}` : 'nil'} held at no revision in [${observed}, ${r.revision}]`,
            });
          }
        }
      }
      if (r) observed = Math.max(observed, r.revision);
    }
  }
  return problems;
}
