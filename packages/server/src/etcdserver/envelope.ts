/**
 * The raft entry payload: etcd's InternalRaftRequest (header with the request id + exactly one
 * request), encoded with the generated etcdserverpb codec so entries are wire-compatible with etcd's.
 */
import { type DeepPartial, InternalRaftRequest } from '@kv/client/api';

/** A request as proposed/applied (partial: only the one request present). */
export type InternalRequest = DeepPartial<InternalRaftRequest>;

export function encodeInternalRequest(req: InternalRequest): Uint8Array {
  return InternalRaftRequest.encode(req);
}

export function decodeInternalRequest(data: Uint8Array): InternalRaftRequest {
  return InternalRaftRequest.decode(data);
}
