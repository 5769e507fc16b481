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

/** Field number of `cluster_member_attr_set` in etcd's InternalRaftRequest (raft_internal.proto). */
const MEMBER_ATTR_SET_FIELD = 1301;

/**
 * Whether an encoded request is a member-attributes update, read from its top-level field tags without
 * decoding it. Restart replay skips decoding entries the backend already holds; these must still be
 * applied because the member list lives in memory, rebuilt from the log.
 */
export function isMemberAttrSet(data: Uint8Array): boolean {
  let i = 0;
  while (i < data.length) {
    let tag = 0;
    let shift = 0;
    for (;;) {
      if (i >= data.length || shift > 28) return false;
      const b = data[i++]!;
      tag |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7;
    }
    if (tag >>> 3 === MEMBER_ATTR_SET_FIELD) return true;
    const wire = tag & 7;
    if (wire === 0) {
      while (i < data.length && data[i++]! & 0x80);
    } else if (wire === 2) {
      let len = 0;
      shift = 0;
      for (;;) {
        if (i >= data.length || shift > 28) return false;
        const b = data[i++]!;
        len |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
      }
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return false;
  }
  return false;
}
