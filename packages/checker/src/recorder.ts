/**
 * Records a history while a test drives a server: timestamps from the monotonic clock, relative to
 * the recorder's creation so they stay exact as JavaScript numbers.
 */
import {
  HISTORY_FORMAT,
  type HistoryEvent,
  type HistoryFile,
  type KeyValue,
  type Request,
  type Response,
  type WatchRecord,
} from './history.js';

/**
 * Collects events; `toFile()` gives the history file.
 *
 * @example
 * const rec = new HistoryRecorder();
 * rec.invoke(0, { type: 'put', key: 'k', value: 'v' });
 * rec.ok(0, { type: 'put', revision: 2 });
 * writeFileSync('history.json', stringifyHistory(rec.toFile()));
 */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  readonly watches: WatchRecord[] = [];
  private readonly origin = process.hrtime.bigint();

  /** Nanoseconds since the recorder was created. */
  now(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  /** A process sends a request. */
  invoke(process: number, request: Request): void {
    this.events.push({ type: 'invoke', process, time: this.now(), request });
  }

  /** The server answered the process's open request. */
  ok(process: number, response: Response): void {
    this.events.push({ type: 'ok', process, time: this.now(), response });
  }

  /** The request certainly had no effect (e.g. the server refused it before proposing it). */
  fail(process: number, error?: string): void {
    this.events.push({ type: 'fail', process, time: this.now(), error });
  }

  /** The outcome is unknown (timeout, connection lost): it may take effect later. */
  info(process: number, error?: string): void {
    this.events.push({ type: 'info', process, time: this.now(), error });
  }

  /** The history file; `initial` is the store when recording started (default revision 1, empty). */
  toFile(initial?: { revision: number; kvs: KeyValue[] }, meta?: Record<string, unknown>): HistoryFile {
    return { format: HISTORY_FORMAT, initial, events: this.events, watches: this.watches, meta };
  }
}
