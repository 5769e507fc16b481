/**
 * Peer listeners: one http or https server per --listen-peer-urls entry (as its scheme says), with
 * etcd's --peer-cert-allowed-cn / --peer-cert-allowed-hostname check of the client certificate. etcd
 * fails the TLS handshake of a refused client; Node decides after the handshake, so a refused client
 * sees its connection closed before any request is read.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type * as tls from 'node:tls';
import type { Logger } from '../log/logger.js';
import { checkAllowedIdentity } from '../tls/verify-identity.js';

/** Options of {@link createPeerListener}. */
export interface PeerListenerOptions {
  /** `--peer-cert-allowed-cn`: peers' client certificates must carry this CN. */
  allowedCn?: string;
  /** `--peer-cert-allowed-hostname`: peers' client certificates must be valid for this host. */
  allowedHostname?: string;
  /** Where refusals are logged. */
  logger?: Logger;
}

/** Running peer listeners. */
export interface PeerListener {
  /** The URLs actually bound (port 0 in a URL is replaced by the chosen port). */
  readonly urls: string[];
  readonly servers: readonly (http.Server | https.Server)[];
  /** Stops accepting and closes every connection, including open streams. */
  close(): Promise<void>;
}

/**
 * Listens on every URL; https URLs need `tlsServerOptions` (PeerTlsConfig.server).
 * @example
 * ```ts
 * const l = await createPeerListener(['http://127.0.0.1:0'], undefined, (req, res) => {
 *   if (!transport.handle(req, res)) { res.writeHead(404); res.end(); }
 * });
 * console.log(l.urls[0]); // http://127.0.0.1:41234
 * ```
 */
export async function createPeerListener(
  urls: readonly (string | URL)[],
  tlsServerOptions: tls.TlsOptions | undefined,
  handler: http.RequestListener,
  opts: PeerListenerOptions = {},
): Promise<PeerListener> {
  const servers: (http.Server | https.Server)[] = [];
  const bound: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  try {
    for (const raw of urls) {
      const u = new URL(String(raw));
      let server: http.Server | https.Server;
      if (u.protocol === 'https:') {
        if (!tlsServerOptions)
          throw new TypeError(`peer URL ${u.origin} is https but no peer TLS is configured`);
        server = https.createServer({ ...tlsServerOptions, requestTimeout: 0 }, handler);
        if (opts.allowedCn || opts.allowedHostname) {
          // Before the HTTP layer's own listener: a refused socket must not have a request parsed.
          server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
            const refused = checkAllowedIdentity(socket.getPeerCertificate(), opts);
            if (!refused) return;
            opts.logger?.warn('rejected connection', {
              'remote-addr': `${socket.remoteAddress}:${socket.remotePort}`,
              'server-name': socket.servername || '',
              error: refused,
            });
            socket.destroy();
          });
        }
      } else if (u.protocol === 'http:') {
        server = http.createServer({ requestTimeout: 0 }, handler);
      } else {
        throw new TypeError(`peer URL scheme must be http or https: ${u.href}`);
      }
      const track = (s: import('node:net').Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      };
      server.on(u.protocol === 'https:' ? 'secureConnection' : 'connection', track);
      servers.push(server);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(u.port || 0), host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const port = (server.address() as AddressInfo).port;
      const hostPart = host.includes(':') ? `[${host}]` : host;
      bound.push(`${u.protocol}//${hostPart}:${port}`);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    urls: bound,
    servers,
    close: async () => {
      const closed = Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
