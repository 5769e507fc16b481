/**
 * The peer listener's HTTP routes besides raft's own (etcd's newPeerHandler): `/members` (the cluster a
 * joining member fetches), `/members/promote/<id>` (a follower forwards MemberPromote to the leader),
 * `/members/hashkv` (a peer's corruption check asks for this member's HashKV, see hashkv.ts),
 * `/version`, and `/leases` + `/leases/internal` (lease keep-alive and TimeToLive, which only the leader
 * can answer, forwarded by followers). Raft's routes are served by the transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  LeaseInternalRequest,
  LeaseInternalResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
} from '@kv/client/api';
import type { HashKVResult } from '@kv/mvcc';
import { EtcdError } from '../etcdserver/errors.js';
import { idHex } from '../etcdserver/ids.js';
import type { Member } from '../etcdserver/membership.js';
import { CLUSTER_VERSION, type EtcdServer, SERVER_VERSION } from '../etcdserver/server.js';
import { hashKVResponseJson, PEER_HASHKV_PATH, parseHashKVRequest } from './hashkv.js';
import { membersJson } from './members-json.js';

/** What the peer routes need from the server (the member's lease and membership logic). */
export interface PeerRoutesHost {
  etcd: EtcdServer;
  /** Renews a lease on this member (the leader); returns the remaining TTL or throws. */
  renewLease(id: bigint): Promise<number>;
  /** The leader's TimeToLive answer for a lease, or undefined when it does not exist. */
  leaseTimeToLive(id: bigint, keys: boolean): Promise<LeaseTimeToLiveResponse | undefined>;
  /** Promotes a learner (leader only); resolves with the member list. */
  promoteMember(id: bigint): Promise<Member[]>;
}

/** Builds the peer listener's request handler. */
export function createPeerHandler(host: PeerRoutesHost): (req: IncomingMessage, res: ServerResponse) => void {
  const etcd = host.etcd;
  return (req, res) => {
    if (etcd.transport.handle(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/members') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      res.setHeader('X-Etcd-Cluster-ID', idHex(etcd.clusterId));
      res.setHeader('Content-Type', 'application/json');
      res.end(membersJson(etcd.membership.list()));
      return;
    }
    if (path === PEER_HASHKV_PATH) {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      readBody(req).then(
        (body) => serveHashKV(etcd, body, res),
        () => plainError(res, 400, 'error reading body'),
      );
      return;
    }
    if (path.startsWith('/members/promote/')) {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      // etcd puts the id in decimal here (strconv.ParseUint(idStr, 10, 64)), unlike its hex headers.
      const idStr = path.slice('/members/promote/'.length);
      res.setHeader('X-Etcd-Cluster-ID', idHex(etcd.clusterId));
      if (!/^\d{1,20}$/.test(idStr) || BigInt(idStr) >= 1n << 64n) {
        plainError(res, 404, `member ${idStr} not found in cluster`);
        return;
      }
      host.promoteMember(BigInt(idStr)).then(
        (members) => {
          res.setHeader('Content-Type', 'application/json');
          res.end(membersJson(members));
        },
        (err: unknown) => {
          const msg = err instanceof Error ? err.message : String(err);
          // etcd: not a learner / not ready -> 412, unknown member -> 404, anything else 500.
          const status = /learner/.test(msg) ? 412 : /not found/.test(msg) ? 404 : 500;
          plainError(res, status, msg);
        },
      );
      return;
    }
    if (path === '/version') {
      if (req.method !== 'GET') return methodNotAllowed(res, 'GET');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }));
      return;
    }
    if (path === '/leases' || path === '/leases/internal') {
      if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
      readBody(req).then(
        (body) => serveLease(host, path, body, res),
        () => plainError(res, 400, 'error reading body'),
      );
      return;
    }
    plainError(res, 404, '404 page not found');
  };
}

/** etcd's hashKVHandler: the store's HashKV at the requested revision, or the mvcc error as a 400. */
async function serveHashKV(etcd: EtcdServer, body: Buffer, res: ServerResponse): Promise<void> {
  const revision = parseHashKVRequest(body.toString('utf8'));
  if (revision === undefined) return plainError(res, 400, 'error unmarshalling request');
  let h: HashKVResult;
  try {
    h = await etcd.store.mvcc.hashKV(revision);
  } catch (err) {
    return plainError(res, 400, err instanceof Error ? err.message : String(err));
  }
  res.setHeader('X-Etcd-Cluster-ID', idHex(etcd.clusterId));
  res.setHeader('Content-Type', 'application/json');
  // etcd reports -1 when nothing was ever compacted.
  res.end(hashKVResponseJson({ ...h, compactRevision: h.compactRevision || -1 }));
}

async function serveLease(
  host: PeerRoutesHost,
  path: string,
  body: Buffer,
  res: ServerResponse,
): Promise<void> {
  let out: Uint8Array;
  try {
    if (path === '/leases') {
      let id: bigint;
      try {
        id = LeaseKeepAliveRequest.decode(body).ID;
      } catch {
        return plainError(res, 400, 'error unmarshalling request');
      }
      const ttl = await host.renewLease(id);
      out = LeaseKeepAliveResponse.encode({ ID: id, TTL: ttl });
    } else {
      let req: LeaseTimeToLiveRequest;
      try {
        req = LeaseInternalRequest.decode(body).LeaseTimeToLiveRequest ?? { ID: 0n, keys: false };
      } catch {
        return plainError(res, 400, 'error unmarshalling request');
      }
      const ttl = await host.leaseTimeToLive(req.ID, req.keys);
      if (!ttl) return plainError(res, 404, 'lease not found');
      out = LeaseInternalResponse.encode({ LeaseTimeToLiveResponse: ttl });
    }
  } catch (err) {
    const msg = err instanceof EtcdError ? err.message.replace(/^etcdserver: /, '') : String(err);
    return plainError(res, /not found/.test(msg) ? 404 : 400, msg);
  }
  res.setHeader('Content-Type', 'application/protobuf');
  res.end(out);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Go's http.Error: text/plain, nosniff, the message and a newline. */
function plainError(res: ServerResponse, status: number, msg: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(`${msg}\n`);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  plainError(res, 405, 'Method Not Allowed');
}
