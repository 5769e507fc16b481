/**
 * Requests only the leader can answer, sent to its peer URL by a follower (etcd's leasehttp client and
 * promote forwarding): lease keep-alive, lease TimeToLive, learner promotion.
 */
import {
  LeaseInternalRequest,
  LeaseInternalResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
} from '@kv/client/api';
import { Errors, EtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { type PeerResponse, peerRequest } from './http-client.js';

/** Posts `body` to `path` on the leader's first answering peer URL. */
async function postToLeader(etcd: EtcdServer, path: string, body: Uint8Array): Promise<PeerResponse> {
  if (etcd.leaderId === 0n) throw Errors.noLeader();
  const urls = etcd.leaderPeerUrls();
  let last: unknown = Errors.noLeader();
  for (const url of urls) {
    try {
      return await peerRequest(url, path, {
        method: 'POST',
        body,
        timeoutMs: 5000 + 2 * etcd.cfg.electionMs,
        tls: etcd.opts.peerDial,
      });
    } catch (err) {
      last = err;
    }
  }
  throw last instanceof EtcdError ? last : Errors.timeout();
}

/** Renews a lease on the leader; the remaining TTL, or -1 when the lease does not exist. */
export async function forwardKeepAlive(etcd: EtcdServer, id: bigint): Promise<number> {
  const res = await postToLeader(etcd, '/leases', LeaseKeepAliveRequest.encode({ ID: id }));
  if (res.status === 404) return -1;
  if (res.status !== 200) throw new EtcdError(14, `etcdserver: ${res.body.toString().trim()}`);
  return LeaseKeepAliveResponse.decode(res.body).TTL;
}

/** The leader's TimeToLive answer; undefined when the lease does not exist. */
export async function forwardTimeToLive(
  etcd: EtcdServer,
  req: LeaseTimeToLiveRequest,
): Promise<LeaseTimeToLiveResponse | undefined> {
  const res = await postToLeader(
    etcd,
    '/leases/internal',
    LeaseInternalRequest.encode({ LeaseTimeToLiveRequest: req }),
  );
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new EtcdError(14, `etcdserver: ${res.body.toString().trim()}`);
  return LeaseInternalResponse.decode(res.body).LeaseTimeToLiveResponse;
}

/** Asks the leader to promote a learner; throws etcd's error when it refuses. */
export async function forwardPromote(etcd: EtcdServer, id: bigint): Promise<void> {
  // Decimal, as etcd's promoteMemberHTTP writes it (`%d`), so an etcd leader understands it too.
  const res = await postToLeader(etcd, `/members/promote/${id}`, new Uint8Array(0));
  if (res.status === 200) return;
  const msg = res.body.toString().trim();
  if (res.status === 412 && /in sync/.test(msg)) throw Errors.learnerNotReady();
  if (res.status === 412) throw Errors.memberNotLearner();
  if (res.status === 404) throw Errors.memberNotFound();
  throw new EtcdError(14, msg);
}
