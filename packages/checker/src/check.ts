/**
 * The whole check of one history file: linearizability of the KV operations (global or per-key model),
 * then, on the linearization found, serializable reads and watches. On a violation, a minimised failing
 * sub-history and its SVG timeline.
 */
import { type HistoryFile, type Operation, toOperations } from './history.js';
import { claimedRevisions, globalModel, perKeyModel, watchHints } from './kv-models.js';
import { minimizeFailure } from './minimize.js';
import { initialState } from './model.js';
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
   * serializable checks. `per-key`: one revision-blind search per key group (faster on huge histories,
   * misses revision anomalies; watches and serializable reads are then not checked).
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
  /** The minimised failing sub-history (ids from the full operation list). */
  subHistory: Operation[];
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
  const minimizeDeadline = () => Date.now() + (opts.minimizeMs ?? 20_000);

  if (opts.model === 'per-key') {
    for (const g of partitionByKey(searched)) {
      const start = new Map(
        (h.initial?.kvs ?? [])
          .filter((kv) => g.keys.includes(kv.key))
          .map((kv) => [kv.key, { value: kv.value, version: kv.version, lease: kv.lease }]),
      );
      const model = perKeyModel(start);
      const r = searchLinearization(g.ops, model, budget);
      report.linearizability.explored += r.explored;
      if (r.verdict === 'unknown')
        report.linearizability = { ...report.linearizability, verdict: 'unknown', reason: r.reason };
      if (r.verdict === 'violation') {
        report.linearizability.verdict = 'violation';
        const stuck = g.source[r.stuck]!;
        const small = opts.minimizeMs === 0 ? g.ops : minimizeFailure(g.ops, model, minimizeDeadline());
        report.violation = violation(
          small.map((o) => searched[g.source[o.id]!]!),
          stuck,
        );
        break;
      }
    }
  } else {
    const claimed = claimedRevisions(searched);
    const model = globalModel(init, claimed);
    // First with the watches' account of which unknown write made which revision; if that fails, the
    // watches may be wrong, so search again without them.
    let r = searchLinearization(searched, globalModel(init, claimed, watchHints(h.watches ?? [])), budget);
    const hinted = r;
    if (r.verdict !== 'ok') r = searchLinearization(searched, model, budget);
    if (hinted.verdict !== 'ok' && r.verdict === 'ok')
      report.linearizability.note = 'no linearization agrees with the watches';
    report.linearizability = {
      ...report.linearizability,
      verdict: r.verdict,
      explored: hinted.explored + (r === hinted ? 0 : r.explored),
    };
    if (r.verdict === 'unknown') report.linearizability.reason = r.reason;
    if (r.verdict === 'violation') {
      const small = opts.minimizeMs === 0 ? searched : minimizeFailure(searched, model, minimizeDeadline());
      report.violation = violation(small, r.stuck);
    }
    if (r.verdict === 'ok') {
      const log = buildRevisionLog(init, searched, r.order);
      // All operations: a process's linearizable reads and writes also set what it has observed.
      report.serializable = { checked: serial.length, problems: checkSerializableReads(all, log) };
      for (const w of h.watches ?? []) {
        report.watches.checked++;
        for (const resp of w.responses) if ('events' in resp) report.watches.events += resp.events.length;
        report.watches.problems.push(...checkWatch(w, log));
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

function violation(sub: Operation[], stuck: number): ViolationReport {
  // Keep the stuck operation visible even if shrinking removed it (it then failed elsewhere).
  const highlight = sub.some((o) => o.id === stuck) ? stuck : sub[sub.length - 1]?.id;
  return {
    stuck,
    subHistory: sub,
    text: describeOperations(sub),
    svg: renderTimeline(sub, { highlight, title: `linearizability violation: ${sub.length} operations` }),
  };
}
