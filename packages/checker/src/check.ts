/**
 * The whole check of one history file: linearizability of the KV operations (global or per-key model),
 * then, on the linearization found, serializable reads and watches. On a violation, a minimised failing
 * sub-history and its SVG timeline.
 */
import { type HistoryFile, type KeyValue, keysOf, type Operation, toOperations } from './history.js';
import { claimedRevisions, collectHints, globalModel, perKeyModel } from './kv-models.js';
import { minimizeFailure } from './minimize.js';
import { initialState, type KvState } from './model.js';
import { partitionByKey, renumber } from './partition.js';
import { buildRevisionLog } from './revision-log.js';
import { type Budget, type SearchResult, searchLinearization } from './search.js';
import { checkSerializableReads, type SerializableProblem } from './serializable.js';
import { describeOperations, renderTimeline } from './timeline.js';
import { checkWatch, type WatchProblem } from './watch.js';

/** Options of {@link checkHistory}. */
export interface CheckOptions {
  /**
   * `global` (default): one search with the full model, revisions checked; also enables the watch and
   * serializable checks. When it runs out of budget, the per-key search runs too, and a violation it
   * finds is the verdict (a per-key projection of a linearizable history is linearizable).
   * `per-key`: one revision-blind search per key group (faster on huge histories, misses revision
   * anomalies; watches and serializable reads are then not checked).
   */
  model?: 'global' | 'per-key';
  /** Search budget: states explored (default 5,000,000) and wall time (default 60 s). */
  maxStates?: number;
  timeMs?: number;
  /** Time for shrinking a violation (default 20 s; 0 = do not shrink). */
  minimizeMs?: number;
}

/** Details of a linearizability violation. */
export interface ViolationReport {
  /** The operation whose return could not be passed (id in `operations`). */
  stuck: number;
  /** The store the sub-history starts from (after the longest linearizable prefix). */
  initial: { revision: number; kvs: KeyValue[] };
  /** The minimised failing sub-history (ids from `searched`); writes may have been made unknown. */
  subHistory: Operation[];
  /** Already linearized writes that produced the starting values of the keys involved (for reading). */
  context: Operation[];
  /** The same, one line per operation. */
  text: string[];
  /** SVG timeline of the sub-history. */
  svg: string;
}

/** Everything a check found. */
export interface CheckReport {
  verdict: 'ok' | 'violation' | 'unknown';
  /** Counts: all paired operations, with an ok answer, with an unknown outcome, serializable gets. */
  operations: { total: number; ok: number; unknown: number; serializable: number };
  linearizability: {
    verdict: SearchResult['verdict'];
    explored: number;
    reason?: string;
    model: string;
    /** Set when the history is linearizable but only by ordering unknown writes against the watches. */
    note?: string;
  };
  violation?: ViolationReport;
  serializable: { checked: number; problems: SerializableProblem[] };
  watches: { checked: number; events: number; problems: WatchProblem[] };
  /** The operations searched (ids used by `violation`); serializable problems use ids of toOperations. */
  searched: Operation[];
}

/**
 * Checks a history.
 *
 * @example
 * const report = checkHistory(parseHistory(readFileSync('history.json', 'utf8')));
 * if (report.verdict === 'violation') writeFileSync('violation.svg', report.violation!.svg);
 */
export function checkHistory(h: HistoryFile, opts: CheckOptions = {}): CheckReport {
  const all = toOperations(h.events);
  const isSerializable = (o: Operation) => o.request.type === 'get' && o.request.serializable === true;
  // Unknown reads and unknown lease grants (id never learned) can have had no visible effect.
  const searched = renumber(
    all.filter(
      (o) =>
        !isSerializable(o) &&
        !(o.outcome === 'unknown' && (o.request.type === 'get' || o.request.type === 'leaseGrant')),
    ),
  ).ops;
  const serial = renumber(all.filter((o) => isSerializable(o) && o.outcome === 'ok')).ops;
  const init = initialState(h.initial?.revision ?? 1, h.initial?.kvs ?? []);
  const budget: Budget = { maxStates: opts.maxStates, deadline: Date.now() + (opts.timeMs ?? 60_000) };
  const report: CheckReport = {
    verdict: 'ok',
    operations: {
      total: all.length,
      ok: all.filter((o) => o.outcome === 'ok').length,
      unknown: all.filter((o) => o.outcome === 'unknown').length,
      serializable: serial.length,
    },
    linearizability: { verdict: 'ok', explored: 0, model: opts.model ?? 'global' },
    serializable: { checked: 0, problems: [] },
    watches: { checked: 0, events: 0, problems: [] },
    searched,
  };

  if (opts.model === 'per-key') {
    const pk = searchPerKey(searched, h, init, budget, opts.minimizeMs ?? 20_000);
    report.linearizability = { ...report.linearizability, verdict: pk.verdict, explored: pk.explored };
    if (pk.reason) report.linearizability.reason = pk.reason;
    report.violation = pk.violation;
  } else {
    const claimed = claimedRevisions(searched);
    // First with what watches and reads saw of which unknown write made which revision; if that fails,
    // a watch or read may be wrong, so search again without them (the checks below then report it).
    let r = searchLinearization(
      searched,
      globalModel(init, claimed, collectHints(h.watches ?? [], all)),
      budget,
    );
    const hinted = r;
    if (r.verdict !== 'ok') r = searchLinearization(searched, globalModel(init, claimed), budget);
    if (hinted.verdict !== 'ok' && r.verdict === 'ok')
      report.linearizability.note = 'no linearization agrees with the watches and reads';
    report.linearizability = {
      ...report.linearizability,
      verdict: r.verdict,
      explored: hinted.explored + (r === hinted ? 0 : r.explored),
    };
    if (r.verdict === 'unknown') {
      report.linearizability.reason = r.reason;
      // The global search ran out of budget (many writes of unknown outcome make its space explode).
      // A per-key projection of a linearizable history is linearizable, so a violation the cheaper
      // per-key search finds is a violation of the whole history; "ok" from it proves nothing here.
      const pk = searchPerKey(searched, h, init, budget, opts.minimizeMs ?? 20_000);
      report.linearizability.explored += pk.explored;
      if (pk.verdict === 'violation') {
        report.linearizability.verdict = 'violation';
        report.linearizability.note = `global search: ${r.reason}; the violation was found per key`;
        report.violation = pk.violation;
      }
    }
    if (r.verdict === 'violation')
      report.violation = shrinkGlobal(searched, init, r, opts.minimizeMs ?? 20_000);
    if (r.verdict === 'ok') {
      const log = buildRevisionLog(init, searched, r.order);
      // All operations: a process's linearizable reads and writes also set what it has observed.
      report.serializable = { checked: serial.length, problems: checkSerializableReads(all, log) };
      for (const w of h.watches ?? []) {
        report.watches.checked++;
        for (const resp of w.responses) if ('events' in resp) report.watches.events += resp.events.length;
        report.watches.problems.push(...checkWatch(w, log, h.compactions));
      }
    }
  }
  const lin = report.linearizability.verdict;
  report.verdict =
    lin === 'violation' || report.serializable.problems.length > 0 || report.watches.problems.length > 0
      ? 'violation'
      : lin === 'unknown'
        ? 'unknown'
        : 'ok';
  return report;
}

/**
 * One revision-blind search per group of keys that operations connect (partitionByKey), stopping at the
 * first group that cannot be linearized; that group's failing operations are shrunk as for the global
 * model. "unknown" when a group ran out of budget and none failed.
 */
function searchPerKey(
  searched: Operation[],
  h: HistoryFile,
  init: KvState,
  budget: Budget,
  minimizeMs: number,
): { verdict: SearchResult['verdict']; explored: number; reason?: string; violation?: ViolationReport } {
  let explored = 0;
  let unknown: string | undefined;
  for (const g of partitionByKey(searched)) {
    const start = new Map(
      (h.initial?.kvs ?? [])
        .filter((kv) => g.keys.includes(kv.key))
        .map((kv) => [kv.key, { value: kv.value, version: kv.version, lease: kv.lease }]),
    );
    const model = perKeyModel(start);
    const r = searchLinearization(g.ops, model, budget);
    explored += r.explored;
    if (r.verdict === 'unknown') unknown = r.reason;
    if (r.verdict === 'violation') {
      const deadline = Date.now() + minimizeMs;
      const fails = (sub: Operation[]) =>
        searchLinearization(sub, model, { maxStates: 200_000, deadline }).verdict === 'violation';
      const small = minimizeMs === 0 ? g.ops : minimizeFailure(g.ops, fails, deadline);
      const sub = small.map((o) => ({ ...o, id: g.source[o.id]! }));
      return { verdict: 'violation', explored, violation: violation(sub, g.source[r.stuck]!, init) };
    }
  }
  return unknown === undefined
    ? { verdict: 'ok', explored }
    : { verdict: 'unknown', explored, reason: unknown };
}

/**
 * The failing part of a history: the search's longest linearizable prefix is replayed into a state S;
 * from S none of the remaining operations can be ordered (the search tried them all), so the remaining
 * operations from S are a failing history on their own. Those invoked after the stuck operation returned
 * are cut when the rest still fails, then minimizeFailure weakens what is left.
 */
function shrinkGlobal(
  searched: Operation[],
  init: KvState,
  r: Extract<SearchResult<KvState>, { verdict: 'violation' }>,
  minimizeMs: number,
): ViolationReport {
  const deadline = Date.now() + minimizeMs;
  const from = (state: KvState) => (sub: Operation[]) =>
    searchLinearization(sub, globalModel(state, claimedRevisions(sub)), { maxStates: 200_000, deadline })
      .verdict === 'violation';
  const inPrefix = new Set(r.longest);
  const until = searched[r.stuck]?.ret ?? Number.POSITIVE_INFINITY;
  let start = r.longestState;
  let rest = searched.filter((o) => !inPrefix.has(o.id));
  const cut = rest.filter((o) => o.call <= until);
  if (cut.length > 0 && from(start)(renumber(cut).ops)) rest = cut;
  else if (!from(start)(renumber(rest).ops)) {
    // Only when the budget ran out: show the whole history rather than a part that may not fail.
    start = init;
    rest = searched;
  }
  const small = minimizeMs === 0 ? rest : minimizeFailure(rest, from(start), deadline);
  // Context for a reader: the writes (from the linearized prefix) that made the starting values of the
  // keys the sub-history touches.
  const touched = new Set(small.flatMap((o) => keysOf(o.request)));
  const context: Operation[] = [];
  for (const kv of start.kvs.values()) {
    if (!touched.has(kv.key) || start === init) continue;
    const writer = r.longest
      .map((id) => searched[id]!)
      .find((o) => o.response?.revision === kv.modRevision && keysOf(o.request).includes(kv.key));
    if (writer) context.push(writer);
  }
  return violation(small, r.stuck, start, context);
}

function violation(
  sub: Operation[],
  stuck: number,
  start: KvState,
  context: Operation[] = [],
): ViolationReport {
  // Keep the stuck operation visible even if shrinking removed it (it then failed elsewhere).
  const highlight = sub.some((o) => o.id === stuck) ? stuck : sub[sub.length - 1]?.id;
  const initial = {
    revision: start.rev,
    kvs: [...start.kvs.values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
  };
  const kvs = initial.kvs.map(
    (kv) => `${kv.key}=${kv.value}@m${kv.modRevision}c${kv.createRevision}v${kv.version}`,
  );
  const state = `from revision ${initial.revision}: ${kvs.join(' ') || 'empty'}`;
  return {
    stuck,
    initial,
    subHistory: sub,
    context,
    text: [state, ...describeOperations(context).map((l) => `(context) ${l}`), ...describeOperations(sub)],
    svg: renderTimeline([...context, ...sub], {
      highlight,
      context: new Set(context.map((o) => o.id)),
      title: `linearizability violation: ${sub.length} operation(s) cannot be ordered (red: where the search got stuck)`,
      subtitle: state,
    }),
  };
}
