/**
 * TLS channel credentials that never send an IP address as the TLS server name.
 *
 * grpc-js (1.14) hands the target's host to `tls.connect` as `servername` whether it is a DNS name or
 * an IP address. RFC 6066 allows only DNS names in SNI: Node 20-24 print a DEP0123 warning and drop
 * the name, Node 26 refuses the connection (ERR_INVALID_ARG_VALUE), so `https://10.0.0.1:2379`, the
 * usual way to address an etcd member, could not connect at all there. These credentials make the TLS
 * connection themselves, as grpc-js would otherwise: ALPN `h2`, SNI for a DNS name only, and the
 * server certificate checked against the host the client dialled (an IP address against the
 * certificate's IP SANs), or not checked with `insecureSkipVerify`. As with grpc-js's own
 * `createFromSecureContext`, its environment variables GRPC_DEFAULT_SSL_ROOTS_FILE_PATH and
 * GRPC_SSL_CIPHER_SUITES do not apply: the CA is `ca` or Node's root store, the ciphers Node's.
 */
import { isIP, type Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import { CallCredentials, ChannelCredentials, experimental } from '@grpc/grpc-js';
import type { TlsOptions } from './connection.js';

/**
 * grpc-js channel credentials for TLS to any target, an IP address included.
 *
 * @example
 * ```ts
 * const creds = tlsChannelCredentials({ ca: readFileSync('ca.pem') });
 * // A grpc-js Client for '10.0.0.1:2379' with `creds` sends no SNI and accepts only a
 * // certificate signed by ca.pem that names 10.0.0.1.
 * ```
 * @throws Error when only one of `cert` and `key` is given.
 */
export function tlsChannelCredentials(opts: TlsOptions = {}): ChannelCredentials {
  if ((opts.cert === undefined) !== (opts.key === undefined)) {
    throw new Error('TLS: a client certificate and its private key must be given together');
  }
  const context = createSecureContext({ ca: opts.ca, cert: opts.cert, key: opts.key });
  return new HostTlsCredentials(context, opts.insecureSkipVerify === true);
}

/**
 * The host a TLS connection to a grpc-js target must prove: the address's host part, `localhost`
 * for a unix socket (what grpc-js itself uses as the default authority there).
 */
export function tlsHostOf(target: experimental.GrpcUri): string {
  if (target.scheme === 'unix' || target.scheme === 'unix-abstract') return 'localhost';
  // ipv4:/ipv6: targets may list several addresses; the first one is the one named here.
  const first = target.path.split(',')[0] ?? target.path;
  return experimental.splitHostPort(first)?.host ?? first;
}

class HostTlsCredentials extends ChannelCredentials {
  constructor(
    private readonly context: SecureContext,
    private readonly skipVerify: boolean,
  ) {
    super();
  }

  _isSecure(): boolean {
    return true;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(
    channelTarget: experimental.GrpcUri,
    _options: unknown,
    callCredentials?: CallCredentials,
  ): experimental.SecureConnector {
    const host = tlsHostOf(channelTarget);
    const context = this.context;
    const skipVerify = this.skipVerify;
    const perCall = callCredentials ?? CallCredentials.createEmpty();
    return {
      connect(socket: Socket): Promise<experimental.SecureConnectResult> {
        return new Promise((resolve, reject) => {
          const tlsSocket = connect(
            {
              socket,
              secureContext: context,
              ALPNProtocols: ['h2'],
              // Node checks the certificate against `servername`, else `host`: an IP address goes
              // only into `host`, so it is checked (IP SANs) but never sent as SNI.
              host,
              ...(isIP(host) === 0 ? { servername: host } : {}),
              rejectUnauthorized: !skipVerify,
              ...(skipVerify ? { checkServerIdentity: () => undefined } : {}),
            },
            () => {
              if (!skipVerify && !tlsSocket.authorized) {
                reject(tlsSocket.authorizationError);
                return;
              }
              resolve({ socket: tlsSocket, secure: true });
            },
          );
          tlsSocket.on('error', reject);
        });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => perCall,
      destroy: () => {},
    };
  }
}
