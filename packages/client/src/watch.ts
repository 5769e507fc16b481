/**
 * Watcher: one etcd watch on its own gRPC stream, resumed from the last delivered revision when the
 * stream breaks, consumable as an async iterable or through events.
 *
 * Why one stream per watcher (etcd's Go client multiplexes): it keeps cancellation and resumption
 * local to a watcher, and kv-server/etcd handle thousands of streams per connection fine because all
 * of them share the endpoint's single HTTP/2 channel.
 */
import { EventEmitter } from 'node:events';
import { type ClientDuplexStream, status as GrpcStatus } from '@grpc/grpc-js';
import {
  type DeepPartial,
  type WatchCreateRequest,
  WatchCreateRequest_FilterType,
  type WatchRequest,
  type Event as WireEvent,
  type WatchResponse as WireWatchResponse,
} from './api/index.js';
import { type Bytes, toBytes } from './bytes.js';
import type { Connection } from './connection.js';
import { AbortedError, CompactedError, InvalidAuthTokenError, KvError, toKvError } from './errors.js';
import type { Exact } from './ids.js';
import { keyFor, type RangeScope, rangeEndFor } from './kv.js';
import { Watch } from './methods.js';
import { prefixInterval, stripEvent } from './namespace.js';

/**
 * A watch response with exact ids (lease ids in its key-values, the watch id).
 *
 * @example
 * ```ts
 * const watcher = await client.watch('config/', { prefix: true });
 * watcher.on('response', (res: WatchResponse) => console.log(res.header?.revision, res.events.length));
 * ```
 */
export type WatchResponse = Exact<WireWatchResponse>;

/**
 * One watch event: `type` is `Event_EventType.PUT` (0) or `DELETE` (1), `kv` the key-value after the
 * change (for a delete: the key and the deletion's `modRevision`), `prevKv` the one before (with
 * the `prevKv` option).
 *
 * @example
 * ```ts
 * for await (const ev of client.watch('config/', { prefix: true })) {
 *   console.log(ev.type === Event_EventType.PUT ? 'put' : 'delete', toText(ev.kv!.key));
 * }
 * ```
 */
export type WatchEvent = Exact<WireEvent>;

/**
 * Options of `watch`.
 *
 * @example
 * ```ts
 * const opts: WatchOptions = { prefix: true, prevKv: true, startRevision: 100, fragment: true };
 * const watcher = await client.watch('config/', opts);
 * ```
 */
export interface WatchOptions extends RangeScope {
  /** First revision to deliver (0 = from now). Older revisions replay history. */
  startRevision?: number;
  /** Include the previous key-value with each event. */
  prevKv?: boolean;
  /** Ask the server for periodic empty progress responses. */
  progressNotify?: boolean;
  /** Drop PUT events. */
  noPut?: boolean;
  /** Drop DELETE events. */
  noDelete?: boolean;
  /** Reconnect after a stream failure (default true). Delay doubles from 50 ms up to 2 s. */
  reconnect?: boolean;
  /**
   * Let the server split responses larger than its request size limit into fragments (etcd's
   * `fragment` watch option); the watcher joins them back, so each delivered response is whole.
   */
  fragment?: boolean;
  /** Cancels the watch; an iteration in progress then ends with {@link AbortedError}. */
  signal?: AbortSignal;
}

/** Internal construction details of a watcher (set by `KvClient`). */
export interface WatcherContext {
  /** Namespace prefix put in front of the watched keys and taken off the events' keys. */
  ns?: Uint8Array;
}

/**
 * A running watch. Events:
 * - `'response'` (WatchResponse): every response carrying events (and progress notifications),
 * - `'connected'`: a stream was (re)established and the server confirmed the watch,
 * - `'disconnected'` (KvError): the stream failed; a reconnect follows unless disabled,
 * - `'error'` (KvError): fatal, the watch is over (e.g. {@link CompactedError}); only emitted when
 *   an `'error'` listener exists, otherwise the async iterator throws it,
 * - `'fragment'` (number): a fragment of a large response arrived carrying this many events (the
 *   watcher delivers the joined response once the last fragment is in; see `fragment`),
 * - `'end'`: the watch is over.
 * A watch that cannot be established at all makes `start()` (and `KvClient.watch`) reject.
 *
 * @example
 * ```ts
 * const watcher = await client.watch('config/', { prefix: true });
 * watcher.on('disconnected', (e) => console.warn('reconnecting', e.message));
 * for await (const res of watcher) console.log(res.header?.revision, res.events.length);
 * ```
 */
export class Watcher extends EventEmitter implements AsyncIterable<WatchResponse> {
  /** Next revision the watch still has to deliver; resumption starts here. */
  nextRevision: number;
  private stream: ClientDuplexStream<DeepPartial<WatchRequest>, WatchResponse> | undefined;
  private done = false;
  private failure: KvError | undefined;
  private readonly queue: WatchResponse[] = [];
  private wake: (() => void) | undefined;
  private backoffMs = 50;
  /** Set once the server confirmed the watch; before that a failure is reported, not retried. */
  private everConnected = false;
  /** Consecutive reconnects because of a stale auth token (reset once the server confirms). */
  private authRetries = 0;
  /** A resumed watch was denied and retried with a fresh token (reset once the server confirms). */
  private deniedRetried = false;
  private readonly createBase: DeepPartial<WatchCreateRequest>;
  private readonly ns: Uint8Array | undefined;

  constructor(
    private readonly conn: Connection,
    key: Bytes,
    private readonly opts: WatchOptions = {},
    ctx: WatcherContext = {},
  ) {
    super();
    const k = toBytes(key);
    const filters: WatchCreateRequest_FilterType[] = [];
    if (opts.noPut) filters.push(WatchCreateRequest_FilterType.NOPUT);
    if (opts.noDelete) filters.push(WatchCreateRequest_FilterType.NODELETE);
    this.ns = ctx.ns && ctx.ns.length > 0 ? ctx.ns : undefined;
    let range = { key: keyFor(k, opts), rangeEnd: rangeEndFor(k, opts) };
    if (this.ns) range = prefixInterval(this.ns, range.key, range.rangeEnd);
    this.createBase = {
      ...range,
      prevKv: opts.prevKv ?? false,
      progressNotify: opts.progressNotify ?? false,
      fragment: opts.fragment ?? false,
      filters,
    };
    this.nextRevision = opts.startRevision ?? 0;
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => this.finish(new AbortedError(undefined, undefined, signal.reason));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('end', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /** Opens the first stream; resolves once the server confirmed the watch. */
  async start(): Promise<this> {
    if (this.done) throw this.failure ?? new KvError('watch cancelled');
    await new Promise<void>((resolve, reject) => {
      const onCreated = () => {
        this.off('fatal', onFatal);
        resolve();
      };
      const onFatal = (e: KvError) => {
        this.off('connected', onCreated);
        reject(e);
      };
      this.once('connected', onCreated);
      this.once('fatal', onFatal);
      void this.open();
    });
    return this;
  }

  private async open(): Promise<void> {
    if (this.done) return;
    let stream: ClientDuplexStream<DeepPartial<WatchRequest>, WatchResponse>;
    try {
      stream = await this.conn.bidi(Watch.watch);
    } catch (e) {
      this.onStreamFailure(toKvError(e));
      return;
    }
    if (this.done) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    let created = false;
    // Fragments of one large response, joined until the one with `fragment` unset arrives.
    let pending: WatchResponse | undefined;
    stream.on('data', (part: WatchResponse) => {
      let res = part;
      if (pending && !part.created && !part.canceled && part.watchId === pending.watchId) {
        pending.events.push(...part.events);
        pending.fragment = part.fragment;
        res = pending;
      }
      if (part.fragment && !part.canceled) this.emit('fragment', part.events.length);
      if (res.fragment && !res.canceled) {
        pending = res;
        return;
      }
      pending = undefined;
      const staleToken = res.canceled && /invalid auth token/.test(res.cancelReason);
      // kv-server reports a stale token on watch creation as "permission denied" (etcd 3.4.23 says
      // "invalid auth token"): a resumed watch denied once is retried once with a fresh token, and a
      // second denial is final.
      const deniedOnResume =
        res.canceled &&
        this.everConnected &&
        !this.deniedRetried &&
        /permission denied/.test(res.cancelReason);
      if (deniedOnResume) this.deniedRetried = true;
      if (staleToken || deniedOnResume) {
        // The server no longer knows our token (it restarted, or auth was re-enabled): this is not
        // the watch's end. Authenticate again and resume, as clientv3 does.
        if (this.stream === stream) {
          this.onStreamFailure(new InvalidAuthTokenError(res.cancelReason, GrpcStatus.UNAUTHENTICATED));
          stream.cancel();
        }
        return;
      }
      if (this.ns) for (const ev of res.events) stripEvent(this.ns, ev);
      if (res.created && !created) {
        created = true;
        this.everConnected = true;
        this.authRetries = 0;
        if (!res.canceled) this.deniedRetried = false;
        this.backoffMs = 50;
        // A watch "from now" starts after the revision current at creation; remember it so a
        // reconnect does not skip or repeat anything.
        if (this.nextRevision === 0) this.nextRevision = (res.header?.revision ?? 0) + 1;
        this.emit('connected');
      }
      if (res.canceled) {
        this.finish(this.cancelError(res));
        return;
      }
      const last = res.events[res.events.length - 1];
      if (last?.kv) this.nextRevision = last.kv.modRevision + 1;
      if (res.events.length > 0 || (!res.created && res.header)) this.deliver(res);
    });
    stream.on('error', (e: Error) => {
      if (this.stream === stream) this.onStreamFailure(toKvError(e));
    });
    stream.on('end', () => {
      if (this.stream === stream && !this.done) this.onStreamFailure(new KvError('watch stream ended'));
    });
    stream.write({ createRequest: { ...this.createBase, startRevision: this.nextRevision } });
  }

  private cancelError(res: WatchResponse): KvError {
    if (res.compactRevision > 0) {
      const e = new CompactedError('etcdserver: mvcc: required revision has been compacted');
      e.compactRevision = res.compactRevision;
      return e;
    }
    return new KvError(res.cancelReason || 'watch canceled by the server');
  }

  private onStreamFailure(e: KvError): void {
    this.stream = undefined;
    if (this.done) return;
    this.emit('disconnected', e);
    // A stale token is retried (with a fresh one) a few times even before the first success.
    const staleToken = e instanceof InvalidAuthTokenError && this.authRetries++ < 3;
    if (e instanceof InvalidAuthTokenError) this.conn.invalidateToken();
    // A watch that never got established (no reachable endpoint, auth failure) fails `start()`
    // instead of retrying forever in the background.
    if (this.opts.reconnect === false || (!this.everConnected && !staleToken)) {
      this.finish(e);
      return;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
    setTimeout(() => void this.open(), delay).unref?.();
  }

  private deliver(res: WatchResponse): void {
    this.emit('response', res);
    this.queue.push(res);
    this.wake?.();
  }

  private finish(error?: KvError): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
    if (error) {
      this.emit('fatal', error);
      if (this.listenerCount('error') > 0) this.emit('error', error);
    }
    this.emit('end');
    this.wake?.();
  }

  /** Stops the watch. Pending responses can still be read from the iterator. */
  cancel(): void {
    this.finish();
  }

  /** Yields responses with events until cancelled; throws the fatal error (e.g. CompactedError). */
  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    try {
      yield* this.drain();
    } finally {
      // A consumer that stops iterating (break/return) is done with the watch.
      this.cancel();
    }
  }

  /**
   * The events of every response, one at a time, until cancelled. Breaking out of the loop cancels
   * the watch.
   *
   * @example
   * ```ts
   * const watcher = await client.watch('jobs/', { prefix: true });
   * for await (const ev of watcher.events()) console.log(toText(ev.kv!.key));
   * ```
   */
  async *events(): AsyncGenerator<WatchEvent> {
    for await (const res of this) yield* res.events;
  }

  private async *drain(): AsyncGenerator<WatchResponse> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.done) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((r) => {
        this.wake = r;
      });
      this.wake = undefined;
    }
  }
}
