/**
 * The JSON gateway (and /health, /version, /metrics) over HTTP/2: an HTTP/2 stream that is not gRPC
 * is handed to the same `(req, res)` listener the HTTP/1.1 server runs, through request and response
 * objects with the part of node:http's surface that listener uses (`method`, `url`, `headers`,
 * `socket`, body events and `destroy()`; `writeHead`, `setHeader`, `write` with back-pressure and
 * `'drain'`, `end`, `headersSent`, `'close'`). etcd serves its gateway on h2 the same way (Go's
 * net/http behind cmux), so `curl --http2-prior-knowledge` and h2 over TLS reach it.
 */
import { EventEmitter } from 'node:events';
import type * as http from 'node:http';
import { Readable } from 'node:stream';
import type { H2Stream } from './h2.js';
import { ErrorCode } from './h2-frame.js';

/** Response header names HTTP/2 forbids (RFC 9113 8.2.2); node:http may add them for HTTP/1.1. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

type HeaderValue = string | number | readonly string[];

/** The request side: a readable body plus the request line and headers. */
class H2Request extends Readable {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly httpVersion = '2.0';
  readonly socket: unknown;

  constructor(private readonly stream: H2Stream) {
    super();
    const h = stream.headers;
    this.method = h[':method'] ?? 'GET';
    this.url = h[':path'] ?? '/';
    this.socket = stream.conn.socket;
    const headers: http.IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(h)) if (!name.startsWith(':')) headers[name] = value;
    if (h[':authority'] !== undefined && headers.host === undefined) headers.host = h[':authority'];
    this.headers = headers;
  }

  override _read(): void {
    // Body chunks are pushed as they arrive; HTTP/2 flow control bounds them.
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Readable destroys itself after 'end' (autoDestroy): only an unfinished body abandons the stream.
    if (!this.readableEnded) this.stream.reset(ErrorCode.CANCEL);
    cb(err);
  }
}

/** The response side: status and headers, then body chunks, on the stream. */
class H2Response extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  private readonly fields = new Map<string, HeaderValue>();

  constructor(private readonly stream: H2Stream) {
    super();
  }

  setHeader(name: string, value: HeaderValue): this {
    this.fields.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.fields.get(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.fields.delete(name.toLowerCase());
  }

  writeHead(status: number, headers?: Record<string, HeaderValue | undefined>): this {
    this.statusCode = status;
    for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) this.setHeader(k, v);
    this.sendHeaders(false);
    return this;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void)): boolean {
    if (this.writableEnded) return false;
    this.sendHeaders(false);
    const data =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8')
        : Buffer.from(chunk);
    return this.stream.write(data);
  }

  end(chunk?: string | Uint8Array | (() => void)): this {
    if (this.writableEnded) return this;
    if (chunk !== undefined && typeof chunk !== 'function') {
      if (!this.headersSent && !this.fields.has('content-length')) {
        this.setHeader('content-length', typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
      }
      this.write(chunk);
    }
    this.writableEnded = true;
    if (!this.headersSent) this.sendHeaders(true);
    else this.stream.finish();
    this.emit('finish');
    this.emit('close');
    return this;
  }

  /** The stream went away before the response ended (client reset, connection closed). */
  aborted(): void {
    if (this.writableEnded) return;
    this.writableEnded = true;
    this.emit('close');
  }

  private sendHeaders(endStream: boolean): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const out: Array<[string, string]> = [[':status', String(this.statusCode)]];
    for (const [name, value] of this.fields) {
      if (HOP_BY_HOP.has(name)) continue;
      if (Array.isArray(value)) for (const v of value) out.push([name, String(v)]);
      else out.push([name, String(value)]);
    }
    this.stream.respond(out, endStream);
  }
}

/**
 * Serves one non-gRPC HTTP/2 stream with an HTTP/1.1-style request listener.
 *
 * @example
 * grpcServer.injectConnection(socket, (stream) => serveHttpOnH2(stream, (req, res) => httpServer.emit('request', req, res)));
 */
export function serveHttpOnH2(stream: H2Stream, listener: http.RequestListener): void {
  const req = new H2Request(stream);
  const res = new H2Response(stream);
  stream.onData = (chunk) => req.push(Buffer.from(chunk));
  stream.onEnd = () => req.push(null);
  stream.onDrain = () => res.emit('drain');
  stream.onClose = () => {
    res.aborted();
    if (!req.readableEnded) req.destroy();
  };
  listener(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
}
