/**
 * etcd 3.4 refuses gateway (/v3/...) requests whose verified client certificate carries a common name
 * while `--client-cert-auth` is on and auth is enabled: its gateway forwards requests to gRPC with the
 * server's own credentials, so the caller's CN would silently not count (etcd's accessController,
 * CVE-2020-15136 hardening). kv-server answers the same 400 so clients see etcd's behaviour; gateway
 * users authenticate with a token and a certificate without CN.
 */
import type * as http from 'node:http';
import type * as tls from 'node:tls';

/** etcd's response text (http.Error appends a newline). */
export const GATEWAY_CN_MESSAGE =
  'CommonName of client sending a request against gateway will be ignored and not used as expected';

/** Wraps a gateway handler; `authEnabled` is read per request (auth can be switched at runtime). */
export function rejectGatewayCommonName(
  handler: http.RequestListener,
  authEnabled: () => boolean,
): http.RequestListener {
  return (req, res) => {
    const path = req.url ?? '';
    if ((path.startsWith('/v3/') || path.startsWith('/v3beta/')) && authEnabled()) {
      const sock = req.socket as tls.TLSSocket;
      if (sock.authorized && sock.getPeerCertificate?.()?.subject?.CN) {
        const body = `${GATEWAY_CN_MESSAGE}\n`;
        res.writeHead(400, {
          'content-type': 'text/plain; charset=utf-8',
          'x-content-type-options': 'nosniff',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
    }
    handler(req, res);
  };
}
