// Hand-made histories for the tests: one call per operation with explicit call/return times.
import {
  HISTORY_FORMAT,
  type HistoryEvent,
  type HistoryFile,
  type KeyValue,
  type Request,
  type Response,
  type WatchRecord,
} from '../src/index.js';

/** Builds a history file operation by operation. */
export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  readonly watches: WatchRecord[] = [];

  /** An operation that completed with `response` (or with an unknown outcome when it is null). */
  op(process: number, call: number, ret: number, request: Request, response: Response | null): this {
    this.events.push({ type: 'invoke', process, time: call, request });
    this.events.push(
      response
        ? { type: 'ok', process, time: ret, response }
        : { type: 'info', process, time: ret, error: 'timeout' },
    );
    return this;
  }

  /** An operation that certainly failed. */
  fail(process: number, call: number, ret: number, request: Request): this {
    this.events.push({ type: 'invoke', process, time: call, request });
    this.events.push({ type: 'fail', process, time: ret, error: 'refused' });
    return this;
  }

  watch(w: WatchRecord): this {
    this.watches.push(w);
    return this;
  }

  file(initial?: { revision: number; kvs: KeyValue[] }): HistoryFile {
    return { format: HISTORY_FORMAT, initial, events: this.events, watches: this.watches };
  }
}

/** A KeyValue with no lease. */
export function kv(
  key: string,
  value: string,
  createRevision: number,
  modRevision: number,
  version: number,
): KeyValue {
  return { key, value, createRevision, modRevision, version, lease: '0' };
}

export const put = (key: string, value: string, lease?: string): Request => ({
  type: 'put',
  key,
  value,
  lease,
});
export const get = (key: string, serializable = false): Request => ({ type: 'get', key, serializable });
export const del = (key: string): Request => ({ type: 'delete', key });
export const putOk = (revision: number): Response => ({ type: 'put', revision });
export const getOk = (revision: number, ...kvs: KeyValue[]): Response => ({ type: 'get', revision, kvs });
