/**
 * Fluent, awaitable request builders: `client.get(k).prefix().limit(10).serializable()` and
 * `client.watch(k).prefix().startRevision(5)`. A builder collects options and sends its request when
 * first awaited (or when a terminal helper such as `.strings()` is called); it sends at most once.
 */
import type { RangeResponse } from './api/index.js';
import { toText } from './bytes.js';
import type { CallOpts } from './connection.js';
import { KvError } from './errors.js';
import type { Exact } from './ids.js';
import type { GetOptions } from './kv.js';
import type { WatchEvent, Watcher, WatchOptions } from './watch.js';

type Settle<T, R> = ((value: T) => R | PromiseLike<R>) | null | undefined;

/** Shared core: options, call options, one lazy send. */
abstract class LazyRequest<O extends object, R> implements Promise<R> {
  private sent: Promise<R> | undefined;
  constructor(
    protected readonly opts: O,
    protected readonly call: CallOpts,
  ) {}

  protected abstract send(): Promise<R>;

  /** Sets an option; refused once the request is on its way (it would be silently ignored). */
  protected set<K extends keyof O>(key: K, value: O[K]): this {
    if (this.sent) throw new KvError(`request already sent; set ${String(key)} before awaiting`);
    this.opts[key] = value;
    return this;
  }

  /** Aborts the request through `signal` (it rejects with `AbortedError`). */
  signal(signal: AbortSignal): this {
    if (this.sent) throw new KvError('request already sent; set the signal before awaiting');
    this.call.signal = signal;
    return this;
  }

  /** Deadline of the request in milliseconds. */
  timeout(ms: number): this {
    if (this.sent) throw new KvError('request already sent; set the timeout before awaiting');
    this.call.timeoutMs = ms;
    return this;
  }

  /** Sends the request (once) and returns its result. */
  exec(): Promise<R> {
    this.sent ??= this.send();
    return this.sent;
  }

  // biome-ignore lint/suspicious/noThenProperty: builders are awaitable on purpose
  then<A = R, B = never>(onfulfilled?: Settle<R, A>, onrejected?: Settle<unknown, B>): Promise<A | B> {
    return this.exec().then(onfulfilled, onrejected);
  }
  catch<B = never>(onrejected?: Settle<unknown, B>): Promise<R | B> {
    return this.exec().catch(onrejected);
  }
  finally(onfinally?: (() => void) | null): Promise<R> {
    return this.exec().finally(onfinally);
  }
  get [Symbol.toStringTag](): string {
    return 'KvRequest';
  }
}

/**
 * A range read being built; await it for the full `RangeResponse`, or end it with `.strings()`,
 * `.string()`, `.keys()`, `.kvs()` or `.count()`. Like every builder it also has `.signal(s)`,
 * `.timeout(ms)`, `.exec()` and the promise methods `then`/`catch`/`finally`; options set after
 * the request was sent throw a `KvError`.
 *
 * @example
 * ```ts
 * const res = await client.get('services/').prefix().limit(10).serializable();
 * const byKey = await client.get('config/').prefix().strings(); // { 'config/a': '1', ... }
 * const value = await client.get('config/a').string(); // '1' or undefined
 * ```
 */
export class RangeBuilder extends LazyRequest<GetOptions, Exact<RangeResponse>> {
  constructor(
    private readonly run: (opts: GetOptions, call: CallOpts) => Promise<Exact<RangeResponse>>,
    opts: GetOptions = {},
    call: CallOpts = {},
  ) {
    super({ ...opts }, { ...call });
  }
  protected send(): Promise<Exact<RangeResponse>> {
    return this.run(this.opts, this.call);
  }
  /** Every key starting with the key. */
  prefix(): this {
    return this.set('prefix', true);
  }
  /** Every key >= the key. */
  fromKey(): this {
    return this.set('fromKey', true);
  }
  /** Keys in `[key, end)`. */
  rangeEnd(end: string | Uint8Array): this {
    return this.set('rangeEnd', end);
  }
  /** At most `n` keys (`more` tells whether there were more). */
  limit(n: number): this {
    return this.set('limit', n);
  }
  /** Read as of this revision (a consistent snapshot; pin it for paging). */
  revision(rev: number): this {
    return this.set('revision', rev);
  }
  /** Serve from the member's local state without a quorum round. */
  serializable(on = true): this {
    return this.set('serializable', on);
  }
  /** Only keys, no values. */
  keysOnly(on = true): this {
    return this.set('keysOnly', on);
  }
  /** Only the count. */
  countOnly(on = true): this {
    return this.set('countOnly', on);
  }
  /** Sort by `target` in `order`. */
  sort(
    target: NonNullable<GetOptions['sortTarget']>,
    order: NonNullable<GetOptions['sortOrder']> = 'ascend',
  ): this {
    this.set('sortTarget', target);
    return this.set('sortOrder', order);
  }
  /** Only keys last modified at or after `rev`. */
  minModRevision(rev: number): this {
    return this.set('minModRevision', rev);
  }
  /** Only keys last modified at or before `rev`. */
  maxModRevision(rev: number): this {
    return this.set('maxModRevision', rev);
  }
  /** Only keys created at or after `rev`. */
  minCreateRevision(rev: number): this {
    return this.set('minCreateRevision', rev);
  }
  /** Only keys created at or before `rev`. */
  maxCreateRevision(rev: number): this {
    return this.set('maxCreateRevision', rev);
  }
  /** The key-values. */
  async kvs(): Promise<Exact<RangeResponse>['kvs']> {
    return (await this.exec()).kvs;
  }
  /** The keys as UTF-8 text. */
  async keys(): Promise<string[]> {
    return (await this.exec()).kvs.map((kv) => toText(kv.key));
  }
  /** The first value as UTF-8 text, or undefined when no key matched. */
  async string(): Promise<string | undefined> {
    const kv = (await this.exec()).kvs[0];
    return kv ? toText(kv.value) : undefined;
  }
  /** Keys mapped to values, both as UTF-8 text. */
  async strings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const kv of (await this.exec()).kvs) out[toText(kv.key)] = toText(kv.value);
    return out;
  }
  /** The number of matching keys (asks the server for the count only). */
  async count(): Promise<number> {
    if (!this.opts.countOnly) this.set('countOnly', true);
    return (await this.exec()).count;
  }
}

/**
 * A watch being built. Await it for the started {@link Watcher} (responses, events, `cancel()`), or
 * iterate it directly for events: `for await (const ev of client.watch('k').prefix())`. It also
 * has `.signal(s)` (cancels the watch), `.exec()`/`.create()` and `then`/`catch`/`finally`.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * for await (const ev of client.watch('config/').prefix().prevKv().signal(ac.signal)) {
 *   console.log(toText(ev.kv!.key), toText(ev.kv!.value));
 * }
 * ```
 */
export class WatchBuilder extends LazyRequest<WatchOptions, Watcher> implements AsyncIterable<WatchEvent> {
  constructor(
    private readonly start: (opts: WatchOptions) => Promise<Watcher>,
    opts: WatchOptions = {},
  ) {
    super({ ...opts }, {});
  }
  protected send(): Promise<Watcher> {
    return this.start({ ...this.opts, signal: this.call.signal ?? this.opts.signal });
  }
  /** Every key starting with the key. */
  prefix(): this {
    return this.set('prefix', true);
  }
  /** Every key >= the key. */
  fromKey(): this {
    return this.set('fromKey', true);
  }
  /** Keys in `[key, end)`. */
  rangeEnd(end: string | Uint8Array): this {
    return this.set('rangeEnd', end);
  }
  /** Replay history from this revision. */
  startRevision(rev: number): this {
    return this.set('startRevision', rev);
  }
  /** Include each event's previous key-value. */
  prevKv(on = true): this {
    return this.set('prevKv', on);
  }
  /** Periodic empty progress responses. */
  progressNotify(on = true): this {
    return this.set('progressNotify', on);
  }
  /** Drop PUT events. */
  noPut(on = true): this {
    return this.set('noPut', on);
  }
  /** Drop DELETE events. */
  noDelete(on = true): this {
    return this.set('noDelete', on);
  }
  /** Let the server fragment large responses (joined again by the watcher). */
  fragment(on = true): this {
    return this.set('fragment', on);
  }
  /** Starts the watch (same as awaiting the builder). */
  create(): Promise<Watcher> {
    return this.exec();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    const watcher = await this.exec();
    yield* watcher.events();
  }
}
