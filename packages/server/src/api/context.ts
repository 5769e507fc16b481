/** Shared helpers of the API handlers: response headers and request checks. */
import type { ResponseHeader } from '@kv/client/api';
import type { EtcdServer } from '../etcdserver/server.js';

/** etcd's ResponseHeader for this member at `revision` (default: the store's current revision). */
export function header(etcd: EtcdServer, revision?: number): ResponseHeader {
  return {
    clusterId: etcd.clusterId,
    memberId: etcd.memberId,
    revision: revision ?? etcd.store.rev(),
    raftTerm: etcd.term,
  };
}
