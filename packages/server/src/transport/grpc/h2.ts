/**
 * The server side of HTTP/2 (RFC 9113) as gRPC uses it, in JavaScript on the connection's byte stream.
 *
 * Why not node:http2: each of its streams is a native object behind a weak handle that only a full
 * garbage collection clears, and each request header value reaches JavaScript as an external string,
 * so per-request objects are promoted to V8's old generation and full collections pause the server for
 * tens of milliseconds (the main source of kv's tail latency); bare, it costs ~60 µs of CPU per small
 * call, more than kv's whole gRPC server on this layer (~33 µs), and it sends a response's trailers in
 * a second socket write one event-loop turn after its data (docs/benchmarks.md, session 3;
 * tools/bench/transport-measure.mjs).
 *
 * What is here: the preface and SETTINGS exchange (our limits advertised: concurrent streams, header
 * list size, HPACK table, frame size, initial window), the stream state machine with RFC 9113's stream
 * and connection errors, request header validation (8.2, 8.3), PING, flow control in both directions
 * (receive windows enforced with FLOW_CONTROL_ERROR and refilled in halves as handlers take the data,
 * held back while a stream's own output is stuck; DATA we send waits for the peer's windows), HEADERS
 * with CONTINUATION and a full HPACK decoder, RST_STREAM, GOAWAY (graceful close: open streams
 * finish), and output coalesced into one socket write per event-loop turn.
 *
 * Abuse (see h2-limits.ts for the numbers): client-caused stream resets (rapid reset, CVE-2023-44487)
 * and frames that carry no request (PING, SETTINGS, empty DATA, WINDOW_UPDATE, PRIORITY, CONTINUATION
 * floods) each draw on a token bucket whose exhaustion is GOAWAY ENHANCE_YOUR_CALM; gRPC's keep-alive
 * policy sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" as grpc-go does; header lists past the limit
 * are dropped while decoding (HPACK bombs); the socket is not read while its output is stuck, so a
 * client that does not read cannot make us queue answers; handshake, idle and keep-alive timers close
 * silent connections.
 *
 * Not here: server push, priorities (parsed and checked, then ignored, as RFC 9113 allows), HTTP/1.1
 * upgrade. Any `:authority` is accepted (grpc-go clients send `http://host:port`).
 */
import type { Duplex } from 'node:stream';
import {
  ErrorCode,
  Flag,
  FrameType,
  frameHeader,
  MAX_WINDOW,
  PREFACE,
  Setting,
  settingsPayload,
  u32,
} from './h2-frame.js';
import { GRPC_DEFAULT_MIN_PING_MS, H2_DEFAULTS, type H2Limits, RateBudget } from './h2-limits.js';
import { EMPTY_HEADERS, encodeFields, type HeaderMap, HpackDecoder, HpackError } from './hpack.js';
import { OUTPUT_BUFFER_BYTES, releaseOutputBuffer, takeOutputBuffer } from './output-pool.js';

/** A stream's write() reports back-pressure once this much of its data waits for flow control. */
const STREAM_HIGH_WATER = 64 * 1024;
/** grpc-go's limit: the third ping too early closes the connection. */
const MAX_PING_STRIKES = 2;
/** grpc-go's interval for pings without an open stream (when PermitWithoutStream is false). */
const PING_WITHOUT_STREAM_MS = 2 * 3600_000;
/** Our keep-alive PING's payload, to tell its ACK from others. */
const KEEPALIVE_PING = Buffer.from('kv-alive');
/** After a GOAWAY for an error, how long the peer has to close before we drop the socket. */
const CLOSE_GRACE_MS = 1000;

/** A violation that ends the connection with GOAWAY. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** `:status 200` and `content-type: application/grpc`: every gRPC response starts with this block. */
const GRPC_RESPONSE_HEADERS = encodeFields([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);

/**
 * Header fields HPACK-encoded once (see encodeFields), for a block every response sends alike: the OK
 * trailers of a unary call. Encoding them per response cost a number array, a Buffer and a TurboFan
 * compile of the encoder on the request path (docs/benchmarks.md "Session 20").
 * @example
 * const OK = new EncodedFields([['grpc-status', '0']]);
 * stream.end(OK);
 */
export class EncodedFields {
  /** The HPACK block (literals without indexing: it is the same on every connection). */
  readonly bytes: Buffer;

  constructor(readonly fields: ReadonlyArray<readonly [string, string]>) {
    this.bytes = encodeFields(fields);
  }
}

/** One request stream. Callbacks are set by the server synchronously when the stream arrives. */
export class H2Stream {
  /** A request body chunk (may be a view into the connection's read buffer: copy what you keep). */
  onData: ((chunk: Buffer) => void) | undefined;
  /** The client half-closed its side. */
  onEnd: (() => void) | undefined;
  /** The stream was reset by the client or its connection went away before we ended it. */
  onClose: (() => void) | undefined;
  /** Queued data fell below the high-water mark after write() returned false. */
  onDrain: (() => void) | undefined;

  /** Send window (the peer's receive window for this stream). */
  window: number;
  /** Our receive window for this stream: what the client may still send. */
  recvWindow: number;
  /** Bytes handed to the handler and not yet credited back with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Bytes taken while the stream's output was stuck: credited to the connection once it drains. */
  connDebt = 0;
  /** `content-length` of the request, checked against its DATA (-1: none given). */
  expectedLength = -1;
  receivedLength = 0;
  headersSent = false;
  /** We sent END_STREAM (or reset the stream). */
  localEnded = false;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  /** Data waiting for flow-control window, in order. */
  queue: Buffer[] = [];
  queued = 0;
  /** Trailers to send once the queue is empty (or an empty block: end with an empty DATA frame). */
  pendingTrailers: Buffer | undefined;
  wantsDrain = false;
  /** Callers of {@link sent} waiting for the data written so far to leave for the socket. */
  sentWaiters: Array<() => void> = [];

  constructor(
    readonly conn: H2Connection,
    readonly id: number,
    /** The request headers; empty once the stream is closed (see H2Connection's `forget`). */
    public headers: HeaderMap,
    recvWindow: number,
  ) {
    this.window = conn.peerInitialWindow;
    this.recvWindow = recvWindow;
  }

  /** True once the stream can take no more output (ended by us, reset, or connection gone). */
  get closed(): boolean {
    return this.localEnded;
  }

  /** Sends the response headers (`:status 200`, gRPC content type) if not sent yet. */
  sendHeaders(): void {
    if (this.headersSent || this.localEnded) return;
    this.headersSent = true;
    this.conn.emitHeaders(this.id, GRPC_RESPONSE_HEADERS, false);
  }

  /**
   * Sends response headers of any kind (the JSON gateway over HTTP/2); `endStream` makes it the
   * whole response. Does nothing once headers were sent.
   */
  respond(fields: ReadonlyArray<readonly [string, string]>, endStream: boolean): void {
    if (this.headersSent || this.localEnded) return;
    this.headersSent = true;
    if (endStream) this.localEnded = true;
    this.conn.emitHeaders(this.id, encodeFields(fields), endStream);
    if (endStream) this.conn.streamDone(this);
  }

  /** Queues response body bytes; false when the caller should wait for `onDrain`. */
  write(data: Buffer): boolean {
    if (this.localEnded) return true;
    this.sendHeaders();
    if (data.length > 0) {
      this.queue.push(data);
      this.queued += data.length;
      this.conn.queuedBytes += data.length;
      this.conn.pump(this);
    }
    if (this.queued > STREAM_HIGH_WATER || this.conn.socketBlocked) {
      this.wantsDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Resolves once every byte written so far has been copied into a socket write, so the caller may
   * overwrite the buffers it passed to write() (a writer reusing one buffer per message). Resolves at
   * once when the stream is closed (its unsent data is dropped).
   */
  sent(): Promise<void> {
    if (this.localEnded && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.sentWaiters.push(resolve);
      this.conn.watchSent(this);
    });
  }

  /**
   * Ends the stream with trailer fields (sent after the queued data). Before any headers this is a
   * trailers-only response: one HEADERS frame with `:status`, content type and the fields.
   */
  end(fields: ReadonlyArray<readonly [string, string]> | EncodedFields): void {
    if (this.localEnded || this.pendingTrailers) return;
    // The block is only read (queued for the socket), so an EncodedFields' bytes are shared.
    const block = fields instanceof EncodedFields ? fields.bytes : encodeFields(fields);
    if (!this.headersSent) {
      this.headersSent = true;
      this.localEnded = true;
      this.conn.emitHeaders(this.id, Buffer.concat([GRPC_RESPONSE_HEADERS, block]), true);
      this.conn.streamDone(this);
      return;
    }
    this.pendingTrailers = block;
    this.conn.pump(this);
  }

  /** Ends the stream after the queued data, without trailers (an empty DATA frame with END_STREAM). */
  finish(): void {
    this.end([]);
  }

  /** Ends the stream with a non-gRPC HTTP status (e.g. 415 for a wrong content type). */
  respondStatus(status: number, fields: ReadonlyArray<readonly [string, string]>): void {
    this.respond([[':status', String(status)], ['content-type', 'application/grpc'], ...fields], true);
  }

  /** Abandons the stream: RST_STREAM with `code` (CANCEL by default); the handler is not told. */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.localEnded) return;
    this.localEnded = true;
    this.conn.resetFromHandler(this, code);
  }
}

/** Options of {@link H2Connection}. */
export interface H2ConnectionOptions {
  /** A new request stream (its headers decoded); set its callbacks synchronously. */
  onStream: (stream: H2Stream) => void;
  /** The connection is gone (socket closed). */
  onClose?: () => void;
  /**
   * A stream callback threw: the stream is reset (INTERNAL_ERROR) and the connection carries on, so
   * one faulty handler cannot take the server down. Default: ignored.
   */
  onHandlerError?: (err: unknown) => void;
  /** We ended the connection with a GOAWAY for an error (abuse, protocol violation, timeout). */
  onGoAway?: (code: number, reason: string) => void;
  /** Limits and timers; see {@link H2Limits} for the defaults. */
  limits?: Partial<H2Limits>;
}

/** A header block being assembled from HEADERS + CONTINUATION frames. */
interface PendingBlock {
  id: number;
  flags: number;
  parts: Buffer[];
  size: number;
  continuations: number;
  /** The HEADERS frame named the stream itself as its dependency (a stream error once decoded). */
  selfDependent: boolean;
}

/** One HTTP/2 server connection on a socket (plain TCP, or TLS after an `h2` ALPN). */
export class H2Connection {
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: new streams' send window. */
  peerInitialWindow = 65535;
  /** True while the socket's write buffer is full (we stop reading until it drains). */
  socketBlocked = false;
  /** Response bytes of all streams waiting for flow-control window. */
  queuedBytes = 0;
  private readonly limits: H2Limits;
  private peerMaxFrame = 16384;
  /** Our send window on the connection. */
  private connWindow = 65535;
  /** Our receive window on the connection, and what was consumed but not yet credited back. */
  private connRecvWindow: number;
  private connRecvUnacked = 0;
  private readonly hpack: HpackDecoder;
  private readonly streams = new Map<number, H2Stream>();
  /**
   * Streams we reset while the client could still be sending: frames already on their way are
   * ignored (RFC 9113 5.4.2), not answered with another reset. The most recent few hundred.
   */
  private readonly weReset = new Set<number>();
  /** Streams with data held back by flow control. */
  private blocked: H2Stream[] = [];
  private lastId = 0;
  private readBuf: Buffer | undefined;
  private prefaceSeen = false;
  /** The client's first SETTINGS arrived / it acknowledged ours: the handshake is complete. */
  private peerSettingsSeen = false;
  private ourSettingsAcked = false;
  private continuation: PendingBlock | undefined;
  private out: Buffer[] = [];
  /** `out` holds PING ACKs and nothing else (see flushTask). */
  private outOnlyAcks = false;
  /** The pending flush already waited a turn for an answer to join the ACKs. */
  private ackWaited = false;
  /** Streams whose sent() waits for their queue to be copied out. */
  private readonly sentWatch = new Set<H2Stream>();
  private flushScheduled = false;
  private goingAway = false;
  private dead = false;
  private readonly resets: RateBudget;
  private readonly cheapFrames: RateBudget;
  // Keep-alive enforcement (grpc-go's policy) and our own pings.
  private lastPingAt = 0;
  private pingStrikes = 0;
  /** We sent HEADERS or DATA since the last client ping: its next ping is no strike. */
  private resetPingStrikes = false;
  private lastReadAt = Date.now();
  private keepalivePingAt = 0;
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly socket: Duplex,
    private readonly opts: H2ConnectionOptions,
  ) {
    this.limits = { ...H2_DEFAULTS, ...opts.limits };
    const l = this.limits;
    this.hpack = new HpackDecoder(l.headerTableSize, l.maxHeaderListSize);
    this.resets = new RateBudget(l.resetBurst, l.resetRatePerSec);
    this.cheapFrames = new RateBudget(l.cheapFrameBurst, l.cheapFrameRatePerSec);
    this.connRecvWindow = Math.max(65535, l.connectionWindow);
    // grpc-go advertises any non-zero stream limit (etcd's default math.MaxUint32 included); 0 is
    // "no limit" and is not advertised.
    const settings = settingsPayload([
      [Setting.HEADER_TABLE_SIZE, l.headerTableSize],
      [Setting.ENABLE_PUSH, 0],
      ...(l.maxConcurrentStreams > 0
        ? [[Setting.MAX_CONCURRENT_STREAMS, l.maxConcurrentStreams] as const]
        : []),
      [Setting.INITIAL_WINDOW_SIZE, l.streamWindow],
      [Setting.MAX_FRAME_SIZE, l.maxFrameSize],
      [Setting.MAX_HEADER_LIST_SIZE, l.maxHeaderListSize],
    ]);
    this.push(frameHeader(settings.length, FrameType.SETTINGS, 0, 0), settings);
    if (this.connRecvWindow > 65535) {
      this.push(frameHeader(4, FrameType.WINDOW_UPDATE, 0, 0), u32(this.connRecvWindow - 65535));
    }
    this.flushSoon();
    if ('setNoDelay' in socket) (socket as { setNoDelay(v: boolean): void }).setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onSocketClose());
    this.startTimers();
    // The listener may have paused the socket (and unshifted the bytes it peeked at).
    socket.resume();
  }

  /** Open streams (for tests and metrics). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Graceful close: GOAWAY now, new streams refused, the socket ends once open streams are done. */
  close(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.push(frameHeader(8, FrameType.GOAWAY, 0, 0), u32(this.lastId), u32(ErrorCode.NO_ERROR));
    this.flushSoon();
    this.maybeEnd();
  }

  /** Drops the connection at once; open streams see `onClose`. */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- timers ----

  private startTimers(): void {
    const l = this.limits;
    // One timer per purpose, replaced when rescheduled.
    const later = (purpose: string, ms: number, fn: () => void): void => {
      clearTimeout(this.timers.get(purpose));
      const t = setTimeout(fn, ms);
      t.unref();
      this.timers.set(purpose, t);
    };
    // The preface, the client's SETTINGS and its ACK of ours: a silent or slow socket goes away.
    later('handshake', l.handshakeTimeoutMs, () => {
      if (this.dead || (this.peerSettingsSeen && this.ourSettingsAcked)) return;
      this.fail(
        this.prefaceSeen ? ErrorCode.SETTINGS_TIMEOUT : ErrorCode.PROTOCOL_ERROR,
        'handshake timeout',
      );
    });
    if (l.idleTimeoutMs > 0) {
      const checkIdle = (): void => {
        if (this.dead) return;
        const quiet = Date.now() - this.lastReadAt;
        if (this.streams.size === 0 && quiet >= l.idleTimeoutMs) {
          this.close();
          return;
        }
        // Streams open: look again a whole period later; else when the quiet period would end.
        later('idle', quiet >= l.idleTimeoutMs ? l.idleTimeoutMs : l.idleTimeoutMs - quiet, checkIdle);
      };
      later('idle', l.idleTimeoutMs, checkIdle);
    }
    if (l.keepaliveIntervalMs > 0 && l.keepaliveTimeoutMs > 0) {
      // grpc-go's server keep-alive: a client silent for an interval gets a PING; no byte from it
      // within the timeout closes the connection (without GOAWAY, as grpc-go does).
      const checkAlive = (): void => {
        if (this.dead) return;
        const quiet = Date.now() - this.lastReadAt;
        if (quiet < l.keepaliveIntervalMs) {
          later('keepalive', l.keepaliveIntervalMs - quiet, checkAlive);
          return;
        }
        this.keepalivePingAt = Date.now();
        this.push(frameHeader(8, FrameType.PING, 0, 0), KEEPALIVE_PING);
        this.flushSoon();
        later('keepalive', l.keepaliveTimeoutMs, () => {
          if (this.dead) return;
          if (this.lastReadAt < this.keepalivePingAt) {
            this.opts.onGoAway?.(ErrorCode.NO_ERROR, 'keepalive ping not acknowledged');
            this.socket.destroy();
            return;
          }
          checkAlive();
        });
      };
      later('keepalive', l.keepaliveIntervalMs, checkAlive);
    }
  }

  private clearTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  // ---- output ----

  /** Queues a header block for stream `id`, split into CONTINUATION frames if needed. */
  emitHeaders(id: number, block: Buffer, endStream: boolean): void {
    const es = endStream ? Flag.END_STREAM : 0;
    this.resetPingStrikes = true;
    this.cheapFrames.give();
    if (block.length <= this.peerMaxFrame) {
      this.push(frameHeader(block.length, FrameType.HEADERS, Flag.END_HEADERS | es, id), block);
    } else {
      let off = 0;
      let type: number = FrameType.HEADERS;
      let flags: number = es;
      while (off < block.length) {
        const n = Math.min(this.peerMaxFrame, block.length - off);
        const last = off + n === block.length;
        this.push(
          frameHeader(n, type, flags | (last ? Flag.END_HEADERS : 0), id),
          block.subarray(off, off + n),
        );
        off += n;
        type = FrameType.CONTINUATION;
        flags = 0;
      }
    }
    this.flushSoon();
  }

  /** Sends as much of the stream's queued data (then its trailers) as the flow-control windows allow. */
  pump(s: H2Stream): void {
    while (s.queue.length > 0) {
      const head = s.queue[0]!;
      const n = Math.min(head.length, this.connWindow, s.window, this.peerMaxFrame);
      if (n <= 0) {
        if (!this.blocked.includes(s)) this.blocked.push(s);
        this.flushSoon();
        return;
      }
      const piece = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
      s.queued -= n;
      this.queuedBytes -= n;
      this.connWindow -= n;
      s.window -= n;
      this.resetPingStrikes = true;
      this.cheapFrames.give();
      this.push(frameHeader(n, FrameType.DATA, 0, s.id), piece);
    }
    if (s.pendingTrailers && !s.localEnded) {
      const block = s.pendingTrailers;
      s.pendingTrailers = undefined;
      s.localEnded = true;
      if (block.length > 0) this.emitHeaders(s.id, block, true);
      else this.push(frameHeader(0, FrameType.DATA, Flag.END_STREAM, s.id));
      this.streamDone(s);
    }
    this.flushSoon();
    if (s.wantsDrain && s.queued <= STREAM_HIGH_WATER && !this.socketBlocked) this.drained(s);
  }

  /**
   * Our side of the stream ended. A client still sending keeps the stream half-closed (local) until
   * its END_STREAM or reset: its remaining frames are still checked (flow control, content-length,
   * trailers) and its data is credited back and dropped.
   */
  streamDone(s: H2Stream): void {
    if (!this.streams.has(s.id)) return;
    this.flushSoon();
    if (!s.remoteEnded) return;
    this.forget(s);
    this.maybeEnd();
  }

  /** A handler abandoned its stream ({@link H2Stream.reset}). */
  resetFromHandler(s: H2Stream, code: number): void {
    if (!this.streams.has(s.id)) return;
    this.forget(s);
    this.sendReset(s.id, code);
    this.maybeEnd();
  }

  /**
   * The stream is closed: drop it, and give the connection window it still held back. A caller that
   * still has to tell the handler (`onClose`) takes the callback first.
   */
  private forget(s: H2Stream): void {
    this.streams.delete(s.id);
    // Let go of the handler's callbacks (and through them its call, request and response), the
    // request headers and the trailers. Why: a closed stream can still be pointed at from garbage
    // that a young-generation collection treats as live (old-generation objects that died since the
    // last full collection, such as a hash table's dropped backing store), and then everything the
    // stream points to is copied and promoted too. Under 100 clients answered asynchronously, 20 % of
    // all allocation survived each scavenge and scavenges paused the loop for 20-38 ms; with this,
    // 4 % and ~4 ms (docs/benchmarks.md "Session 9").
    s.onData = s.onEnd = s.onClose = s.onDrain = undefined;
    s.headers = EMPTY_HEADERS;
    s.pendingTrailers = undefined;
    // A reset stream's unsent data goes with it.
    this.queuedBytes -= s.queued;
    s.queue = [];
    s.queued = 0;
    // Its sent() waiters resolve at the next flush (what was pumped is still in `out` until then).
    if (this.sentWatch.has(s)) this.flushSoon();
    if (s.connDebt > 0) {
      const debt = s.connDebt;
      s.connDebt = 0;
      this.creditConnection(debt);
    }
  }

  /** Queues RST_STREAM for `id` and remembers that we reset it. */
  private sendReset(id: number, code: number): void {
    this.push(frameHeader(4, FrameType.RST_STREAM, 0, id), u32(code));
    this.weReset.add(id);
    if (this.weReset.size > 256) this.weReset.delete(this.weReset.values().next().value!);
    this.flushSoon();
  }

  private push(...bufs: Buffer[]): void {
    this.outOnlyAcks = false;
    for (const b of bufs) this.out.push(b);
  }

  /** Resolves the stream's sent() waiters at the next flush that leaves its queue empty. */
  watchSent(s: H2Stream): void {
    if (this.dead) {
      this.resolveSent(s);
      return;
    }
    this.sentWatch.add(s);
    this.flushSoon();
  }

  private resolveSent(s: H2Stream): void {
    this.sentWatch.delete(s);
    const waiters = s.sentWaiters;
    s.sentWaiters = [];
    for (const w of waiters) w();
  }

  /** One socket write per event-loop turn for everything produced in it. */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushTask);
  }

  /**
   * grpc-go clients send a PING (bandwidth estimation) with nearly every request, in the same read as
   * the request. Written at once, its ACK costs a socket write and a client wake-up of its own, just
   * before the answer: a queue of nothing but ACKs, while requests are open, waits one more event-loop
   * turn, and an answer produced meanwhile (a write applied in the same turn) goes out in the same
   * write, ACKs first. The ACK is late by one turn at most.
   */
  private readonly flushTask = (): void => {
    if (this.outOnlyAcks && !this.ackWaited && this.streams.size > 0) {
      this.ackWaited = true;
      setImmediate(this.flushTask);
      return;
    }
    this.ackWaited = false;
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.dead) return;
    if (this.out.length > 0) this.writeOut();
    // Everything pumped so far is in a socket write now: streams with an empty queue are sent.
    for (const s of this.sentWatch) if (s.queue.length === 0) this.resolveSent(s);
  }

  /**
   * Copies the turn's frames into one buffer and writes it: a pooled one, given back when the socket
   * is done with it, if they fit. The copy also frees every buffer a writer passed in (see sent()).
   */
  private writeOut(): void {
    let total = 0;
    for (const b of this.out) total += b.length;
    let written: boolean;
    if (total <= OUTPUT_BUFFER_BYTES) {
      const buf = takeOutputBuffer();
      let at = 0;
      for (const b of this.out) {
        b.copy(buf, at);
        at += b.length;
      }
      this.out = [];
      this.outOnlyAcks = false;
      // The callback runs once the socket no longer needs the bytes (written, or failed and dropped).
      // True of net and TLS sockets (what cmux and the gRPC listener hand us); an in-memory Duplex
      // that passes chunks on by reference (PassThrough) would break this and must not be used here.
      written = this.socket.write(buf.subarray(0, total), () => releaseOutputBuffer(buf));
    } else {
      const data = Buffer.concat(this.out, total);
      this.out = [];
      this.outOnlyAcks = false;
      written = this.socket.write(data);
    }
    if (!written && !this.socketBlocked) {
      // Stop reading: a client that does not read cannot make us queue answers (PING and SETTINGS
      // ACKs, resets, responses) without bound. Its frames wait in the kernel until it reads ours.
      this.socketBlocked = true;
      this.socket.pause();
    }
  }

  private onSocketDrain(): void {
    if (!this.socketBlocked) return;
    this.socketBlocked = false;
    // Draining shows the peer is reading: as good as a frame for the keep-alive timer.
    this.lastReadAt = Date.now();
    if (!this.dead) this.socket.resume();
    for (const s of [...this.streams.values()]) {
      if (s.wantsDrain && s.queued <= STREAM_HIGH_WATER) this.drained(s);
    }
  }

  /** The stream's output is moving again: tell its handler, and credit what it was sent meanwhile. */
  private drained(s: H2Stream): void {
    s.wantsDrain = false;
    this.creditStream(s);
    if (s.connDebt > 0) {
      const debt = s.connDebt;
      s.connDebt = 0;
      this.creditConnection(debt);
    }
    s.onDrain?.();
  }

  private onSocketClose(): void {
    this.clearTimers();
    if (this.dead) return;
    this.dead = true;
    const open = [...this.streams.values()];
    this.streams.clear();
    for (const s of open) {
      if (!s.localEnded) {
        s.localEnded = true;
        s.onClose?.();
      }
    }
    // Nothing more is written: writers waiting in sent() may go on (and will find the call cancelled).
    for (const s of [...this.sentWatch]) this.resolveSent(s);
    this.opts.onClose?.();
  }

  private maybeEnd(): void {
    if (this.goingAway && this.streams.size === 0 && !this.dead) {
      this.flush();
      this.socket.end();
    }
  }

  /** Connection error: GOAWAY with `code`, then close (open streams are cancelled). */
  private fail(code: number, why: string): void {
    if (this.dead) return;
    this.opts.onGoAway?.(code, why);
    const reason = Buffer.from(why, 'latin1');
    this.push(frameHeader(8 + reason.length, FrameType.GOAWAY, 0, 0), u32(this.lastId), u32(code), reason);
    this.flush();
    this.goingAway = true;
    this.socket.end();
    // A peer that neither reads nor closes cannot hold the socket.
    const t = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    t.unref();
    // Streams still open are cancelled from the handlers' point of view.
    this.onSocketClose();
  }

  // ---- input ----

  private onBytes(chunk: Buffer): void {
    if (this.dead) return;
    this.lastReadAt = Date.now();
    let buf = this.readBuf ? Buffer.concat([this.readBuf, chunk]) : chunk;
    this.readBuf = undefined;
    try {
      if (!this.prefaceSeen) {
        const n = Math.min(buf.length, PREFACE.length);
        if (!buf.subarray(0, n).equals(PREFACE.subarray(0, n))) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
        }
        if (buf.length < PREFACE.length) {
          this.readBuf = Buffer.from(buf);
          return;
        }
        this.prefaceSeen = true;
        buf = buf.subarray(PREFACE.length);
      }
      let pos = 0;
      while (buf.length - pos >= 9) {
        const len = buf.readUIntBE(pos, 3);
        if (len > this.limits.maxFrameSize)
          throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'frame larger than SETTINGS_MAX_FRAME_SIZE');
        if (buf.length - pos < 9 + len) break;
        const type = buf[pos + 3]!;
        if (!this.peerSettingsSeen && type !== FrameType.SETTINGS)
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame must be SETTINGS');
        const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        this.onFrame(type, buf[pos + 4]!, id, buf.subarray(pos + 9, pos + 9 + len));
        if (this.dead) return;
        pos += 9 + len;
      }
      // Copy a partial frame: a view would pin the whole read buffer.
      if (pos < buf.length) this.readBuf = Buffer.from(buf.subarray(pos));
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(ErrorCode.COMPRESSION_ERROR, err.message);
      else throw err;
    }
  }

  /** A frame that costs us work without carrying a request: too many of them is a flood. */
  private cheap(what: string): void {
    if (!this.cheapFrames.take()) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `${what} flood`);
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.continuation && type !== FrameType.CONTINUATION)
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(flags, id, p);
        return;
      case FrameType.HEADERS:
        this.onHeadersFrame(flags, id, p);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, id, p);
        return;
      case FrameType.PRIORITY:
        if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        this.cheap('PRIORITY');
        if (p.length !== 5) {
          this.streamError(id, ErrorCode.FRAME_SIZE_ERROR);
          return;
        }
        if ((p.readUInt32BE(0) & 0x7fffffff) === id) this.streamError(id, ErrorCode.PROTOCOL_ERROR);
        return;
      case FrameType.SETTINGS:
        this.onSettings(flags, id, p);
        return;
      case FrameType.PING:
        this.onPing(flags, id, p);
        return;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(id, p);
        return;
      case FrameType.RST_STREAM:
        this.onRstStream(id, p);
        return;
      case FrameType.GOAWAY:
        if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (p.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY too short');
        // The client stops opening streams; it closes the connection when it is done.
        this.cheap('GOAWAY');
        return;
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      default:
        // Unknown frame types are ignored (RFC 9113 5.5), but still count against floods.
        this.cheap('unknown frame');
        return;
    }
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    let from = 0;
    let to = p.length;
    if (flags & Flag.PADDED) {
      if (p.length === 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA without a pad length');
      to -= p[0]!;
      from = 1;
      if (from > to) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid DATA padding');
    }
    // The whole frame (padding too) counts against the receive windows.
    this.connRecvWindow -= p.length;
    if (this.connRecvWindow < 0)
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    const s = this.streams.get(id);
    if (!s) {
      if (id > this.lastId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on an idle stream');
      this.creditConnection(p.length);
      if (this.weReset.has(id)) this.cheap('DATA after our reset');
      else this.streamError(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (s.remoteEnded) {
      this.creditConnection(p.length);
      this.streamError(id, ErrorCode.STREAM_CLOSED);
      return;
    }
    s.recvWindow -= p.length;
    if (s.recvWindow < 0) {
      this.creditConnection(p.length);
      this.streamError(id, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    const end = (flags & Flag.END_STREAM) !== 0;
    if (p.length === 0 && !end) this.cheap('empty DATA');
    s.receivedLength += to - from;
    if (
      s.expectedLength >= 0 &&
      (s.receivedLength > s.expectedLength || (end && s.receivedLength !== s.expectedLength))
    ) {
      this.creditConnection(p.length);
      this.streamError(id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (end) s.remoteEnded = true;
    if (to > from && !s.localEnded && s.onData) this.guard(s, s.onData, p.subarray(from, to));
    // The handler has the data: credit it back (in halves of the windows, see creditStream). While
    // the stream's output is stuck, the connection's share waits too: a client cannot pile work
    // behind stuck streams beyond one connection window.
    if (s.wantsDrain) s.connDebt += p.length;
    else this.creditConnection(p.length);
    s.recvUnacked += p.length;
    if (!end) this.creditStream(s);
    if (s.remoteEnded) {
      if (!s.localEnded) this.guard(s, s.onEnd);
      else this.forget(s);
    }
  }

  /** Gives the client back connection window for consumed data, once half the window is used. */
  private creditConnection(n: number): void {
    this.connRecvUnacked += n;
    if (this.connRecvUnacked >= this.limits.connectionWindow / 2) {
      this.push(frameHeader(4, FrameType.WINDOW_UPDATE, 0, 0), u32(this.connRecvUnacked));
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
      this.flushSoon();
    }
  }

  /**
   * Gives the client back stream window once half of it was consumed, unless the stream's output is
   * stuck (its handler answers a client that does not read): then the client's sending stalls too.
   */
  private creditStream(s: H2Stream): void {
    if (s.wantsDrain || s.remoteEnded) return;
    if (s.recvUnacked >= this.limits.streamWindow / 2) {
      this.push(frameHeader(4, FrameType.WINDOW_UPDATE, 0, s.id), u32(s.recvUnacked));
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
      this.flushSoon();
    }
  }

  private onHeadersFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let from = 0;
    let to = p.length;
    if (flags & Flag.PADDED) {
      if (p.length === 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without a pad length');
      to -= p[0]!;
      from = 1;
    }
    let selfDependent = false;
    if (flags & Flag.PRIORITY) {
      if (from + 5 > p.length)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority truncated');
      selfDependent = (p.readUInt32BE(from) & 0x7fffffff) === id;
      from += 5;
    }
    if (from > to) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid HEADERS padding');
    const block = p.subarray(from, to);
    this.continuation = { id, flags, parts: [block], size: block.length, continuations: 0, selfDependent };
    if (flags & Flag.END_HEADERS) this.onHeaderBlock();
    else this.continuation.parts[0] = Buffer.from(block);
  }

  private onContinuation(flags: number, id: number, p: Buffer): void {
    const c = this.continuation;
    if (!c || c.id !== id) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    c.size += p.length;
    c.continuations++;
    // nghttp2's CONTINUATION flood limits: a few frames per block, and no more bytes than a
    // maximal header list could take.
    if (c.continuations > this.limits.maxContinuations)
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many CONTINUATION frames');
    if (c.size > Math.max(2 * this.limits.maxHeaderListSize, 65536))
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    if (p.length === 0 && !(flags & Flag.END_HEADERS)) this.cheap('empty CONTINUATION');
    c.parts.push(Buffer.from(p));
    if (flags & Flag.END_HEADERS) this.onHeaderBlock();
  }

  private onHeaderBlock(): void {
    const c = this.continuation!;
    this.continuation = undefined;
    // Every block goes through the decoder, even for streams we refuse, to keep the tables in sync.
    const headers = this.hpack.decode(c.parts.length === 1 ? c.parts[0]! : Buffer.concat(c.parts));
    const endStream = (c.flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(c.id);
    if (existing) {
      this.onTrailers(existing, endStream, c.selfDependent);
      return;
    }
    if (c.id % 2 === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'even stream id from a client');
    if (c.id <= this.lastId) {
      if (this.weReset.has(c.id)) return; // trailers of a request we already answered or refused
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, 'HEADERS on a closed stream');
    }
    this.lastId = c.id;
    if (this.goingAway) {
      this.sendReset(c.id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (this.limits.maxConcurrentStreams > 0 && this.streams.size >= this.limits.maxConcurrentStreams) {
      this.streamError(c.id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (this.queuedBytes > this.limits.maxQueuedBytes) {
      this.streamError(c.id, ErrorCode.REFUSED_STREAM);
      return;
    }
    if (c.selfDependent || this.hpack.malformed !== undefined || !validRequest(headers)) {
      this.streamError(c.id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    let expectedLength = -1;
    const cl = headers['content-length'];
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) {
        this.streamError(c.id, ErrorCode.PROTOCOL_ERROR);
        return;
      }
      expectedLength = Number(cl);
      if (endStream && expectedLength !== 0) {
        this.streamError(c.id, ErrorCode.PROTOCOL_ERROR);
        return;
      }
    }
    const s = new H2Stream(this, c.id, headers, this.limits.streamWindow);
    s.expectedLength = expectedLength;
    this.streams.set(c.id, s);
    if (endStream) s.remoteEnded = true;
    if (this.hpack.tooLarge) {
      // RFC 6585's answer; the fields were not kept, so no handler sees a partial request.
      s.respond([[':status', '431']], true);
      return;
    }
    this.guard(s, this.opts.onStream, s);
    if (s.remoteEnded && !s.localEnded) this.guard(s, s.onEnd);
  }

  /** A second header block on an open stream: request trailers, which must end the stream. */
  private onTrailers(s: H2Stream, endStream: boolean, selfDependent: boolean): void {
    if (s.remoteEnded) {
      this.streamError(s.id, ErrorCode.STREAM_CLOSED);
      return;
    }
    if (!endStream || selfDependent || this.hpack.sawPseudo || this.hpack.malformed !== undefined) {
      this.streamError(s.id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) {
      this.streamError(s.id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    s.remoteEnded = true;
    if (!s.localEnded) this.guard(s, s.onEnd);
    else this.forget(s);
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (p.length !== 0)
        throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      if (!this.peerSettingsSeen)
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame must be SETTINGS');
      this.ourSettingsAcked = true;
      return;
    }
    if (this.peerSettingsSeen) this.cheap('SETTINGS');
    this.peerSettingsSeen = true;
    if (p.length % 6 !== 0)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS payload not a multiple of 6');
    if (p.length / 6 > this.limits.maxSettingsEntries)
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many SETTINGS entries');
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === Setting.ENABLE_PUSH) {
        if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid SETTINGS_ENABLE_PUSH');
      } else if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW)
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'initial window too large');
        // A new initial window shifts every open stream's send window by the difference.
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.window += delta;
          if (s.window > MAX_WINDOW)
            throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow');
        }
      } else if (key === Setting.MAX_FRAME_SIZE) {
        if (value < 16384 || value > 16777215)
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid SETTINGS_MAX_FRAME_SIZE');
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE limits an encoder table we never use; the other settings do not concern us.
    }
    this.push(frameHeader(0, FrameType.SETTINGS, Flag.ACK, 0));
    this.flushSoon();
    this.unblock();
  }

  private onPing(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (p.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING payload must be 8 bytes');
    if (flags & Flag.ACK) return;
    this.cheap('PING');
    const onlyAcks = this.out.length === 0 || this.outOnlyAcks;
    this.push(frameHeader(8, FrameType.PING, Flag.ACK, 0), Buffer.from(p));
    this.outOnlyAcks = onlyAcks;
    this.flushSoon();
    this.enforcePingPolicy();
  }

  /**
   * grpc-go's keep-alive enforcement (etcd's `--grpc-keepalive-min-time`, PermitWithoutStream false):
   * a ping sooner than the minimum after the previous one (two hours without open streams) is a
   * strike, unless we sent headers or data since; the third strike is GOAWAY "too_many_pings".
   */
  private enforcePingPolicy(): void {
    const now = Date.now();
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (this.resetPingStrikes) {
      this.resetPingStrikes = false;
      this.pingStrikes = 0;
      return;
    }
    const min =
      this.streams.size === 0
        ? PING_WITHOUT_STREAM_MS
        : this.limits.keepaliveMinTimeMs > 0
          ? this.limits.keepaliveMinTimeMs
          : GRPC_DEFAULT_MIN_PING_MS;
    if (last > 0 && now - last < min) this.pingStrikes++;
    if (this.pingStrikes > MAX_PING_STRIKES)
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too_many_pings');
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE payload must be 4 bytes');
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      if (this.blocked.length === 0) this.cheap('WINDOW_UPDATE');
      this.connWindow += inc;
      if (this.connWindow > MAX_WINDOW)
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow');
      this.unblock();
      return;
    }
    if (id > this.lastId)
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on an idle stream');
    const s = this.streams.get(id);
    if (!s || s.queue.length === 0) this.cheap('WINDOW_UPDATE');
    if (inc === 0) {
      this.streamError(id, ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (!s) return;
    s.window += inc;
    if (s.window > MAX_WINDOW) {
      this.streamError(id, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    this.pump(s);
  }

  private onRstStream(id: number, p: Buffer): void {
    if (id === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (p.length !== 4)
      throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM payload must be 4 bytes');
    if (id > this.lastId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on an idle stream');
    const s = this.streams.get(id);
    if (!s) {
      this.cheap('RST_STREAM');
      return;
    }
    const onClose = s.onClose; // forget() lets go of the stream's callbacks
    this.forget(s);
    if (!s.localEnded) {
      s.localEnded = true;
      onClose?.();
      // Rapid reset (CVE-2023-44487): streams opened and reset before we answered cost handler work
      // with nothing to show. A stream we already answered is an ordinary cancel: clientv3's
      // KeepAliveOnce opens a LeaseKeepAlive stream, reads one response and cancels it, thousands of
      // times a second under load (perf-compare's lease mode), and etcd serves that.
      if (!s.headersSent && !this.resets.take())
        throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many stream resets');
    }
    this.maybeEnd();
  }

  /**
   * Stream error: RST_STREAM with `code`; an open stream is closed (its handler sees `onClose`). The
   * client caused it, so it counts as a reset (a client cannot trade our resets for its own).
   */
  private streamError(id: number, code: number): void {
    this.sendReset(id, code);
    const s = this.streams.get(id);
    if (s) {
      const onClose = s.onClose; // forget() lets go of the stream's callbacks
      this.forget(s);
      if (!s.localEnded) {
        s.localEnded = true;
        onClose?.();
      }
      this.maybeEnd();
    }
    if (!this.resets.take()) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many stream errors');
  }

  /** Runs a stream callback; if it throws, the stream is reset instead of the error escaping. */
  private guard<A>(s: H2Stream, fn: ((arg: A) => void) | undefined, arg?: A): void {
    if (!fn) return;
    try {
      fn(arg as A);
    } catch (err) {
      this.opts.onHandlerError?.(err);
      if (!s.localEnded) {
        s.localEnded = true;
        this.forget(s);
        this.sendReset(s.id, ErrorCode.INTERNAL_ERROR);
        this.maybeEnd();
      }
    }
  }

  /** Window opened: send what streams were holding back. */
  private unblock(): void {
    if (this.blocked.length === 0) return;
    const waiting = this.blocked;
    this.blocked = [];
    for (const s of waiting) if (this.streams.has(s.id)) this.pump(s);
  }
}

/** A request's required pseudo-headers (RFC 9113 8.3.1): `:method`, `:scheme` and a non-empty `:path`. */
function validRequest(h: HeaderMap): boolean {
  return h[':method'] !== undefined && h[':scheme'] !== undefined && !!h[':path'];
}
