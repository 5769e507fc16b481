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
 * What is here: the preface and SETTINGS exchange, PING, flow control in both directions (our receive
 * windows are refilled as data arrives; DATA we send waits for the peer's windows), HEADERS with
 * CONTINUATION and a full HPACK decoder, RST_STREAM, GOAWAY (graceful close: open streams finish), and
 * output coalesced into one socket write per event-loop turn. Not here: server push, priorities
 * (ignored, as RFC 9113 allows), HTTP/1.1 upgrade. Any `:authority` is accepted (grpc-go clients send
 * `http://host:port`, which nghttp2 refused).
 */
import type { Duplex } from 'node:stream';
import { encodeFields, type HeaderMap, HpackDecoder, HpackError } from './hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const NO_ERROR = 0;
const PROTOCOL_ERROR = 1;
const FLOW_CONTROL_ERROR = 3;
const STREAM_CLOSED = 5;
const FRAME_SIZE_ERROR = 6;
const REFUSED_STREAM = 7;
const INTERNAL_ERROR = 2;
const COMPRESSION_ERROR = 9;

/** We never raise SETTINGS_MAX_FRAME_SIZE, so peers send at most this. */
const MAX_FRAME = 16384;
/** Our SETTINGS_INITIAL_WINDOW_SIZE: a 1.5 MiB put arrives with two window refills. */
const STREAM_WINDOW = 1 << 20;
/** The connection receive window we open at once (refilled when half is used). */
const CONN_WINDOW = 1 << 30;
/** Largest header block accepted (all HEADERS + CONTINUATION fragments). */
const MAX_HEADER_BLOCK = 1 << 20;
/** A stream's write() reports back-pressure once this much of its data waits for flow control. */
const STREAM_HIGH_WATER = 64 * 1024;

/** A violation that ends the connection with GOAWAY. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function frameHeader(len: number, type: number, flags: number, id: number): Buffer {
  const h = Buffer.allocUnsafe(9);
  h.writeUIntBE(len, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return h;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v);
  return b;
}

/** `:status 200` and `content-type: application/grpc`: every gRPC response starts with this block. */
const GRPC_RESPONSE_HEADERS = encodeFields([
  [':status', '200'],
  ['content-type', 'application/grpc'],
]);

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
  headersSent = false;
  /** We sent END_STREAM (or reset the stream). */
  localEnded = false;
  /** The client sent END_STREAM. */
  remoteEnded = false;
  /** Data waiting for flow-control window, in order. */
  queue: Buffer[] = [];
  queued = 0;
  /** Trailers to send once the queue is empty. */
  pendingTrailers: Buffer | undefined;
  wantsDrain = false;

  constructor(
    readonly conn: H2Connection,
    readonly id: number,
    readonly headers: HeaderMap,
  ) {
    this.window = conn.peerInitialWindow;
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

  /** Queues response body bytes; false when the caller should wait for `onDrain`. */
  write(data: Buffer): boolean {
    if (this.localEnded) return true;
    this.sendHeaders();
    this.queue.push(data);
    this.queued += data.length;
    this.conn.pump(this);
    if (this.queued > STREAM_HIGH_WATER || this.conn.socketBlocked) {
      this.wantsDrain = true;
      return false;
    }
    return true;
  }

  /**
   * Ends the stream with trailer fields (sent after the queued data). Before any headers this is a
   * trailers-only response: one HEADERS frame with `:status`, content type and the fields.
   */
  end(fields: ReadonlyArray<readonly [string, string]>): void {
    if (this.localEnded || this.pendingTrailers) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.localEnded = true;
      this.conn.emitHeaders(this.id, Buffer.concat([GRPC_RESPONSE_HEADERS, encodeFields(fields)]), true);
      this.conn.streamDone(this);
      return;
    }
    this.pendingTrailers = encodeFields(fields);
    this.conn.pump(this);
  }

  /** Ends the stream with a non-gRPC HTTP status (e.g. 415 for a wrong content type). */
  respondStatus(status: number, fields: ReadonlyArray<readonly [string, string]>): void {
    if (this.localEnded || this.headersSent) return;
    this.headersSent = true;
    this.localEnded = true;
    this.conn.emitHeaders(
      this.id,
      encodeFields([[':status', String(status)], ['content-type', 'application/grpc'], ...fields]),
      true,
    );
    this.conn.streamDone(this);
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
}

/** One HTTP/2 server connection on a socket (plain TCP, or TLS after an `h2` ALPN). */
export class H2Connection {
  /** The peer's SETTINGS_INITIAL_WINDOW_SIZE: new streams' send window. */
  peerInitialWindow = 65535;
  /** True while the socket's write buffer is full. */
  socketBlocked = false;
  private peerMaxFrame = 16384;
  private connWindow = 65535;
  private readonly hpack = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  /** Streams with data held back by flow control. */
  private blocked: H2Stream[] = [];
  private lastId = 0;
  private readBuf: Buffer | undefined;
  private prefaceSeen = false;
  private continuation: { id: number; flags: number; parts: Buffer[]; size: number } | undefined;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private recvConsumed = 0;
  private goingAway = false;
  private dead = false;

  constructor(
    readonly socket: Duplex,
    private readonly opts: H2ConnectionOptions,
  ) {
    // Our SETTINGS: a 1 MiB initial stream window (INITIAL_WINDOW_SIZE = 0x4); then open the connection
    // window to 1 GiB.
    const settings = Buffer.allocUnsafe(6);
    settings.writeUInt16BE(0x4, 0);
    settings.writeUInt32BE(STREAM_WINDOW, 2);
    this.push(frameHeader(6, SETTINGS, 0, 0), settings);
    this.push(frameHeader(4, WINDOW_UPDATE, 0, 0), u32(CONN_WINDOW - 65535));
    if ('setNoDelay' in socket) (socket as { setNoDelay(v: boolean): void }).setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onBytes(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.onSocketClose());
    // The listener may have paused the socket (and unshifted the bytes it peeked at).
    socket.resume();
  }

  /** Graceful close: GOAWAY now, new streams refused, the socket ends once open streams are done. */
  close(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.push(frameHeader(8, GOAWAY, 0, 0), u32(this.lastId), u32(NO_ERROR));
    this.flushSoon();
    this.maybeEnd();
  }

  /** Drops the connection at once; open streams see `onClose`. */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- output ----

  /** Queues a header block for stream `id`, split into CONTINUATION frames if needed. */
  emitHeaders(id: number, block: Buffer, endStream: boolean): void {
    const es = endStream ? END_STREAM : 0;
    if (block.length <= this.peerMaxFrame) {
      this.push(frameHeader(block.length, HEADERS, END_HEADERS | es, id), block);
    } else {
      let off = 0;
      let type = HEADERS;
      let flags = es;
      while (off < block.length) {
        const n = Math.min(this.peerMaxFrame, block.length - off);
        const last = off + n === block.length;
        this.push(frameHeader(n, type, flags | (last ? END_HEADERS : 0), id), block.subarray(off, off + n));
        off += n;
        type = CONTINUATION;
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
      this.connWindow -= n;
      s.window -= n;
      this.push(frameHeader(n, DATA, 0, s.id), piece);
    }
    if (s.pendingTrailers && !s.localEnded) {
      const block = s.pendingTrailers;
      s.pendingTrailers = undefined;
      s.localEnded = true;
      this.emitHeaders(s.id, block, true);
      this.streamDone(s);
    }
    this.flushSoon();
    if (s.wantsDrain && s.queued <= STREAM_HIGH_WATER && !this.socketBlocked) {
      s.wantsDrain = false;
      s.onDrain?.();
    }
  }

  /** Our side of the stream ended: forget it (a client still sending gets RST_STREAM NO_ERROR). */
  streamDone(s: H2Stream): void {
    if (!this.streams.delete(s.id)) return;
    if (!s.remoteEnded) this.push(frameHeader(4, RST_STREAM, 0, s.id), u32(NO_ERROR));
    this.flushSoon();
    this.maybeEnd();
  }

  private push(...bufs: Buffer[]): void {
    for (const b of bufs) this.out.push(b);
  }

  /** One socket write per event-loop turn for everything produced in it. */
  private flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.recvConsumed > CONN_WINDOW / 2) {
      this.push(frameHeader(4, WINDOW_UPDATE, 0, 0), u32(this.recvConsumed));
      this.recvConsumed = 0;
    }
    if (this.out.length === 0 || this.dead) return;
    const data = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    if (!this.socket.write(data)) this.socketBlocked = true;
  }

  private onSocketDrain(): void {
    this.socketBlocked = false;
    for (const s of [...this.streams.values()]) {
      if (s.wantsDrain && s.queued <= STREAM_HIGH_WATER) {
        s.wantsDrain = false;
        s.onDrain?.();
      }
    }
  }

  private onSocketClose(): void {
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
    this.opts.onClose?.();
  }

  private maybeEnd(): void {
    if (this.goingAway && this.streams.size === 0 && !this.dead) {
      this.flush();
      this.socket.end();
    }
  }

  private fail(code: number, why: string): void {
    if (this.dead) return;
    this.push(
      frameHeader(8 + why.length, GOAWAY, 0, 0),
      u32(this.lastId),
      u32(code),
      Buffer.from(why, 'latin1'),
    );
    this.flush();
    this.goingAway = true;
    this.socket.end();
    // Streams still open are cancelled from the handlers' point of view.
    this.onSocketClose();
  }

  // ---- input ----

  private onBytes(chunk: Buffer): void {
    if (this.dead) return;
    let buf = this.readBuf ? Buffer.concat([this.readBuf, chunk]) : chunk;
    this.readBuf = undefined;
    try {
      if (!this.prefaceSeen) {
        if (buf.length < PREFACE.length) {
          this.readBuf = buf;
          return;
        }
        if (!buf.subarray(0, PREFACE.length).equals(PREFACE)) {
          throw new ConnectionError(PROTOCOL_ERROR, 'invalid connection preface');
        }
        this.prefaceSeen = true;
        buf = buf.subarray(PREFACE.length);
      }
      let pos = 0;
      while (buf.length - pos >= 9) {
        const len = buf.readUIntBE(pos, 3);
        if (len > MAX_FRAME)
          throw new ConnectionError(FRAME_SIZE_ERROR, 'frame larger than SETTINGS_MAX_FRAME_SIZE');
        if (buf.length - pos < 9 + len) break;
        const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        this.onFrame(buf[pos + 3]!, buf[pos + 4]!, id, buf.subarray(pos + 9, pos + 9 + len));
        if (this.dead) return;
        pos += 9 + len;
      }
      // Copy a partial frame: a view would pin the whole read buffer.
      if (pos < buf.length) this.readBuf = Buffer.from(buf.subarray(pos));
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err.code, err.message);
      else if (err instanceof HpackError) this.fail(COMPRESSION_ERROR, err.message);
      else throw err;
    }
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.continuation && type !== CONTINUATION)
      throw new ConnectionError(PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case DATA:
        this.onDataFrame(flags, id, p);
        return;
      case HEADERS: {
        if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS on stream 0');
        let from = 0;
        let to = p.length;
        if (flags & PADDED) {
          to -= p[0] ?? 0;
          from = 1;
        }
        if (flags & PRIORITY) from += 5;
        if (from > to) throw new ConnectionError(PROTOCOL_ERROR, 'invalid HEADERS padding');
        this.continuation = { id, flags, parts: [p.subarray(from, to)], size: to - from };
        if (flags & END_HEADERS) this.onHeaderBlock();
        else this.continuation.parts[0] = Buffer.from(this.continuation.parts[0]!);
        return;
      }
      case CONTINUATION: {
        const c = this.continuation;
        if (!c || c.id !== id) throw new ConnectionError(PROTOCOL_ERROR, 'unexpected CONTINUATION');
        c.size += p.length;
        if (c.size > MAX_HEADER_BLOCK) throw new ConnectionError(PROTOCOL_ERROR, 'header block too large');
        c.parts.push(Buffer.from(p));
        if (flags & END_HEADERS) this.onHeaderBlock();
        return;
      }
      case SETTINGS:
        this.onSettings(flags, id, p);
        return;
      case PING:
        if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'PING on a stream');
        if (p.length !== 8) throw new ConnectionError(FRAME_SIZE_ERROR, 'PING payload must be 8 bytes');
        if (!(flags & ACK)) {
          this.push(frameHeader(8, PING, ACK, 0), Buffer.from(p));
          this.flushSoon();
        }
        return;
      case WINDOW_UPDATE: {
        if (p.length !== 4)
          throw new ConnectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE payload must be 4 bytes');
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          this.connWindow += inc;
          if (this.connWindow > 0x7fffffff) throw new ConnectionError(FLOW_CONTROL_ERROR, 'window overflow');
          this.unblock();
        } else {
          const s = this.streams.get(id);
          if (s) {
            s.window += inc;
            this.pump(s);
          }
        }
        return;
      }
      case RST_STREAM: {
        const s = this.streams.get(id);
        if (!s) return;
        this.streams.delete(id);
        if (!s.localEnded) {
          s.localEnded = true;
          s.onClose?.();
        }
        this.maybeEnd();
        return;
      }
      case GOAWAY:
        // The client stops opening streams; it closes the connection when it is done.
        return;
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 5.5).
        return;
    }
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    this.recvConsumed += p.length;
    const s = this.streams.get(id);
    if (!s) {
      if (id === 0 || id > this.lastId) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on an idle stream');
      return; // a stream we already closed: the data only counts against the connection window
    }
    if (s.remoteEnded) {
      this.resetStream(s, STREAM_CLOSED);
      return;
    }
    let from = 0;
    let to = p.length;
    if (flags & PADDED) {
      to -= p[0] ?? 0;
      from = 1;
      if (from > to) throw new ConnectionError(PROTOCOL_ERROR, 'invalid DATA padding');
    }
    if (flags & END_STREAM) s.remoteEnded = true;
    else if (p.length > 0) {
      // Refill the stream's window as the data is consumed (handlers read every chunk at once).
      this.push(frameHeader(4, WINDOW_UPDATE, 0, id), u32(p.length));
      this.flushSoon();
    }
    if (to > from && !s.localEnded && s.onData) this.guard(s, s.onData, p.subarray(from, to));
    if (s.remoteEnded) {
      if (!s.localEnded) this.guard(s, s.onEnd);
      else this.streams.delete(id);
    }
  }

  private onHeaderBlock(): void {
    const c = this.continuation!;
    this.continuation = undefined;
    // Every block goes through the decoder, even for streams we refuse, to keep the tables in sync.
    const headers = this.hpack.decode(c.parts.length === 1 ? c.parts[0]! : Buffer.concat(c.parts));
    const existing = this.streams.get(c.id);
    if (existing) {
      // Request trailers: only their END_STREAM matters to gRPC.
      if (c.flags & END_STREAM && !existing.remoteEnded) {
        existing.remoteEnded = true;
        if (!existing.localEnded) this.guard(existing, existing.onEnd);
        else this.streams.delete(c.id);
      }
      return;
    }
    if (c.id % 2 === 0 || c.id <= this.lastId) throw new ConnectionError(PROTOCOL_ERROR, 'invalid stream id');
    this.lastId = c.id;
    if (this.goingAway) {
      this.push(frameHeader(4, RST_STREAM, 0, c.id), u32(REFUSED_STREAM));
      this.flushSoon();
      return;
    }
    const s = new H2Stream(this, c.id, headers);
    this.streams.set(c.id, s);
    if (c.flags & END_STREAM) s.remoteEnded = true;
    this.guard(s, this.opts.onStream, s);
    if (s.remoteEnded && !s.localEnded) this.guard(s, s.onEnd);
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & ACK) return;
    if (p.length % 6 !== 0)
      throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS payload not a multiple of 6');
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === 0x4) {
        if (value > 0x7fffffff) throw new ConnectionError(FLOW_CONTROL_ERROR, 'initial window too large');
        // A new initial window shifts every open stream's send window by the difference.
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.window += delta;
      } else if (key === 0x5) {
        if (value < 16384 || value > 16777215)
          throw new ConnectionError(PROTOCOL_ERROR, 'invalid max frame size');
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE limits an encoder table we never use; the other settings do not concern us.
    }
    this.push(frameHeader(0, SETTINGS, ACK, 0));
    this.flushSoon();
    this.unblock();
  }

  private resetStream(s: H2Stream, code: number): void {
    this.streams.delete(s.id);
    this.push(frameHeader(4, RST_STREAM, 0, s.id), u32(code));
    this.flushSoon();
    if (!s.localEnded) {
      s.localEnded = true;
      s.onClose?.();
    }
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
        this.streams.delete(s.id);
        this.push(frameHeader(4, RST_STREAM, 0, s.id), u32(INTERNAL_ERROR));
        this.flushSoon();
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
