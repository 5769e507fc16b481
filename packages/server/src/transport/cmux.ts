/**
 * One listening port for both gRPC (HTTP/2) and HTTP/1.1, like etcd's cmux.
 *
 * Each accepted TCP connection is peeked: a connection that starts with the HTTP/2 client preface
 * (`PRI * HTTP/2.0`) is handed to grpc-js through its connection injector, anything else to a plain
 * `http.Server` (JSON gateway, /health, /version, /metrics). The peeked bytes are pushed back with
 * `socket.unshift` so the chosen server reads the stream from its first byte.
 */
import type * as http from 'node:http';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import type * as grpc from '@grpc/grpc-js';
import { H2AuthorityRewriter } from './h2-authority.js';

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** Bytes needed to decide; no HTTP/1 method starts with "PRI ". */
const DECIDE_BYTES = 4;

/** Options of {@link ClientListener}. */
export interface ClientListenerOptions {
  /** grpc-js connection injector (from `server.createConnectionInjector`), or undefined for HTTP only. */
  grpc?: grpc.ConnectionInjector | undefined;
  /** HTTP/1.1 server that receives every non-gRPC connection. */
  http: http.Server;
}

/** A TCP listener that splits connections between gRPC and HTTP/1.1. */
export class ClientListener {
  readonly server: net.Server;
  /** Every open connection (an http.Server that never listen()ed does not track them itself). */
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly opts: ClientListenerOptions) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.route(socket));
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

  private route(socket: net.Socket): void {
    this.sockets.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < DECIDE_BYTES && H2_PREFACE.subarray(0, buffered.length).equals(buffered)) return;
      const looksH2 =
        buffered.length >= DECIDE_BYTES &&
        buffered.subarray(0, DECIDE_BYTES).equals(H2_PREFACE.subarray(0, DECIDE_BYTES));
      // For HTTP/2, also wait for the client's first SETTINGS frame header (sent right after the preface).
      if (looksH2 && buffered.length < H2_PREFACE.length + 9) return;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      if (looksH2 && this.opts.grpc) {
        if (needsAuthorityCheck(buffered)) {
          this.opts.grpc.injectConnection(wrapForAuthorityFix(socket, buffered));
        } else {
          // Fast path: http2 takes the socket natively and drains our unshifted bytes itself
          // (resuming here would let flowing mode drop them).
          socket.unshift(buffered);
          this.opts.grpc.injectConnection(socket);
        }
      } else {
        socket.unshift(buffered);
        this.opts.http.emit('connection', socket);
        socket.resume();
      }
    };
    const onError = () => socket.destroy();
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', () => this.sockets.delete(socket));
  }
}

/**
 * grpc-go (etcdctl, Go clientv3) opens with an empty SETTINGS frame, and it is grpc-go that may send an
 * `http://` authority; grpc-js and other clients announce settings. Only connections with an empty
 * first SETTINGS frame pay for the byte-stream inspection.
 */
function needsAuthorityCheck(first: Buffer): boolean {
  const at = H2_PREFACE.length;
  const len = first.readUIntBE(at, 3);
  const type = first[at + 3];
  return type === 0x4 && len === 0;
}

/**
 * Puts an HTTP/2 connection behind {@link H2AuthorityRewriter}: header blocks are checked (and
 * repaired) until the first one turns out clean, after which bytes pass straight through. Go gRPC
 * clients that dial `passthrough:///http://...` send an authority nghttp2 rejects; see h2-authority.ts.
 */
function wrapForAuthorityFix(socket: net.Socket, first: Buffer): Duplex {
  const rewriter = new H2AuthorityRewriter();
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  const feed = (chunk: Buffer) => {
    // After a clean first header block the rewriter passes bytes through without parsing.
    const out = rewriter.push(chunk);
    if (out.length && !duplex.push(out)) socket.pause();
  };
  socket.on('data', feed);
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  feed(first);
  Object.defineProperty(duplex, 'remoteAddress', { value: socket.remoteAddress });
  Object.defineProperty(duplex, 'remotePort', { value: socket.remotePort });
  return duplex;
}
