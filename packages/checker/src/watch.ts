/**
 * Watch checks: a watch must deliver every change of its key range exactly once, in revision order,
 * with the right prev_kv; end with ErrCompacted instead of skipping compacted revisions; and never send
 * a progress notification for a revision whose events it has not delivered yet.
 *
 * The expected changes come from the revision log (a linearization replayed through the model), so a
 * watch is checked against what the store actually did, unknown-outcome writes included.
 */
import type { KeyValue, WatchEvent, WatchRecord } from './history.js';
import { keyInRange } from './kv-models.js';
import type { Change } from './model.js';
import type { RevisionLog } from './revision-log.js';

/** What went wrong with a watch. */
export type WatchProblemKind =
  | 'unexpected-event'
  | 'wrong-event'
  | 'duplicate'
  | 'out-of-order'
  | 'wrong-prev-kv'
  | 'missing-event'
  | 'progress-ahead';

/** One problem found in one watch. */
export interface WatchProblem {
  watch: string;
  kind: WatchProblemKind;
  revision: number;
  key: string;
  message: string;
}

function inRange(w: WatchRecord, key: string): boolean {
  return keyInRange(key, w.key, w.rangeEnd);
}

function sameKv(a: KeyValue | undefined, b: KeyValue | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    a.key === b.key &&
    a.value === b.value &&
    a.createRevision === b.createRevision &&
    a.modRevision === b.modRevision &&
    a.version === b.version &&
    a.lease === b.lease
  );
}

const id = (revision: number, key: string) => `${revision}\u0000${key}`;

/**
 * Checks one watch against the revision log.
 *
 * @example
 * const problems = checkWatch(record, log); // [] for a correct watch
 */
export function checkWatch(
  w: WatchRecord,
  log: RevisionLog,
  compactions: readonly number[] = [],
): WatchProblem[] {
  // etcd reads an event's prev_kv at revision modRevision - 1 when it sends the event; a compaction at
  // a revision above that, applied in between, leaves it out (etcd-io/etcd#10681). Only leaving it out
  // is excused, and only for events such a compaction can have reached.
  const highestCompaction = compactions.reduce((a, b) => Math.max(a, b), 0);
  const prevCompactedAway = (ev: WatchEvent) =>
    ev.prevKv === undefined && ev.kv.modRevision - 1 < highestCompaction;
  const problems: WatchProblem[] = [];
  const report = (kind: WatchProblemKind, revision: number, key: string, message: string) =>
    problems.push({ watch: w.id, kind, revision, key, message });
  const expected: Change[] = log.changes.filter((c) => c.revision >= w.startRevision && inRange(w, c.key));
  const position = new Map<string, number>();
  for (const [i, c] of expected.entries()) position.set(id(c.revision, c.key), i);

  const delivered = new Set<string>();
  const flagged = new Set<string>();
  let lastPos = -1;
  let highest = w.startRevision - 1;
  // Progress notifications seen so far: a later event at or below one of them is a promise broken.
  let progress = 0;
  const checkEvent = (ev: WatchEvent) => {
    const key = ev.kv.key;
    const rev = ev.kv.modRevision;
    const k = id(rev, key);
    if (ev.kv.modRevision <= progress) {
      report('progress-ahead', rev, key, `event at ${rev} after a progress notification at ${progress}`);
    }
    if (delivered.has(k)) {
      report('duplicate', rev, key, `event ${key}@${rev} delivered twice`);
      return;
    }
    delivered.add(k);
    const pos = position.get(k);
    if (pos === undefined) {
      report('unexpected-event', rev, key, `no change of ${key} at revision ${rev} in the history`);
      return;
    }
    const c = expected[pos]!;
    if (pos < lastPos) report('out-of-order', rev, key, `${key}@${rev} arrived after a later change`);
    lastPos = Math.max(lastPos, pos);
    highest = Math.max(highest, rev);
    if (c.type !== ev.type || !sameKv(c.kv, ev.kv)) {
      report(
        'wrong-event',
        rev,
        key,
        `${ev.type} ${JSON.stringify(ev.kv)} but the store did ${c.type} ${JSON.stringify(c.kv)}`,
      );
    }
    if (w.prevKv && !sameKv(c.prev, ev.prevKv) && !prevCompactedAway(ev)) {
      report(
        'wrong-prev-kv',
        rev,
        key,
        `prev_kv ${JSON.stringify(ev.prevKv ?? null)}, expected ${JSON.stringify(c.prev ?? null)}`,
      );
    }
  };
  for (const r of w.responses) {
    if ('events' in r) {
      for (const ev of r.events) checkEvent(ev);
      continue;
    }
    // Everything up to the notified revision must already be here.
    for (const c of expected) {
      if (c.revision > r.progressRevision) break;
      const k = id(c.revision, c.key);
      if (!delivered.has(k) && !flagged.has(k)) {
        report(
          'progress-ahead',
          r.progressRevision,
          c.key,
          `progress at ${r.progressRevision} before ${c.key}@${c.revision}`,
        );
        flagged.add(k); // once, however many notifications skip it
      }
    }
    progress = Math.max(progress, r.progressRevision);
    highest = Math.max(highest, r.progressRevision);
  }
  // Completeness: no gap below the last revision the watch vouched for. A watch cancelled by compaction
  // must still have no gap before its last delivered event (ErrCompacted, not a silent skip).
  const until = w.canceled ? highest : Math.max(highest, w.untilRevision ?? 0);
  for (const c of expected) {
    if (c.revision > until) break;
    if (!delivered.has(id(c.revision, c.key))) {
      report(
        'missing-event',
        c.revision,
        c.key,
        `${c.type} ${c.key}@${c.revision} never delivered (watch covered up to ${until})`,
      );
    }
  }
  return problems;
}
