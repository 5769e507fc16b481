/**
 * The linearizability search: Wing & Gong's algorithm with Lowe's memoisation, as Porcupine does it.
 *
 * Every operation becomes a call entry and a return entry in one list sorted by time (an unknown
 * outcome returns at +infinity). The search walks the list: at a call entry it tries to linearize that
 * operation now (the model must accept it from the current state); on success the operation's two
 * entries are lifted out of the list and the walk restarts from the head; at a return entry nothing
 * pending can be put before it any more, so the last choice is undone (the undo stack holds the state
 * before each choice). A (set of linearized operations, model state) pair that was already explored is
 * not explored again. The search succeeds when only unknown operations remain: they may simply never
 * have taken effect.
 *
 * The memo key hashes the linearized set with two 32-bit Zobrist words (64 bits) instead of storing the
 * bitset: a collision (odds about explored² / 2^65) could only prune a branch, i.e. report a violation
 * that a full search would not. Pure: no I/O, the budget is the only clock it reads.
 */
import type { Operation } from './history.js';

/** A model the search can drive: deterministic steps over immutable states. */
export interface SearchModel<S> {
  init: S;
  /** The state after `op` if the model accepts it (with its observed response) from `state`. */
  step(state: S, op: Operation): S | undefined;
  /** Equal states must give equal keys. */
  key(state: S): string;
}

/** Limits that turn a search that would take too long into an `unknown` verdict. */
export interface Budget {
  /** Give up after exploring this many states (default 5,000,000). */
  maxStates?: number;
  /** Give up at this wall-clock time (Date.now() milliseconds). */
  deadline?: number;
}

/** The answer of one search. */
export type SearchResult<S = unknown> =
  | { verdict: 'ok'; order: number[]; explored: number }
  | {
      verdict: 'violation';
      /** The definite operation whose return could not be passed when the most operations were linearized. */
      stuck: number;
      /** That longest linearizable prefix (operation ids in order). */
      longest: number[];
      /** The model state after that prefix. */
      longestState: S;
      explored: number;
    }
  | { verdict: 'unknown'; reason: string; explored: number };

interface Entry {
  op: number;
  call: boolean;
  time: number;
}

/** Seeded xorshift so hashes (and thus runs) are reproducible. */
function zobrist(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x;
  }
  return out;
}

/**
 * Searches for a linearization of `ops` (ids must be 0..n-1 in order) under `model`.
 *
 * @example
 * const r = searchLinearization(ops, kvModel(initialState()), { maxStates: 1e6 });
 * if (r.verdict === 'violation') console.log('stuck at', ops[r.stuck]);
 */
export function searchLinearization<S>(
  ops: readonly Operation[],
  model: SearchModel<S>,
  budget: Budget = {},
): SearchResult<S> {
  const maxStates = budget.maxStates ?? 5_000_000;
  const n = ops.length;
  const entries: Entry[] = [];
  for (const op of ops) {
    entries.push({ op: op.id, call: true, time: op.call });
    entries.push({ op: op.id, call: false, time: op.ret });
  }
  // Calls sort before returns at equal times: touching operations count as concurrent (permissive).
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));
  // Doubly linked list over entry indices 1..m; 0 is the head sentinel, -1 the end.
  const m = entries.length;
  const next = new Int32Array(m + 1);
  const prev = new Int32Array(m + 1);
  const retOf = new Int32Array(n);
  for (let i = 0; i <= m; i++) {
    next[i] = i < m ? i + 1 : -1;
    prev[i] = i - 1;
  }
  for (let i = 0; i < m; i++) if (!entries[i]!.call) retOf[entries[i]!.op] = i + 1;
  const entry = (i: number) => entries[i - 1]!;
  const lift = (i: number) => {
    const r = retOf[entry(i).op]!;
    next[prev[i]!] = next[i]!;
    if (next[i] !== -1) prev[next[i]!] = prev[i]!;
    next[prev[r]!] = next[r]!;
    if (next[r] !== -1) prev[next[r]!] = prev[r]!;
  };
  const unlift = (i: number) => {
    const r = retOf[entry(i).op]!;
    if (next[r] !== -1) prev[next[r]!] = r;
    next[prev[r]!] = r;
    if (next[i] !== -1) prev[next[i]!] = i;
    next[prev[i]!] = i;
  };

  const z1 = zobrist(n, 0x9e3779b9);
  const z2 = zobrist(n, 0x85ebca6b);
  let h1 = 0;
  let h2 = 0;
  const seen = new Set<string>();
  const stack: { entry: number; state: S }[] = [];
  let state = model.init;
  let explored = 0;
  let longest: number[] = [];
  let longestState = model.init;
  let stuck = -1;
  let e = next[0]!;
  while (next[0] !== -1) {
    if (++explored > maxStates)
      return { verdict: 'unknown', reason: `explored ${maxStates} states`, explored };
    if ((explored & 0x3ff) === 0 && budget.deadline !== undefined && Date.now() > budget.deadline) {
      return { verdict: 'unknown', reason: 'time budget exhausted', explored };
    }
    const en = entry(e);
    if (en.call) {
      const op = ops[en.op]!;
      const ns = model.step(state, op);
      if (ns !== undefined) {
        const k = `${(h1 ^ z1[op.id]!) >>> 0},${(h2 ^ z2[op.id]!) >>> 0}|${model.key(ns)}`;
        if (!seen.has(k)) {
          seen.add(k);
          h1 ^= z1[op.id]!;
          h2 ^= z2[op.id]!;
          stack.push({ entry: e, state });
          state = ns;
          lift(e);
          e = next[0]!;
          continue;
        }
      }
      e = next[e]!;
      continue;
    }
    // A return entry: everything before it is linearized or lifted, nothing may move past it.
    if (ops[en.op]!.outcome === 'unknown') break; // only unknown operations are left
    if (stack.length >= longest.length) {
      if (stack.length > longest.length || stuck === -1) stuck = en.op;
      longest = stack.map((s) => entry(s.entry).op);
      longestState = state;
    }
    const top = stack.pop();
    if (!top) return { verdict: 'violation', stuck, longest, longestState, explored };
    const opId = entry(top.entry).op;
    h1 ^= z1[opId]!;
    h2 ^= z2[opId]!;
    state = top.state;
    unlift(top.entry);
    e = next[top.entry]!;
  }
  return { verdict: 'ok', order: stack.map((s) => entry(s.entry).op), explored };
}
