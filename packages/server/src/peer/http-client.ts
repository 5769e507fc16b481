/**
 * One small HTTP(S) request to a peer URL (cluster fetch, lease forwarding, promote forwarding), with a
 * timeout and peer TLS. Raft traffic has its own long-lived connections in src/rafthttp.
 */
import http from 'node:http';
import https from 'node:https';
import type { ConnectionOptions } from 'node:tls';

/** A peer's answer: status, headers and the whole body. */
export interface PeerResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PeerRequestOptions {
  method?: 'GET' | 'POST';
  body?: Uint8Array;
  contentType?: string;
  timeoutMs: number;
  /** Peer TLS client options for https:// URLs. */
  tls?: ConnectionOptions;
  signal?: AbortSignal;
}

/**
 * Sends one request for `path` to a member's peer URL and reads the whole answer; rejects on network
 * errors and timeouts. The path replaces whatever path the URL has (a trailing slash included).
 */
export function peerRequest(peerUrl: string, path: string, opts: PeerRequestOptions): Promise<PeerResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, peerUrl);
    const secure = u.protocol === 'https:';
    const headers: http.OutgoingHttpHeaders = {};
    if (opts.body) {
      headers['Content-Type'] = opts.contentType ?? 'application/protobuf';
      headers['Content-Length'] = opts.body.length;
    }
    const reqOpts: https.RequestOptions = {
      method: opts.method ?? 'GET',
      headers,
      timeout: opts.timeoutMs,
      signal: opts.signal,
      ...(secure ? opts.tls : {}),
    };
    const req = (secure ? https : http).request(u, reqOpts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${u.origin} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
