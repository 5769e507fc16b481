/**
 * A raw gRPC-over-HTTP/2 caller for fuzzing: sends arbitrary bytes as a call's body (so frames can be
 * truncated, mislabelled or oversized, which no gRPC library lets a client do) and reports exactly what
 * came back: HTTP status, grpc-status / grpc-message (from headers or trailers) and the response frames.
 */
import * as http2 from 'node:http2';

/** What one raw call produced. */
export interface RawOutcome {
  /** `:status` of the response headers (undefined if none arrived). */
  httpStatus?: number;
  /** grpc-status from a trailers-only response or the trailers. */
  grpcStatus?: number;
  /** grpc-message, percent-decoded. */
  grpcMessage?: string;
  /** Response message payloads, when the data frames parse as gRPC frames. */
  messages: Buffer[];
  /** The data did not parse as whole gRPC frames. */
  malformedResponse: boolean;
  /** No status within the deadline; the stream was cancelled by us. */
  timedOut: boolean;
  /** The stream or session failed (RST_STREAM, GOAWAY, socket error). */
  streamError?: string;
}

/** One gRPC frame: compressed flag + 4-byte big-endian length + payload. */
export function frame(payload: Uint8Array, opts: { flag?: number; declaredLength?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(opts.flag ?? 0, 0);
  head.writeUInt32BE(opts.declaredLength ?? payload.length, 1);
  return Buffer.concat([head, Buffer.from(payload)]);
}

/** Splits a response body into gRPC frames; undefined if it is not a whole number of frames. */
function parseFrames(body: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  while (off < body.length) {
    if (off + 5 > body.length) return undefined;
    const len = body.readUInt32BE(off + 1);
    if (off + 5 + len > body.length) return undefined;
    out.push(body.subarray(off + 5, off + 5 + len));
    off += 5 + len;
  }
  return out;
}

/** One HTTP/2 connection issuing raw gRPC calls. */
export class RawGrpcClient {
  private session: http2.ClientHttp2Session;

  constructor(private readonly endpoint: string) {
    this.session = this.connect();
  }

  private connect(): http2.ClientHttp2Session {
    const s = http2.connect(this.endpoint);
    s.on('error', () => {}); // reported per stream
    return s;
  }

  /** The session, reopened if the server closed it (GOAWAY after a protocol error is legitimate). */
  private live(): http2.ClientHttp2Session {
    if (this.session.closed || this.session.destroyed) this.session = this.connect();
    return this.session;
  }

  /**
   * Sends `body` (already framed, or deliberately not) to `path` and ends the request stream unless
   * `keepOpen`. `headers` add to or replace the request headers. Resolves with the outcome; never rejects.
   */
  call(
    path: string,
    body: Buffer,
    opts: { deadlineMs?: number; keepOpen?: boolean; headers?: http2.OutgoingHttpHeaders } = {},
  ): Promise<RawOutcome> {
    const outcome: RawOutcome = { messages: [], malformedResponse: false, timedOut: false };
    return new Promise((resolve) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = this.live().request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          ...opts.headers,
        });
      } catch (err) {
        outcome.streamError = (err as Error).message;
        resolve(outcome);
        return;
      }
      const chunks: Buffer[] = [];
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const all = Buffer.concat(chunks);
        const frames = parseFrames(all);
        if (frames) outcome.messages = frames;
        else outcome.malformedResponse = true;
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        outcome.timedOut = outcome.grpcStatus === undefined;
        req.close(http2.constants.NGHTTP2_CANCEL);
        finish();
      }, opts.deadlineMs ?? 5000);
      const readStatus = (h: http2.IncomingHttpHeaders) => {
        const st = h['grpc-status'];
        if (st !== undefined) outcome.grpcStatus = Number(st);
        const msg = h['grpc-message'];
        if (typeof msg === 'string') outcome.grpcMessage = decodeURIComponent(msg);
      };
      req.on('response', (h) => {
        outcome.httpStatus = Number(h[':status']);
        readStatus(h);
      });
      req.on('trailers', readStatus);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', finish);
      req.on('close', finish);
      req.on('error', (err: Error) => {
        outcome.streamError = err.message;
        finish();
      });
      if (opts.keepOpen) req.write(body);
      else req.end(body);
    });
  }

  close(): void {
    this.session.close();
  }
}
