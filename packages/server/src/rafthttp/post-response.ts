/**
 * etcd's checkPostResponse: how a POST /raft or /raft/snapshot answer maps to an error. 204 is
 * success; 403 means we were removed; 412 carries a version or cluster-id refusal in its body.
 */
import type { IncomingMessage } from 'node:http';
import { idHex } from '../etcdserver/ids.js';
import type { TransportContext } from './context.js';
import {
  CLUSTER_ID_MISMATCH,
  ClusterIdMismatchError,
  INCOMPATIBLE_VERSION,
  IncompatibleVersionError,
  MemberRemovedError,
  UnexpectedPeerResponseError,
} from './errors.js';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  410: 'Gone',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Returns the error for a non-success answer (undefined for 204). */
export function checkPostResponse(
  ctx: TransportContext,
  res: IncomingMessage,
  body: string,
  url: string,
  to: bigint,
): Error | undefined {
  const status = res.statusCode ?? 0;
  switch (status) {
    case 204:
      return undefined;
    case 403:
      return new MemberRemovedError();
    case 412: {
      const text = body.replace(/\n$/, '');
      if (text === INCOMPATIBLE_VERSION) return new IncompatibleVersionError();
      if (text === CLUSTER_ID_MISMATCH) {
        const remote = String(res.headers['x-etcd-cluster-id'] ?? '');
        ctx.log.warn('request sent was ignored by remote peer due to cluster ID mismatch', {
          'remote-peer-id': idHex(to),
          'remote-peer-cluster-id': remote,
          'local-member-id': ctx.idHex,
          'local-member-cluster-id': ctx.clusterIdHex,
          error: CLUSTER_ID_MISMATCH,
        });
        return new ClusterIdMismatchError(remote);
      }
      return new UnexpectedPeerResponseError(
        `unhandled error ${JSON.stringify(body)} when precondition failed`,
        412,
      );
    }
    default:
      return new UnexpectedPeerResponseError(
        `unexpected http status ${STATUS_TEXT[status] ?? String(status)} while posting to ${JSON.stringify(url)}`,
        status,
      );
  }
}

/** Collects a response body as text (at most `limit` characters kept). */
export function readResponseText(res: IncomingMessage, limit = 65536): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      if (s.length < limit) s += c;
    });
    res.on('end', () => resolve(s));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}
