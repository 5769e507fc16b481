/**
 * The history model: what a client asked an etcd-API server, when, and what it answered.
 *
 * A history is a list of events in the style of Jepsen: `invoke` when a process sends a request,
 * then exactly one of `ok` (the server answered), `fail` (the request certainly had no effect) or
 * `info` (the outcome is unknown: a timeout, a dropped connection; the request may take effect at any
 * later time). Times are monotonic nanoseconds. Keys, values and lease ids are strings so a history
 * file is plain JSON (lease ids are decimal strings because etcd's are 63-bit).
 *
 * Pairing events into {@link Operation}s is done here, once; the checkers only see operations.
 */

/** Which field of a key a transaction compare reads. */
export type CompareTarget = 'value' | 'version' | 'create' | 'mod' | 'lease';

/** One transaction guard on a single key, as etcd's `Compare` (`create = 0` means "key absent"). */
export interface Compare {
  key: string;
  target: CompareTarget;
  result: '=' | '!=' | '>' | '<';
  /** A string for `value` and `lease` (decimal id), a number for the revision/version targets. */
  operand: string | number;
}

/** An operation inside a transaction branch. */
export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'get'; key: string }
  | { type: 'delete'; key: string };

/** A request a process sent. */
export type Request =
  | { type: 'put'; key: string; value: string; lease?: string }
  /** `serializable` gets are served locally and only get the weaker check (see README). */
  | { type: 'get'; key: string; serializable?: boolean }
  | { type: 'delete'; key: string }
  | { type: 'txn'; compare: Compare[]; success: TxnOp[]; failure: TxnOp[] }
  | { type: 'leaseGrant'; ttl: number }
  | { type: 'leaseRevoke'; id: string };

/** A key's record as the server returned it (mvccpb.KeyValue, lease as a decimal string, '0' = none). */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: string;
}

/** The result of one operation inside a transaction. */
export type TxnOpResult =
  | { type: 'put' }
  | { type: 'get'; kvs: KeyValue[] }
  | { type: 'delete'; deleted: number };

/** What the server answered; `revision` is the response header's revision. */
export type Response =
  | { type: 'put'; revision: number }
  | { type: 'get'; revision: number; kvs: KeyValue[] }
  | { type: 'delete'; revision: number; deleted: number }
  | { type: 'txn'; revision: number; succeeded: boolean; results: TxnOpResult[] }
  | { type: 'leaseGrant'; revision: number; id: string }
  | { type: 'leaseRevoke'; revision: number };

/** One line of a history. */
export type HistoryEvent =
  | { type: 'invoke'; process: number; time: number; request: Request }
  | { type: 'ok'; process: number; time: number; response: Response }
  | { type: 'fail'; process: number; time: number; error?: string }
  | { type: 'info'; process: number; time: number; error?: string };

/** A watch as one watcher saw it (see watch.ts for what is checked). */
export interface WatchRecord {
  /** A name for reports. */
  id: string;
  /** First key of the watched range. */
  key: string;
  /** Exclusive end of the range; absent = the single key `key`. */
  rangeEnd?: string;
  /** First revision the watch covers (the requested start, or creation revision + 1 for "from now"). */
  startRevision: number;
  /** Whether the watch asked for prev_kv. */
  prevKv: boolean;
  /** Everything the watch delivered, in arrival order. */
  responses: WatchResponseRecord[];
  /** Set when the server ended the watch (e.g. compaction: ErrCompacted with its revision). */
  canceled?: { compactRevision?: number; reason?: string };
  /**
   * The watch stayed open until the store had reached this revision and the recorder then waited for
   * it to drain: every event up to here must have been delivered.
   */
  untilRevision?: number;
}

/** One watch response: events, or a progress notification (no events) at a header revision. */
export type WatchResponseRecord = { events: WatchEvent[] } | { progressRevision: number };

/** One watch event. A delete's `kv` has only key and modRevision set, as in etcd. */
export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
  /** The key before this event; present only when the watch asked for prev_kv and the key existed. */
  prevKv?: KeyValue;
}

/** A whole history file. */
export interface HistoryFile {
  /** Format marker, `kv-history/1`. */
  format: typeof HISTORY_FORMAT;
  /** The store's revision and content when recording started (default: revision 1, empty). */
  initial?: { revision: number; kvs: KeyValue[] };
  events: HistoryEvent[];
  watches?: WatchRecord[];
  /**
   * Revisions compaction was requested at while the history was recorded, in any order (answered or
   * not: a request that timed out may have been applied). A watch may then deliver an event without its
   * prev_kv: etcd looks the previous value up when it sends the event, and leaves prev_kv out when a
   * compaction has removed it meanwhile (etcd-io/etcd#10681; its robustness tests allow it too).
   */
  compactions?: number[];
  /** Free-form description of the run (seed, target, nemesis...). */
  meta?: Record<string, unknown>;
}

/** The format marker of {@link HistoryFile}. */
export const HISTORY_FORMAT = 'kv-history/1';

/** How an operation ended. */
export type Outcome = 'ok' | 'unknown';

/** An invoke paired with its completion. Failed operations are dropped: they had no effect. */
export interface Operation {
  /** Index in the operation list (stable ids for reports and bitsets). */
  id: number;
  process: number;
  call: number;
  /** Completion time; `Infinity` when the outcome is unknown. */
  ret: number;
  request: Request;
  /** Absent when the outcome is unknown. */
  response?: Response;
  outcome: Outcome;
}

/**
 * A history whose events cannot be paired (e.g. two invokes by one process without a completion).
 *
 * @example
 * try { toOperations(events); } catch (e) { if (e instanceof HistoryFormatError) console.error(e.message); }
 */
export class HistoryFormatError extends Error {
  override name = 'HistoryFormatError';
}

/**
 * Pairs events into operations. An invoke without a completion counts as unknown; a `fail` drops the
 * operation. A process must not invoke again before its previous operation completed.
 *
 * @example
 * const ops = toOperations([
 *   { type: 'invoke', process: 0, time: 1, request: { type: 'put', key: 'a', value: '1' } },
 *   { type: 'ok', process: 0, time: 2, response: { type: 'put', revision: 2 } },
 * ]);
 * // ops[0].outcome === 'ok'
 */
export function toOperations(events: readonly HistoryEvent[]): Operation[] {
  const open = new Map<number, { call: number; request: Request }>();
  const ops: Operation[] = [];
  const push = (process: number, call: number, ret: number, request: Request, response?: Response) => {
    ops.push({
      id: ops.length,
      process,
      call,
      ret,
      request,
      response,
      outcome: response ? 'ok' : 'unknown',
    });
  };
  for (const e of events) {
    if (e.type === 'invoke') {
      if (open.has(e.process)) {
        throw new HistoryFormatError(
          `process ${e.process} invoked at ${e.time} with an operation still open`,
        );
      }
      open.set(e.process, { call: e.time, request: e.request });
      continue;
    }
    const inv = open.get(e.process);
    if (!inv) throw new HistoryFormatError(`process ${e.process} completed at ${e.time} without an invoke`);
    open.delete(e.process);
    if (e.time < inv.call) throw new HistoryFormatError(`process ${e.process} completed before it invoked`);
    if (e.type === 'ok') {
      if (e.response.type !== inv.request.type) {
        throw new HistoryFormatError(
          `process ${e.process}: ${inv.request.type} request answered with a ${e.response.type} response`,
        );
      }
      push(e.process, inv.call, e.time, inv.request, e.response);
    } else if (e.type === 'info') {
      push(e.process, inv.call, Number.POSITIVE_INFINITY, inv.request);
    }
    // 'fail': the request had no effect; it is not part of the history to linearize.
  }
  for (const [process, inv] of open) push(process, inv.call, Number.POSITIVE_INFINITY, inv.request);
  return ops;
}

/**
 * Serialises a history file as JSON, one event per line (diff- and grep-friendly).
 *
 * @example
 * writeFileSync('history.json', stringifyHistory({ format: HISTORY_FORMAT, events }));
 */
export function stringifyHistory(h: HistoryFile): string {
  const { events, watches, ...rest } = h;
  const head = JSON.stringify(rest).slice(0, -1);
  const lines = events.map((e) => `    ${JSON.stringify(e)}`).join(',\n');
  const ws = (watches ?? []).map((w) => `    ${JSON.stringify(w)}`).join(',\n');
  return `${head},\n  "events": [\n${lines}\n  ],\n  "watches": [\n${ws}\n  ]\n}\n`;
}

/**
 * Parses and validates a history file.
 *
 * @example
 * const h = parseHistory(readFileSync('history.json', 'utf8'));
 */
export function parseHistory(text: string): HistoryFile {
  const h = JSON.parse(text) as HistoryFile;
  if (h.format !== HISTORY_FORMAT) {
    throw new HistoryFormatError(`not a ${HISTORY_FORMAT} file (format: ${String(h.format)})`);
  }
  if (!Array.isArray(h.events)) throw new HistoryFormatError('events must be an array');
  for (const [i, e] of h.events.entries()) {
    if (!['invoke', 'ok', 'fail', 'info'].includes(e?.type) || typeof e.process !== 'number') {
      throw new HistoryFormatError(`event ${i} is not an invoke/ok/fail/info event with a process`);
    }
    if (typeof e.time !== 'number') throw new HistoryFormatError(`event ${i} has no numeric time`);
  }
  if (
    h.compactions !== undefined &&
    !(Array.isArray(h.compactions) && h.compactions.every(Number.isInteger))
  ) {
    throw new HistoryFormatError('compactions must be an array of revisions');
  }
  return h;
}

/**
 * The keys a request reads or writes (lease revokes touch keys only known to the model: none here).
 *
 * @example
 * keysOf({ type: 'put', key: 'a', value: '1' }); // ['a']
 */
export function keysOf(r: Request): string[] {
  switch (r.type) {
    case 'put':
    case 'get':
    case 'delete':
      return [r.key];
    case 'txn':
      return [
        ...new Set([
          ...r.compare.map((c) => c.key),
          ...r.success.map((o) => o.key),
          ...r.failure.map((o) => o.key),
        ]),
      ];
    default:
      return [];
  }
}

/**
 * A short human-readable description of a request, for reports and timelines.
 *
 * @example
 * describeRequest({ type: 'get', key: 'a' }); // 'get a'
 */
export function describeRequest(r: Request): string {
  switch (r.type) {
    case 'put':
      return `put ${r.key}=${r.value}${r.lease && r.lease !== '0' ? ` lease=${r.lease}` : ''}`;
    case 'get':
      return `get${r.serializable ? '(s)' : ''} ${r.key}`;
    case 'delete':
      return `del ${r.key}`;
    case 'txn': {
      const cmp = r.compare.map((c) => `${c.target}(${c.key})${c.result}${c.operand}`).join(' && ');
      const ops = (os: TxnOp[]) => os.map((o) => describeRequest(o)).join('; ');
      return `txn if ${cmp || 'true'} then ${ops(r.success) || '-'} else ${ops(r.failure) || '-'}`;
    }
    case 'leaseGrant':
      return `grant ttl=${r.ttl}`;
    case 'leaseRevoke':
      return `revoke ${r.id}`;
  }
}

/**
 * A short description of a response.
 *
 * @example
 * describeResponse({ type: 'put', revision: 5 }); // 'rev 5'
 */
export function describeResponse(r: Response | undefined): string {
  if (!r) return '?';
  const kvs = (k: KeyValue[]) =>
    k.length === 0
      ? 'nil'
      : k.map((kv) => `${kv.value}@m${kv.modRevision}c${kv.createRevision}v${kv.version}`).join(',');
  switch (r.type) {
    case 'put':
      return `rev ${r.revision}`;
    case 'get':
      return `${kvs(r.kvs)} rev ${r.revision}`;
    case 'delete':
      return `deleted ${r.deleted} rev ${r.revision}`;
    case 'txn': {
      const parts = r.results.map((x) =>
        x.type === 'get' ? kvs(x.kvs) : x.type === 'delete' ? `-${x.deleted}` : 'ok',
      );
      return `${r.succeeded ? 'then' : 'else'} [${parts.join(' ')}] rev ${r.revision}`;
    }
    case 'leaseGrant':
      return `id ${r.id} rev ${r.revision}`;
    case 'leaseRevoke':
      return `rev ${r.revision}`;
  }
}
