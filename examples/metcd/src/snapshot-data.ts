/**
 * What metcd puts in `Snapshot.data`: the members' peer URLs and the engine's bytes. Raft's snapshot
 * metadata already carries who the voters are; the URLs are the application's part of membership (they
 * arrive in conf-change contexts), so a member that starts from a snapshot can still reach everyone.
 *
 * Layout: `"METCDS01" | u32 BE length of the peers JSON | peers JSON ({"id": "url"}) | engine bytes`.
 */
import { type NodeId, nodeId } from './node-id.js';

const MAGIC = new TextEncoder().encode('METCDS01');

/** Thrown when snapshot data was not written by {@link encodeSnapshotData}. */
export class SnapshotDataError extends Error {
  override readonly name = 'SnapshotDataError';
}

/** The decoded payload of a metcd raft snapshot. */
export interface SnapshotData {
  peers: Map<NodeId, string>;
  engine: Uint8Array;
}

/**
 * Encodes peers and engine bytes into raft snapshot data.
 *
 * @example
 * ```ts
 * const data = encodeSnapshotData({ peers: new Map([[nodeId(1), 'http://127.0.0.1:12379']]), engine });
 * ```
 */
export function encodeSnapshotData(s: SnapshotData): Uint8Array {
  const peers = Buffer.from(
    JSON.stringify(Object.fromEntries([...s.peers].map(([id, u]) => [String(id), u]))),
  );
  const out = new Uint8Array(MAGIC.length + 4 + peers.length + s.engine.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, peers.length);
  out.set(peers, MAGIC.length + 4);
  out.set(s.engine, MAGIC.length + 4 + peers.length);
  return out;
}

/** Decodes {@link encodeSnapshotData}'s output; throws {@link SnapshotDataError} on anything else. */
export function decodeSnapshotData(data: Uint8Array): SnapshotData {
  const head = MAGIC.length + 4;
  if (data.length < head || !MAGIC.every((b, i) => data[i] === b))
    throw new SnapshotDataError('not a metcd snapshot (bad magic)');
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(MAGIC.length);
  if (head + len > data.length) throw new SnapshotDataError('snapshot peers section runs past its end');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(data.subarray(head, head + len)).toString('utf8'));
  } catch (e) {
    throw new SnapshotDataError(`snapshot peers are not JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null) throw new SnapshotDataError('snapshot peers not an object');
  const peers = new Map<NodeId, string>();
  for (const [id, url] of Object.entries(json)) {
    if (typeof url !== 'string') throw new SnapshotDataError(`peer ${id} has no URL`);
    peers.set(nodeId(id), url);
  }
  return { peers, engine: data.subarray(head + len) };
}
