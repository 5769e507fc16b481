/**
 * The server's raft snapshot file (the `data` the WAL package's Snapshotter stores):
 * `4-byte JSON length | JSON {payload, confState} | backend dump`. The dump is present for the memory
 * engine (nothing else keeps its data) and in snapshots written by `snapshot restore`; disk engines'
 * regular snapshots leave it out because their backend already holds the data.
 */
import type { ConfState } from '@kv/raft';
import type { Membership } from './membership.js';

/** What the JSON part of a snapshot file holds besides the conf state. */
export interface SnapshotPayload {
  membership: ReturnType<Membership['toJSON']>;
  /** True when a backend dump follows the JSON. */
  hasBackendDump: boolean;
}

/** Encodes a snapshot file. */
export function encodeSnapshotFile(
  payload: SnapshotPayload,
  confState: ConfState,
  dump: Uint8Array | undefined,
): Uint8Array {
  const json = Buffer.from(JSON.stringify({ payload, confState }));
  const out = Buffer.alloc(4 + json.length + (dump?.length ?? 0));
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  if (dump) out.set(dump, 4 + json.length);
  return out;
}

/** Decodes a snapshot file; `dump` is empty when the file carries none. */
export function decodeSnapshotFile(data: Uint8Array): {
  payload: SnapshotPayload;
  confState: ConfState;
  dump: Uint8Array;
} {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = buf.readUInt32BE(0);
  const j = JSON.parse(buf.subarray(4, 4 + len).toString()) as {
    payload: SnapshotPayload;
    confState: ConfState;
  };
  return { payload: j.payload, confState: j.confState, dump: buf.subarray(4 + len) };
}
