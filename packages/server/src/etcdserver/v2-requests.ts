/**
 * etcd 3.4's v2 requests in the raft log. Besides v3 requests (InternalRaftRequest), etcd 3.4 proposes a
 * bare v2 `Request` for two cluster-level facts: a member publishing its name and client URLs
 * (`PUT /0/members/<hex id>/attributes`) and the cluster version (`PUT /0/version`). kv applies both and
 * publishes its own attributes the same way, so kv and etcd 3.4 members can share one raft log. Other v2
 * paths (the v2 key space, which kv does not serve) are recognised and ignored.
 */
import { Request } from '../gen/etcdv2.js';

/** What a v2 request in the log means to kv. */
export type V2Effect =
  | { kind: 'attributes'; memberIdHex: string; name: string; clientURLs: string[] }
  | { kind: 'version'; version: string }
  | { kind: 'other'; method: string; path: string };

const ATTRIBUTES_PATH = /^\/0\/members\/([0-9a-f]{1,16})\/attributes$/;
/** etcd's membership.StoreClusterVersionKey(). */
export const CLUSTER_VERSION_PATH = '/0/version';

/**
 * Whether an entry's payload may be a v2 request, from its first byte: a v2 `Request` starts with its ID
 * (field 1, varint: tag 0x08), while v3 requests start with the request field (3…) and carry their id in
 * the header (field 100). Used to decide which already-applied entries must still be decoded on replay.
 */
export function mayBeV2Request(data: Uint8Array): boolean {
  return data[0] === 0x08;
}

/** Decodes a payload that is not an InternalRaftRequest as etcd's v2 Request (throws when it is neither). */
export function decodeV2Request(data: Uint8Array): Request {
  const req = Request.decode(data);
  if (req.Method === '' || !req.Path.startsWith('/')) throw new Error('not a v2 request');
  return req;
}

/** Interprets a decoded v2 request (etcd's applierV2store.Put for the membership paths). */
export function v2Effect(req: Request): V2Effect {
  if (req.Method === 'PUT') {
    const m = ATTRIBUTES_PATH.exec(req.Path);
    if (m) {
      // etcd's membership.Attributes JSON: {"name":…,"clientURLs":[…]}, both omitted when empty.
      const attrs = JSON.parse(req.Val) as { name?: unknown; clientURLs?: unknown };
      return {
        kind: 'attributes',
        memberIdHex: m[1]!,
        name: typeof attrs.name === 'string' ? attrs.name : '',
        clientURLs: Array.isArray(attrs.clientURLs)
          ? attrs.clientURLs.filter((u) => typeof u === 'string')
          : [],
      };
    }
    if (req.Path === CLUSTER_VERSION_PATH) return { kind: 'version', version: req.Val };
  }
  return { kind: 'other', method: req.Method, path: req.Path };
}

/** etcd's publish request: this member's attributes as a bare v2 PUT (what etcd 3.4 members apply). */
export function encodeAttributesRequest(
  requestId: bigint,
  memberIdHex: string,
  name: string,
  clientURLs: string[],
): Uint8Array {
  const attrs: { name?: string; clientURLs?: string[] } = {};
  if (name) attrs.name = name;
  if (clientURLs.length) attrs.clientURLs = clientURLs;
  return Request.encode({
    ID: requestId,
    Method: 'PUT',
    Path: `/0/members/${memberIdHex}/attributes`,
    Val: JSON.stringify(attrs),
  });
}
