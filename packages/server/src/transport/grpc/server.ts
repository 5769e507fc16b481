/**
 * A lean gRPC server on kv's own HTTP/2 layer (h2.ts).
 *
 * Why not grpc-js's server: on small unary calls from 100 clients grpc-js's server spends about 100 µs
 * of CPU per call, bare node:http2 about 60 µs, and this server on h2.ts about 33 µs
 * (tools/bench/transport-measure.mjs); node:http2 also promotes every stream's objects into V8's old
 * generation (see h2.ts). This server keeps to what etcd's API needs: unary, server-streaming and
 * bidirectional methods from the generated service definitions, metadata read from the request
 * headers, gRPC message framing with the receive-size limit and gzip/deflate request decompression,
 * statuses with grpc-go's texts, and graceful shutdown.
 *
 * Not implemented, on purpose: server-side deadlines (`grpc-timeout`: the client cancels its own call,
 * which resets the stream and reaches handlers as `'cancelled'`), response compression, client-streaming
 * methods (etcd's API has none) and binary (`-bin`) metadata decoding (etcd reads only `token`).
 *
 * Connections come from the listener (see cmux.ts) through {@link GrpcServer.injectConnection}.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { type MethodDefinition, type MethodStats, ServerCall, type StatusLike } from './call.js';
import { statusFields } from './framing.js';
import { H2Connection, type H2Stream } from './h2.js';
import type { H2Limits } from './h2-limits.js';
import { Status } from './status.js';

/** A unary handler in grpc-js's shape: answer through the callback. */
export type UnaryHandler<Req = unknown, Res = unknown> = (
  call: ServerCall<Req, Res>,
  callback: (err: StatusLike | null, response?: Res) => void,
) => void;

/** A streaming handler (server-streaming or bidirectional): writes to and ends the call itself. */
export type StreamHandler<Req = unknown, Res = unknown> = (call: ServerCall<Req, Res>) => void;

/** A service implementation: handler per method key of the service definition. */
// biome-ignore lint/suspicious/noExplicitAny: handlers are typed per method by their services
export type ServiceImplementation = Record<string, UnaryHandler<any, any> | StreamHandler<any, any>>;

// biome-ignore lint/suspicious/noExplicitAny: generic over the generated definitions
type ServiceDefinition = Record<string, MethodDefinition<any, any>>;

/** Options of {@link GrpcServer}. */
export interface GrpcServerOptions {
  /** Largest accepted request message in bytes (grpc-go's MaxRecvMsgSize). */
  maxReceiveMessageLength: number;
  /** Counters for each registered method; none by default. */
  statsFor?: (service: string, method: MethodDefinition, key: string) => MethodStats;
  /** A handler threw outside its call's own error handling (its stream was reset). */
  onHandlerError?: (err: unknown) => void;
  /** HTTP/2 limits and timers (etcd's `--max-concurrent-streams`, `--grpc-keepalive-*`); see h2-limits.ts. */
  limits?: Partial<H2Limits>;
  /** A connection was ended with GOAWAY for an error (abuse, protocol violation, timeout): for the log. */
  onGoAway?: (info: { code: number; reason: string; remote: string }) => void;
}

/**
 * Where an HTTP/2 stream that is not gRPC goes (the JSON gateway, see h2-http.ts); without one it is
 * answered 415 as grpc-go does.
 */
export type NonGrpcStreamHandler = (stream: H2Stream) => void;

interface Registered {
  def: MethodDefinition;
  handler: UnaryHandler | StreamHandler;
  stats: MethodStats;
  unary: boolean;
}

const NO_STATS: MethodStats = { started() {}, handled() {}, received() {}, sent() {} };

/** The gRPC server; see the module comment. */
export class GrpcServer {
  private readonly methods = new Map<string, Registered>();
  private readonly services = new Set<string>();
  private readonly connections = new Set<H2Connection>();
  private readonly listeners: net.Server[] = [];
  private shuttingDown = false;
  /** Called when the last connection closes during a graceful shutdown. */
  private onIdle: (() => void) | undefined;

  constructor(private readonly opts: GrpcServerOptions) {}

  /** Registers every method of a generated service definition with its handlers. */
  addService(def: ServiceDefinition, impl: ServiceImplementation): void {
    for (const [key, method] of Object.entries(def)) {
      const handler = impl[key];
      if (!handler) continue;
      const [, service = ''] = /^\/([^/]+)\//.exec(method.path) ?? [];
      this.services.add(service);
      this.methods.set(method.path, {
        def: method,
        handler,
        stats: this.opts.statsFor?.(service, method, key) ?? NO_STATS,
        unary: !method.requestStream && !method.responseStream,
      });
    }
  }

  /**
   * Serves gRPC on an accepted connection (plain TCP, or a TLS socket that negotiated h2); streams
   * whose content type is not gRPC go to `otherStreams` when given.
   */
  injectConnection(socket: Duplex, otherStreams?: NonGrpcStreamHandler): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    const onGoAway = this.opts.onGoAway;
    const conn: H2Connection = new H2Connection(socket, {
      onStream: (stream) => this.onStream(stream, otherStreams),
      onHandlerError: this.opts.onHandlerError,
      limits: this.opts.limits,
      onGoAway: onGoAway
        ? (code, reason) => {
            const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
            onGoAway({ code, reason, remote: `${s.remoteAddress ?? ''}:${s.remotePort ?? ''}` });
          }
        : undefined,
      onClose: () => {
        this.connections.delete(conn);
        if (this.connections.size > 0) return;
        const idle = this.onIdle;
        this.onIdle = undefined;
        idle?.();
      },
    });
    this.connections.add(conn);
  }

  /** Listens on host:port by itself (tests and tools; kv-server shares its client port through cmux). */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, (s) => this.injectConnection(s));
      this.listeners.push(server);
      server.once('error', reject);
      server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  /** Graceful stop: GOAWAY on every connection; `done` runs once their open calls have finished. */
  tryShutdown(done: () => void): void {
    this.shuttingDown = true;
    for (const l of this.listeners) l.close();
    if (this.connections.size === 0) {
      done();
      return;
    }
    this.onIdle = done;
    for (const c of this.connections) c.close();
  }

  /** Immediate stop: every connection is destroyed, open calls end as cancelled. */
  forceShutdown(): void {
    this.shuttingDown = true;
    for (const l of this.listeners) l.close();
    for (const c of [...this.connections]) c.destroy();
  }

  private onStream(stream: H2Stream, otherStreams: NonGrpcStreamHandler | undefined): void {
    const headers = stream.headers;
    const contentType = headers['content-type'];
    if (contentType === undefined || !contentType.startsWith('application/grpc')) {
      if (otherStreams) {
        otherStreams(stream);
        return;
      }
      // grpc-go's answer to a request that is not gRPC.
      stream.respondStatus(
        415,
        statusFields(Status.INTERNAL, `transport: received unexpected content-type "${contentType ?? ''}"`),
      );
      return;
    }
    const path = headers[':path'] ?? '';
    const m = this.methods.get(path);
    if (!m) {
      stream.end(statusFields(Status.UNIMPLEMENTED, unknownMethodMessage(path, this.services)));
      return;
    }
    const call = new ServerCall(stream, m.def, m.stats, this.opts.maxReceiveMessageLength);
    const apiVersion = headers['client-api-version'];
    m.stats.started(typeof apiVersion === 'string' ? apiVersion : undefined);
    if (m.def.requestStream) this.serveRequestStream(call, m);
    else this.serveSingleRequest(call, m);
  }

  /** Unary and server-streaming: the handler runs as soon as the one request message is complete. */
  private serveSingleRequest(call: ServerCall, m: Registered): void {
    const stream = call.stream;
    let started = false;
    stream.onData = (chunk: Buffer) => {
      if (started || !call.writable) return;
      call.readMessages(chunk, (msg) => {
        if (started) return;
        started = true;
        call.request = msg;
        this.run(call, m);
      });
    };
    stream.onEnd = () => {
      if (started || !call.writable) return;
      // grpc-go's (etcd's) answer: the reader's io error as UNKNOWN.
      call.sendStatus(Status.UNKNOWN, call.truncated ? 'unexpected EOF' : 'EOF');
    };
  }

  /** Bidirectional: the handler runs at once; messages arrive as `'data'`, the half-close as `'end'`. */
  private serveRequestStream(call: ServerCall, m: Registered): void {
    const stream = call.stream;
    this.run(call, m);
    stream.onData = (chunk: Buffer) => {
      if (call.writable) call.readMessages(chunk, (msg) => call.emit('data', msg));
    };
    stream.onEnd = () => {
      if (!call.writable) return;
      if (call.truncated) {
        call.sendStatus(Status.UNKNOWN, 'unexpected EOF');
        return;
      }
      call.emit('end');
    };
  }

  private run(call: ServerCall, m: Registered): void {
    try {
      if (m.unary) {
        (m.handler as UnaryHandler)(call, (err, response) => {
          if (err) call.fail(err);
          else call.respond(response);
        });
      } else {
        (m.handler as StreamHandler)(call);
      }
    } catch (err) {
      call.fail(err as StatusLike);
    }
  }
}

/** grpc-go's texts for a path no service answers. */
function unknownMethodMessage(path: string, services: Set<string>): string {
  const m = /^\/([^/]*)\/(.*)$/.exec(path);
  if (!m) return `malformed method name: "${path}"`;
  const [, service, method] = m;
  return services.has(service!)
    ? `unknown method ${method} for service ${service}`
    : `unknown service ${service}`;
}
