/**
 * The two models the search can use for etcd's KV.
 *
 * - {@link globalModel}: the full store, checking every response field including the revision the
 *   server returned. etcd's revision is one global counter, so this model needs the whole history in one
 *   search; in exchange the revisions pin most operations to one place and the search is narrow.
 * - {@link perKeyModel}: one key group at a time, revision-blind (values, versions, presence, txn
 *   outcomes). Sound to check per key group (P-compositionality: a history is linearizable iff each
 *   group's sub-history is, for a model whose groups share no state), but it cannot see anomalies that
 *   only revisions reveal (two writes sharing a revision, a read whose revision is stale for another
 *   key). Compares on create/mod revisions are undetermined for it; an unknown-outcome txn with such a
 *   compare may take either branch, so its state is a set of states (Porcupine's powerset trick).
 */
import type { Compare, KeyValue, Operation, Response, TxnOp, TxnOpResult, WatchRecord } from './history.js';
import { applyRequest, evalCompare, type KvState, sameResponse, stateKey } from './model.js';
import type { SearchModel } from './search.js';

/** What observers saw, for placing unknown-outcome writes (see {@link collectHints}). */
export interface WatchHints {
  /** Per revision: key -> 'put:<value>', 'delete', 'unchanged' or 'conflict'. */
  at: ReadonlyMap<number, ReadonlyMap<string, string>>;
  /**
   * Revision windows in which a watch delivered every change of its range: a key of that range
   * changed at such a revision only if the watch reported it.
   */
  complete: readonly { from: number; to: number; key: string; rangeEnd?: string }[];
}

/**
 * The full model: every response must equal the model's, revision included. `claimed` (see
 * {@link claimedRevisions}) and `hints` (see {@link collectHints}) only prune where unknown-outcome
 * writes may go.
 *
 * @example
 * searchLinearization(ops, globalModel(initialState(1), claimedRevisions(ops)));
 */
export function globalModel(
  init: KvState,
  claimed: ReadonlySet<number> = new Set(),
  hints?: WatchHints,
): SearchModel<KvState> {
  return {
    init,
    key: stateKey,
    step(s, op) {
      const a = applyRequest(s, op.request, op.response);
      if (op.outcome === 'ok') {
        if (!a.ok || !sameResponse(a.response, op.response!)) return undefined;
        return a.state;
      }
      // Unknown outcome. Linearizing it only matters if it changed the store: one that changes nothing
      // (or that the model refuses, e.g. a put with a revoked lease) is the same as one that never took
      // effect, and trying it everywhere would multiply the search by every subset of such operations.
      if (!a.ok || a.state.rev === s.rev) return undefined;
      // The revision it would take already belongs to a write that returned it.
      if (claimed.has(a.state.rev)) return undefined;
      // What watches and reads saw at this revision: an unknown write placed here must agree.
      if (hints) {
        const rev = a.state.rev;
        const seen = hints.at.get(rev);
        const made = new Map(
          a.changes.map((c) => [c.key, c.type === 'put' ? `put:${c.kv.value}` : 'delete']),
        );
        for (const [k, v] of seen ?? []) {
          if (v === UNCHANGED ? made.has(k) : made.get(k) !== v) return undefined;
        }
        for (const k of made.keys()) {
          if (seen?.has(k)) continue;
          if (hints.complete.some((w) => w.from <= rev && rev <= w.to && keyInRange(k, w.key, w.rangeEnd))) {
            return undefined; // a watch saw every change of this key here, and not this one
          }
        }
      }
      return a.state;
    },
  };
}

/**
 * The revisions that ok writes returned: each belongs to exactly that write, so an unknown-outcome
 * write cannot have taken it. (Lease revokes are left out: whether they deleted keys is not visible.)
 *
 * @example
 * globalModel(initialState(), claimedRevisions(ops));
 */
export function claimedRevisions(ops: readonly Operation[]): Set<number> {
  const out = new Set<number>();
  for (const op of ops) {
    const r = op.response;
    if (!r) continue;
    const wrote =
      r.type === 'put' ||
      (r.type === 'delete' && r.deleted > 0) ||
      (r.type === 'txn' && r.results.some((x) => x.type === 'put' || (x.type === 'delete' && x.deleted > 0)));
    if (wrote) out.add(r.revision);
  }
  return out;
}

/** One key's content in the revision-blind model. */
interface Rec {
  value: string;
  version: number;
  lease: string;
}
type PerKeyState = ReadonlyMap<string, Rec>;

function recKey(s: PerKeyState): string {
  return [...s.keys()]
    .sort()
    .map((k) => {
      const r = s.get(k)!;
      return `${k}\u0000${r.value}\u0000${r.version},${r.lease}`;
    })
    .join('\u0001');
}

/** A compare without revisions: undefined when only the revision could decide it. */
function evalBlind(c: Compare, r: Rec | undefined): boolean | undefined {
  if (c.target === 'create' || c.target === 'mod') {
    // Absent keys compare as 0; present keys have revisions >= 1, enough to decide compares with 0.
    if (!r) return evalCompare(c, undefined);
    if (Number(c.operand) === 0) return evalCompare(c, { ...fake(r), createRevision: 1, modRevision: 1 });
    return undefined;
  }
  return evalCompare(c, r ? fake(r) : undefined);
}

function fake(r: Rec): KeyValue {
  return { key: '', value: r.value, createRevision: 0, modRevision: 0, version: r.version, lease: r.lease };
}

function sameBlind(model: Rec | undefined, got: readonly KeyValue[]): boolean {
  if (!model) return got.length === 0;
  const g = got[0];
  return (
    got.length === 1 && g!.value === model.value && g!.version === model.version && g!.lease === model.lease
  );
}

function runBlind(
  s: PerKeyState,
  ops: readonly TxnOp[],
  got: readonly TxnOpResult[] | undefined,
): PerKeyState | undefined {
  const m = new Map(s);
  for (const [i, op] of ops.entries()) {
    const g = got?.[i];
    if (got && (!g || g.type !== op.type)) return undefined;
    if (op.type === 'put') {
      const prev = m.get(op.key);
      m.set(op.key, { value: op.value, version: (prev?.version ?? 0) + 1, lease: op.lease ?? '0' });
    } else if (op.type === 'get') {
      if (g && g.type === 'get' && !sameBlind(m.get(op.key), g.kvs)) return undefined;
    } else {
      const had = m.delete(op.key);
      if (g && g.type === 'delete' && g.deleted !== (had ? 1 : 0)) return undefined;
    }
  }
  return m;
}

function blindSuccessors(s: PerKeyState, op: Operation): PerKeyState[] {
  const req = op.request;
  const res: Response | undefined = op.response;
  switch (req.type) {
    case 'get':
      return res?.type === 'get' && !sameBlind(s.get(req.key), res.kvs) ? [] : [s];
    case 'put': {
      const n = runBlind(s, [req], undefined);
      return n ? [n] : [];
    }
    case 'delete': {
      const had = s.has(req.key);
      if (res?.type === 'delete' && res.deleted !== (had ? 1 : 0)) return [];
      const m = new Map(s);
      m.delete(req.key);
      return [m];
    }
    case 'txn': {
      const decided = req.compare.map((c) => evalBlind(c, s.get(c.key)));
      const known = decided.every((d) => d !== undefined);
      const value = decided.every((d) => d === true);
      const branches: boolean[] =
        res?.type === 'txn'
          ? known && value !== res.succeeded
            ? []
            : [res.succeeded]
          : known
            ? [value]
            : decided.some((d) => d === false)
              ? [false]
              : [true, false];
      const out: PerKeyState[] = [];
      for (const b of branches) {
        const n = runBlind(s, b ? req.success : req.failure, res?.type === 'txn' ? res.results : undefined);
        if (n) out.push(n);
      }
      return out;
    }
    case 'leaseRevoke': {
      // Revoking deletes the keys attached to the lease (histories with leases are never split, so
      // every such key is in this state).
      const m = new Map([...s].filter(([, r]) => r.lease !== req.id));
      return [m];
    }
    default:
      // A grant changes no key.
      return [s];
  }
}

/**
 * The revision-blind per-key model over sets of states.
 *
 * @example
 * searchLinearization(opsOfOneKey, perKeyModel(new Map()));
 */
export function perKeyModel(init: ReadonlyMap<string, { value: string; version: number; lease: string }>) {
  const model: SearchModel<PerKeyState[]> = {
    init: [init],
    key: (states) => states.map(recKey).sort().join('\u0002'),
    step(states, op) {
      const out = new Map<string, PerKeyState>();
      for (const s of states) for (const n of blindSuccessors(s, op)) out.set(recKey(n), n);
      return out.size === 0 ? undefined : [...out.values()];
    },
  };
  return model;
}

/** Hint value: the key did not change at this revision. */
const UNCHANGED = 'unchanged';
/** Hint value: observers disagree (the hinted search then fails and check.ts searches without hints). */
const CONFLICT = 'conflict';

/**
 * What observers saw per revision, used to place unknown-outcome writes. Without it, several unknown
 * writes filling revision gaps can be ordered many ways; the search picks one, and the watch and
 * serializable checks, which compare against that one linearization, would blame the server for the
 * search's choice. Hints (partial: only the keys someone saw):
 * - every watch event: at its revision, the key was put with that value, or deleted;
 * - every key-value a read returned: at its mod revision, the key was put with that value;
 * - a serializable read returning mod revision m, when its process had already seen revision o > m:
 *   the key did not change in (m, o] (the read is only legal if the value was still current at o).
 * Only a hint: check.ts searches again without hints when the hinted search fails, so a wrong watch or
 * read is reported as such rather than as a linearizability violation.
 *
 * @example
 * globalModel(init, claimedRevisions(ops), collectHints(file.watches ?? [], ops));
 */
export function collectHints(watches: readonly WatchRecord[], ops: readonly Operation[]): WatchHints {
  const out = new Map<number, Map<string, string>>();
  const complete: { from: number; to: number; key: string; rangeEnd?: string }[] = [];
  const note = (rev: number, key: string, what: string) => {
    const m = out.get(rev) ?? new Map<string, string>();
    const had = m.get(key);
    m.set(key, had === undefined || had === what ? what : CONFLICT);
    out.set(rev, m);
  };
  for (const w of watches) {
    let last = 0;
    for (const r of w.responses) {
      if (!('events' in r)) continue;
      for (const e of r.events) {
        note(e.kv.modRevision, e.kv.key, e.type === 'put' ? `put:${e.kv.value}` : 'delete');
        last = Math.max(last, e.kv.modRevision);
      }
    }
    // A watch promises every change of its range from its start up to what it delivered.
    if (last >= w.startRevision)
      complete.push({ from: w.startRevision, to: last, key: w.key, rangeEnd: w.rangeEnd });
  }
  // Reads, per process in call order so "already seen" is known for serializable ones.
  const byProcess = new Map<number, Operation[]>();
  for (const op of ops)
    if (op.response) byProcess.set(op.process, [...(byProcess.get(op.process) ?? []), op]);
  for (const list of byProcess.values()) {
    let observed = 0;
    for (const op of list.sort((a, b) => a.call - b.call)) {
      const r = op.response!;
      const kvs =
        r.type === 'get'
          ? r.kvs
          : r.type === 'txn'
            ? r.results.flatMap((x) => (x.type === 'get' ? x.kvs : []))
            : [];
      for (const kv of kvs) {
        note(kv.modRevision, kv.key, `put:${kv.value}`);
        const serializable = op.request.type === 'get' && op.request.serializable;
        // Bounded so a pathological history cannot make the hint table huge.
        if (serializable)
          for (let rev = kv.modRevision + 1; rev <= Math.min(observed, kv.modRevision + 10_000); rev++)
            note(rev, kv.key, UNCHANGED);
      }
      observed = Math.max(observed, r.revision);
    }
  }
  return { at: out, complete };
}

/**
 * Whether `key` is in [start, end): no end = the single key `start`; '\0' = every key from `start`.
 *
 * @example
 * keyInRange('k1', '', '\u0000'); // true
 */
export function keyInRange(key: string, start: string, end?: string): boolean {
  if (end === undefined || end === '') return key === start;
  return key >= start && (end === '\u0000' || key < end);
}
