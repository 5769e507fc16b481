/**
 * One listening port for both gRPC (HTTP/2) and HTTP/1.1, like etcd's cmux.
 *
 * Each accepted TCP connection is peeked: a connection that starts with the HTTP/2 client preface
 * (`PRI * HTTP/2.0`) is handed to the gRPC server (transport/grpc), anything else to a plain
 * `http.Server` (JSON gateway, /health, /version, /metrics). The peeked bytes are pushed back with
 * `socket.unshift` so the chosen server reads the stream from its first byte.
 *
 * With TLS (https:// URLs) the listener terminates TLS first and routes the decrypted
 * `tls.TLSSocket` itself, so the gRPC server (`call.getAuthContext().sslPeerCertificate`) and the HTTP server
 * (`req.socket.getPeerCertificate()`) both see the client's certificate. ALPN decides: `h2` goes to
 * gRPC, `http/1.1` to HTTP; a client without ALPN is sniffed like a plaintext one.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Logger } from '../log/logger.js';
import { checkAllowedIdentity } from '../tls/verify-identity.js';
import type { H2Stream } from './grpc/h2.js';
import { serveHttpOnH2 } from './grpc/h2-http.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** Bytes needed to decide; no HTTP/1 method starts with "PRI ". */
const DECIDE_BYTES = 4;
/** An HTTP/1.x request line (RFC 9112 3): anything else is given to HTTP/2, which answers GOAWAY. */
const HTTP1_REQUEST_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d\.\d\r?\n/;
/** The longest first line we wait for before deciding (Node's own HTTP header limit is 16 KiB). */
const MAX_FIRST_LINE = 16 * 1024;
/** Connections a held listener keeps at most (Node's default listen backlog); more are closed. */
const MAX_HELD = 511;
/** Bytes read from one held connection before it is paused. */
const MAX_HELD_BYTES = 64 * 1024;
/** A connection that has not sent enough to be routed within this is closed (etcd: no limit). */
export const ROUTE_TIMEOUT_MS = 10_000;

/** Options of {@link ClientListener}. */
export interface ClientListenerOptions {
  /** Where gRPC connections go (the gRPC server), or undefined for HTTP only. */
  grpc?: { injectConnection(socket: Duplex, otherStreams?: (stream: H2Stream) => void): void } | undefined;
  /** HTTP/1.1 server that receives every non-gRPC connection. */
  http: http.Server;
  /** Serve TLS with these options (https:// URLs); plaintext when undefined. */
  tls?: TlsListenerOptions | undefined;
  /** How long a new connection may take to show what it speaks (ms; default {@link ROUTE_TIMEOUT_MS}). */
  routeTimeoutMs?: number;
}

/** TLS side of a {@link ClientListener}. */
export interface TlsListenerOptions {
  /** Node TLS server options (certificate, key, CA, CRL, client-certificate policy, ciphers). */
  options: tls.TlsOptions;
  /**
   * `--client-cert-allowed-hostname`: a client certificate must be valid for this hostname
   * (etcd checks it like a server name). Empty = no check.
   */
  allowedHostname?: string;
  /** Required CN of client certificates (`--peer-cert-allowed-cn` on peer listeners). Empty = any. */
  allowedCn?: string;
  /**
   * Called for each new connection before its handshake; returns fresh server options when the
   * certificate, key, CA or CRL files changed (etcd re-reads them per handshake), else undefined.
   */
  refresh?: () => tls.TlsOptions | undefined;
  /** Where handshake rejections are logged ("rejected connection", as etcd logs them). */
  log?: Logger;
}

/**
 * ALPN protocols in server preference order, as Go's (etcd's) server prefers them: a client offering
 * both (curl, browsers) gets h2, whose non-gRPC streams reach the gateway (see h2-http.ts).
 */
const ALPN_WITH_GRPC = ['h2', 'http/1.1'];
const ALPN_HTTP_ONLY = ['http/1.1'];

/** A TCP listener that splits connections between gRPC and HTTP/1.1. */
export class ClientListener {
  readonly server: net.Server;
  /** Every open connection (an http.Server that never listen()ed does not track them itself). */
  private readonly sockets = new Set<net.Socket>();
  /** While held (see {@link ClientListener.hold}): the routing of each connection accepted meanwhile. */
  private held: Set<() => void> | undefined;

  constructor(private readonly opts: ClientListenerOptions) {
    const secure = opts.tls;
    if (secure) {
      const server = tls.createServer(
        { ...secure.options, ALPNProtocols: opts.grpc ? ALPN_WITH_GRPC : ALPN_HTTP_ONLY, noDelay: true },
        (socket) => this.dispatch(socket, () => this.routeTls(socket, secure)),
      );
      // Track the raw TCP sockets: destroying one also ends a TLS session (or handshake) riding on it.
      // Prepended, so it runs before tls.Server wraps the socket: changed files apply to this connection.
      server.prependListener('connection', (raw: net.Socket) => {
        this.track(raw);
        const fresh = secure.refresh?.();
        if (fresh) server.setSecureContext(fresh);
      });
      server.on('tlsClientError', (err, socket) => {
        secure.log?.warn('rejected connection', {
          'remote-addr': `${socket.remoteAddress}:${socket.remotePort}`,
          'server-name': (socket as tls.TLSSocket & { servername?: string | false }).servername || '',
          error: handshakeError(err),
        });
      });
      this.server = server;
    } else {
      this.server = net.createServer({ noDelay: true }, (socket) => {
        this.track(socket);
        this.dispatch(socket, () => this.route(socket));
      });
    }
  }

  /** Listens on host:port; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off('error', onError);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Accepts connections from now on but leaves them unserved (their bytes wait in the socket) until
   * {@link ClientListener.serve}. A member binds its ports at startup, as etcd does, and serves clients
   * once it has a leader and has published itself; connections made meanwhile are served then.
   *
   * @example
   * ```ts
   * listener.hold();
   * await listener.listen(2379, '127.0.0.1');
   * // ... later, once ready:
   * listener.serve();
   * ```
   */
  hold(): void {
    this.held ??= new Set();
  }

  /** Routes the connections accepted while held, and every later one at once. */
  serve(): void {
    const held = [...(this.held ?? [])];
    this.held = undefined;
    for (const route of held) route();
  }

  /** Routes `socket` now, or when {@link ClientListener.serve} is called if the listener is held. */
  private dispatch(socket: net.Socket, route: () => void): void {
    if (!this.held) {
      route();
      return;
    }
    if (this.held.size >= MAX_HELD) {
      // Like a full listen backlog: a member that waits long for its peers does not pile up sockets.
      socket.destroy();
      return;
    }
    // Read while held, so a client that gives up is seen (its socket closed, not left in CLOSE_WAIT
    // until the member is ready); what it sent is put back for the route. Past MAX_HELD_BYTES the
    // socket is paused, and TCP flow control holds the client.
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes >= MAX_HELD_BYTES) socket.pause();
    };
    const onEnd = () => socket.destroy();
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    const held = this.held;
    const release = () => {
      held.delete(release);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', forget);
      if (socket.destroyed) return;
      // Synchronously up to the route's own listeners: nothing is emitted in between.
      if (chunks.length > 0) socket.unshift(Buffer.concat(chunks));
      if (socket.isPaused()) socket.resume();
      route();
    };
    const forget = () => held.delete(release);
    socket.on('close', forget);
    held.add(release);
  }

  /**
   * Stops accepting and resolves once every connection is gone. Connections still open after
   * `graceMs` (idle HTTP keep-alives, streams that did not finish) are destroyed.
   */
  close(graceMs = 0): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const timer = setTimeout(() => this.destroyAll(), graceMs);
    return closed.finally(() => clearTimeout(timer));
  }

  /** Destroys every open connection at once. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** A TLS connection whose handshake succeeded: check the CN/hostname policy, then route by ALPN. */
  private routeTls(socket: tls.TLSSocket, secure: TlsListenerOptions): void {
    socket.on('error', () => socket.destroy());
    const refused = checkAllowedIdentity(socket.getPeerCertificate(), secure);
    if (refused) {
      secure.log?.warn('rejected connection', {
        'remote-addr': `${socket.remoteAddress}:${socket.remotePort}`,
        error: refused,
      });
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol === 'h2' && this.opts.grpc) {
      this.opts.grpc.injectConnection(socket, this.httpStreams);
    } else if (socket.alpnProtocol === 'http/1.1') {
      this.opts.http.emit('connection', socket);
    } else {
      this.route(socket);
    }
  }

  /** Non-gRPC HTTP/2 streams: the HTTP server's request listener, as for HTTP/1.1 connections. */
  private readonly httpStreams = (stream: H2Stream): void =>
    serveHttpOnH2(stream, (req, res) => this.opts.http.emit('request', req, res));

  /**
   * Peeks at the first bytes and hands the connection to gRPC or HTTP (plaintext connections, and
   * decrypted TLS sockets from clients that did not use ALPN): the HTTP/2 preface, or a first line
   * that is not an HTTP/1 request line, goes to HTTP/2 (which answers the latter with GOAWAY, as an
   * HTTP/2-only server does). A socket that stays silent is closed after the route timeout.
   */
  private route(socket: net.Socket): void {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), this.opts.routeTimeoutMs ?? ROUTE_TIMEOUT_MS);
    timer.unref();
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, DECIDE_BYTES);
      const prefix = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (prefix && buffered.length < DECIDE_BYTES) return;
      let looksH2 = prefix;
      if (!looksH2 && this.opts.grpc) {
        const eol = buffered.indexOf(10);
        if (eol < 0 && buffered.length < MAX_FIRST_LINE) return;
        looksH2 = !HTTP1_REQUEST_LINE.test(buffered.toString('latin1', 0, eol < 0 ? 0 : eol + 1));
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(buffered);
      if (looksH2 && this.opts.grpc) {
        // The gRPC server reads the stream from its first byte (and resumes the socket itself).
        this.opts.grpc.injectConnection(socket, this.httpStreams);
      } else {
        this.opts.http.emit('connection', socket);
        socket.resume();
      }
    };
    const onError = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', () => clearTimeout(timer));
  }
}

/**
 * A short reason for a failed handshake: OpenSSL's reason text (Node's `err.reason`) in place of its
 * multi-line error string, with Go's wording for the two everyday cases operators grep for.
 */
function handshakeError(err: Error & { reason?: string }): string {
  const reason = err.reason ?? err.message;
  if (reason === 'peer did not return a certificate') return "tls: client didn't provide a certificate";
  if (reason === 'certificate verify failed') return "tls: failed to verify client's certificate";
  return reason;
}
