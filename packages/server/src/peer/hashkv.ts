/**
 * `/members/hashkv` on the peer URL: how etcd 3.4's corruption checks ask a peer for its HashKV
 * (etcdserver/corrupt.go, PeerHashKVPath). The wire format for both sides (the route itself is served
 * in handler.ts) and the asking side:
 *
 * - the request is `GET` with a JSON body `{"revision":N}` (Go's encoding/json of pb.HashKVRequest);
 * - the answer is JSON `{"header":{"revision":R},"hash":H,"compact_revision":C}` (zero fields left
 *   out, as Go's `omitempty` does; -1 is etcd's compact revision before any compaction), with the
 *   cluster id in `X-Etcd-Cluster-ID`;
 * - a revision that is compacted or in the future is a 400 whose text is the mvcc error, which the
 *   asking side maps back to etcd's rpctypes errors; anything else that is not 200 is an
 *   `unknown error: <body>`.
 *
 * Over the peer URL and peer TLS, an etcd member and a kv member can check each other.
 */
import type { ConnectionOptions } from 'node:tls';
import type { HashKVResult } from '@kv/mvcc';
import type { CorruptCheckPeer, MemberHash, PeerHashFetcher } from '../etcdserver/corrupt-check.js';
import { Errors } from '../etcdserver/errors.js';
import { idHex } from '../etcdserver/ids.js';
import { peerRequest } from './http-client.js';

/** The route's path (etcd's PeerHashKVPath). */
export const PEER_HASHKV_PATH = '/members/hashkv';

/**
 * The revision of a JSON HashKVRequest as Go's json.Unmarshal reads it into an int64 field: a
 * missing field or `null` is 0; anything that is not an integer (a string, a fraction) or not an
 * object is an error (undefined).
 * @example
 * parseHashKVRequest('{"revision":42}'); // 42
 * parseHashKVRequest('{}'); // 0
 * parseHashKVRequest('{"revision":"42"}'); // undefined
 */
export function parseHashKVRequest(body: string): number | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (v === null) return 0; // Go: unmarshalling null into a struct leaves it unchanged
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  // Go matches field names exactly first, then case-insensitively.
  const o = v as Record<string, unknown>;
  const key = 'revision' in o ? 'revision' : Object.keys(o).find((k) => k.toLowerCase() === 'revision');
  const rev = key === undefined ? undefined : o[key];
  if (rev === undefined || rev === null) return 0;
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev)) return undefined;
  return rev;
}

/**
 * The answer's JSON, field for field as Go's encoding/json writes etcd's HashKVResponse (zero values
 * left out).
 * @example
 * hashKVResponseJson({ revision: 9, hash: 123, compactRevision: -1 });
 * // '{"header":{"revision":9},"hash":123,"compact_revision":-1}'
 */
export function hashKVResponseJson(h: HashKVResult): string {
  // The header is always there (a non-nil pointer); its zero fields are not.
  const out: Record<string, unknown> = { header: h.revision !== 0 ? { revision: h.revision } : {} };
  if (h.hash !== 0) out.hash = h.hash;
  if (h.compactRevision !== 0) out.compact_revision = h.compactRevision;
  return JSON.stringify(out);
}

/**
 * Asks peers over their peer URLs (peer TLS for `https`), as etcd's getPeerHashKVs does: each URL in
 * turn until one answers; an HTTP answer (even an error) ends the search, a network failure moves on.
 * @example
 * const fetcher = new PeerUrlHashFetcher(tlsOptions);
 * await fetcher.fetch({ id: 0x8e9e05c52164694dn, peerURLs: ['https://10.0.0.2:2380'] }, 42, 5000);
 */
export class PeerUrlHashFetcher implements PeerHashFetcher {
  constructor(private readonly tls: ConnectionOptions | undefined) {}

  async fetch(peer: CorruptCheckPeer, revision: number, timeoutMs: number): Promise<MemberHash> {
    let lastErr: Error = new Error(`member ${idHex(peer.id)} has no peer URLs`);
    for (const url of peer.peerURLs) {
      let res: Awaited<ReturnType<typeof peerRequest>>;
      try {
        res = await peerRequest(url, PEER_HASHKV_PATH, {
          method: 'GET',
          body: Buffer.from(JSON.stringify({ revision })),
          contentType: 'application/json',
          timeoutMs,
          tls: this.tls,
        });
      } catch (err) {
        lastErr = err instanceof Error ? err : new Error(String(err));
        continue;
      }
      return hashFromAnswer(peer.id, res.status, res.body.toString('utf8'));
    }
    throw lastErr;
  }

  close(): void {}
}

/** A peer's answer as a MemberHash, or etcd's error for it (thrown). */
export function hashFromAnswer(peerId: bigint, status: number, body: string): MemberHash {
  if (status === 400 && body.includes('mvcc: required revision has been compacted')) {
    throw Errors.compacted();
  }
  if (status === 400 && body.includes('mvcc: required revision is a future revision')) {
    throw Errors.futureRev();
  }
  if (status !== 200) throw new Error(`unknown error: ${body}`);
  const v = JSON.parse(body) as { header?: { revision?: number }; hash?: number; compact_revision?: number };
  return {
    memberId: peerId,
    revision: v.header?.revision ?? 0,
    hash: v.hash ?? 0,
    compactRevision: v.compact_revision ?? 0,
  };
}
