/**
 * Joining an existing cluster (`--initial-cluster-state existing`): the member list and the cluster id
 * come from a running peer's `/members` (etcd's GetClusterFromRemotePeers), so the new member uses the
 * id that `member add` gave it and the cluster's id.
 */
import type { ConnectionOptions } from 'node:tls';
import { ConfigError, type ServerConfig } from '../config/parse.js';
import type { Member } from '../etcdserver/membership.js';
import type { Logger } from '../log/logger.js';
import { parseIdHex } from '../rafthttp/http-util.js';
import { peerRequest } from './http-client.js';
import { parseMembersJson } from './members-json.js';

/** What the peers said: the cluster id and its members. */
export interface RemoteCluster {
  clusterId: bigint;
  members: Member[];
}

/** Asks each peer of `--initial-cluster` (but this member) for the cluster; the first answer wins. */
export async function fetchClusterFromPeers(
  cfg: ServerConfig,
  log: Logger,
  tls: ConnectionOptions | undefined,
  signal: AbortSignal | undefined,
): Promise<RemoteCluster> {
  const own = new Set(cfg.initialAdvertisePeerUrls.map((u) => u.origin));
  const urls = [...cfg.initialCluster.entries()]
    .filter(([name]) => name !== cfg.name)
    .flatMap(([, us]) => us)
    .filter((u) => !own.has(u));
  for (const url of urls) {
    try {
      const res = await peerRequest(url, '/members', { timeoutMs: 2000, tls, signal });
      if (res.status !== 200) {
        log.warn('failed to get cluster response', { address: `${url}/members`, status: res.status });
        continue;
      }
      const cid = String(res.headers['x-etcd-cluster-id'] ?? '');
      const clusterId = parseIdHex(cid);
      if (clusterId === undefined) {
        log.warn('failed to parse cluster ID', { address: `${url}/members`, header: cid });
        continue;
      }
      return { clusterId, members: parseMembersJson(res.body.toString('utf8')) };
    } catch (err) {
      if (signal?.aborted) throw err;
      log.warn('failed to get cluster response', { address: `${url}/members`, error: String(err) });
    }
  }
  throw new ConfigError(
    'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
  );
}
