/**
 * Watcher: one etcd watch on its own gRPC stream, resumed from the last delivered revision when the
 * stream breaks, consumable as an async iterable or through events.
 *
 * Why one stream per watcher (etcd's Go client multiplexes): it keeps cancellation and resumption
 * local to a watcher, and kv-server/etcd handle thousands of streams per connection fine because all
 * of them share the endpoint's single HTTP/2 channel.
 */
import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import {
  type DeepPartial,
  type WatchCreateRequest,
  WatchCreateRequest_FilterType,
  type WatchRequest,
  type WatchResponse as WireWatchResponse,
} from './api/index.js';
import { type Bytes, toBytes } from './bytes.js';
import type { Connection } from './connection.js';
import { CompactedError, KvError, toKvError } from './errors.js';
import type { Exact } from './ids.js';
import { keyFor, type RangeScope, rangeEndFor } from './kv.js';
import { Watch } from './methods.js';

/** A watch response with exact lease ids in its key-values. */
export type WatchResponse = Exact<WireWatchResponse>;

/** Options of `watch`. */
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
}

/**
 * A running watch. Events:
 * - `'response'` (WatchResponse): every response carrying events (and progress notifications),
 * - `'connected'`: a stream was (re)established and the server confirmed the watch,
 * - `'disconnected'` (KvError): the stream failed; a reconnect follows unless disabled,
 * - `'error'` (KvError): fatal, the watch is over (e.g. {@link CompactedError}); only emitted when
 *   an `'error'` listener exists, otherwise the async iterator throws it,
 * - `'end'`: the watch is over.
 * A watch that cannot be established at all makes `start()` (and `KvClient.watch`) reject.
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
  private readonly createBase: DeepPartial<WatchCreateRequest>;

  constructor(
    private readonly conn: Connection,
    key: Bytes,
    private readonly opts: WatchOptions = {},
  ) {
    super();
    const k = toBytes(key);
    const filters: WatchCreateRequest_FilterType[] = [];
    if (opts.noPut) filters.push(WatchCreateRequest_FilterType.NOPUT);
    if (opts.noDelete) filters.push(WatchCreateRequest_FilterType.NODELETE);
    this.createBase = {
      key: keyFor(k, opts),
      rangeEnd: rangeEndFor(k, opts),
      prevKv: opts.prevKv ?? false,
      progressNotify: opts.progressNotify ?? false,
      filters,
    };
    this.nextRevision = opts.startRevision ?? 0;
  }

  /** Opens the first stream; resolves once the server confirmed the watch. */
  async start(): Promise<this> {
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
    stream.on('data', (res: WatchResponse) => {
      if (res.created && !created) {
        created = true;
        this.everConnected = true;
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
    // A watch that never got established (no reachable endpoint, auth failure) fails `start()`
    // instead of retrying forever in the background.
    if (this.opts.reconnect === false || !this.everConnected) {
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
