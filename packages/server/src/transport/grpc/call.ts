/**
 * One gRPC call on one HTTP/2 stream. It offers the surface of grpc-js's server calls that kv's
 * handlers use (`request`, `metadata.get`, `write`/`end` with back-pressure, `'data'`/`'end'`/
 * `'cancelled'`/`'drain'` events, `emit('error', err)` to fail with a status, `getAuthContext`), so the
 * services are written once against a familiar shape, without grpc-js's per-call machinery.
 */
import { EventEmitter } from 'node:events';
import { TLSSocket } from 'node:tls';
import { frameMessage, type GrpcStatusError, MessageReader, PREFIX_BYTES, statusFields } from './framing.js';
import { EncodedFields, type H2Stream } from './h2.js';
import type { HeaderMap } from './hpack.js';
import { Status } from './status.js';

/** A method as the generated service definitions describe it. */
export interface MethodDefinition<Req = unknown, Res = unknown> {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize: (b: Buffer) => Req;
  responseSerialize: (v: Res) => Buffer;
  originalName?: string;
}

/** Per-method counters (go-grpc-prometheus style); every hook is optional work for the caller. */
export interface MethodStats {
  /** A call arrived; `clientApiVersion` is its `client-api-version` header (clientv3 sends it). */
  started(clientApiVersion?: string): void;
  handled(code: number): void;
  received(bytes: number): void;
  sent(bytes: number): void;
}

/** A status to end a call with: grpc-js's ServiceError shape (`code` + `details`) or any Error. */
export interface StatusLike {
  code?: number;
  details?: string;
  message?: string;
}

/** The call's request headers as gRPC metadata (only what handlers read: text values by key). */
export class CallMetadata {
  constructor(private readonly headers: HeaderMap) {}

  /** The value of `key` (lower case) as a list, like grpc-js's `Metadata.get`. */
  get(key: string): string[] {
    const v = this.headers[key];
    return v === undefined ? [] : [v];
  }
}

/** What a call knows about its connection's TLS peer (grpc-js's AuthContext shape). */
export interface CallAuthContext {
  transportSecurityType?: string;
  sslPeerCertificate?: ReturnType<TLSSocket['getPeerCertificate']>;
}

/** A unary call's trailers on success, encoded once. */
const OK_TRAILERS = new EncodedFields(statusFields(0, ''));

/** One server call: unary, server-streaming or bidirectional. */
export class ServerCall<Req = unknown, Res = unknown> extends EventEmitter {
  /** The request of a unary or server-streaming call (set before the handler runs). */
  request!: Req;
  private metadataView: CallMetadata | undefined;
  /** A status was sent (or the stream went away): nothing more is written. */
  private done = false;
  private isCancelled = false;
  private readonly reader: MessageReader;
  /** The request headers, kept by the call: its stream lets go of them when it closes. */
  private readonly requestHeaders: HeaderMap;

  constructor(
    readonly stream: H2Stream,
    private readonly method: MethodDefinition<Req, Res>,
    private readonly stats: MethodStats,
    maxReceiveLength: number,
  ) {
    super();
    this.requestHeaders = stream.headers;
    this.reader = new MessageReader(maxReceiveLength, stream.headers['grpc-encoding']);
    stream.onClose = () => {
      if (this.done) return;
      // The client reset the stream (or the connection dropped) before we sent a status.
      this.done = true;
      this.isCancelled = true;
      this.stats.handled(Status.CANCELLED);
      this.emit('cancelled');
    };
    if (method.responseStream) {
      stream.onDrain = () => this.emit('drain');
      // grpc-js's convention, which the streaming handlers use: emitting 'error' ends the call with
      // that error's status.
      this.on('error', (err: StatusLike) => this.fail(err));
    }
  }

  /** The request metadata (HTTP/2 headers). */
  get metadata(): CallMetadata {
    this.metadataView ??= new CallMetadata(this.requestHeaders);
    return this.metadataView;
  }

  /** True once the client cancelled the call or the connection went away. */
  get cancelled(): boolean {
    return this.isCancelled;
  }

  /** True while messages can still be written. */
  get writable(): boolean {
    return !this.done;
  }

  /** The TLS peer certificate of the connection, when it is a TLS connection that presented one. */
  getAuthContext(): CallAuthContext {
    const s = this.stream.conn.socket;
    if (!(s instanceof TLSSocket)) return {};
    const cert = s.getPeerCertificate();
    return { transportSecurityType: 'ssl', sslPeerCertificate: cert?.raw ? cert : undefined };
  }

  /**
   * Sends one response message; false when the stream's buffer is full (wait for `'drain'`).
   * Does nothing once the call ended (a status was sent, or the client went away), like {@link end}.
   */
  write(msg: Res): boolean {
    if (this.done) return true;
    const body = this.method.responseSerialize(msg);
    this.stats.sent(body.length);
    return this.stream.write(frameMessage(body));
  }

  /**
   * Sends one response already serialized and framed (the 5-byte gRPC prefix, then the message), as
   * write() does. `frame` must stay unchanged until {@link sent} resolves; after that the caller may
   * reuse it for the next message.
   */
  writeFramed(frame: Buffer): boolean {
    if (this.done) return true;
    this.stats.sent(frame.length - PREFIX_BYTES);
    return this.stream.write(frame);
  }

  /** Resolves once everything written so far has been copied into a socket write (see H2Stream.sent). */
  sent(): Promise<void> {
    return this.stream.sent();
  }

  /** Ends the call with status OK. */
  end(): void {
    this.sendStatus(Status.OK, '');
  }

  /** Answers a unary call: the response message, then status OK. */
  respond(msg: Res): void {
    if (this.done) return;
    let body: Buffer;
    try {
      body = this.method.responseSerialize(msg);
    } catch (err) {
      this.sendStatus(Status.INTERNAL, `grpc: error while marshaling: ${(err as Error).message}`);
      return;
    }
    this.stats.sent(body.length);
    this.done = true;
    if (this.stream.closed) return;
    this.stream.write(frameMessage(body));
    this.stream.end(OK_TRAILERS);
    this.stats.handled(Status.OK);
  }

  /** Ends the call with the error's status (UNKNOWN when it has no gRPC code). */
  fail(err: StatusLike): void {
    const code = typeof err.code === 'number' && err.code > 0 && err.code <= 16 ? err.code : Status.UNKNOWN;
    this.sendStatus(code, err.details ?? err.message ?? '');
  }

  /** Ends the call with `code` and `details`: in the trailers, or trailers-only before any message. */
  sendStatus(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    this.stats.handled(code);
    if (this.stream.closed) return;
    this.stream.end(statusFields(code, details));
  }

  /**
   * Feeds request bytes and hands each message they complete to `onMessage`, in order. A malformed
   * or oversized message ends the call with grpc-go's status (after the messages before it).
   */
  readMessages(chunk: Buffer, onMessage: (msg: Req) => void): void {
    let raw: Buffer[];
    let failure: GrpcStatusError | undefined;
    try {
      raw = this.reader.push(chunk);
    } catch (err) {
      failure = err as GrpcStatusError;
      raw = [];
    }
    for (const b of raw) {
      if (this.done) return;
      this.stats.received(b.length);
      let msg: Req;
      try {
        msg = this.method.requestDeserialize(b);
      } catch (err) {
        this.sendStatus(Status.INTERNAL, `grpc: error unmarshalling request: ${(err as Error).message}`);
        return;
      }
      onMessage(msg);
    }
    if (failure) this.sendStatus(failure.code, failure.details);
  }

  /** True when the request ended in the middle of a message. */
  get truncated(): boolean {
    return this.reader.partial;
  }
}
