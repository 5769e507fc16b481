/**
 * The server's raft snapshot file (the `data` the WAL package's Snapshotter stores):
 * `4-byte JSON length | JSON {payload, confState} | backend dump`. The dump is present for the memory
 * engine (nothing else keeps its data) and in snapshots written by `snapshot restore`; disk engines'
 * regular snapshots leave it out because their backend already holds the data. The conf state's node
 * ids are written as decimal strings (exact uint64); files of older versions hold numbers.
 */
import type { ConfState } from '@kv/raft';
import { toId } from './member-id.js';
import type { Membership } from './membership.js';

/** A ConfState as the file's JSON holds it: ids as decimal strings (numbers in older files). */
interface ConfStateJson {
  voters: (string | number)[];
  learners: (string | number)[];
  votersOutgoing: (string | number)[];
  learnersNext: (string | number)[];
  autoLeave: boolean;
}

const idsToJson = (ids: readonly bigint[]) => ids.map(String);
const idsFromJson = (ids: readonly (string | number)[] | undefined) => (ids ?? []).map(toId);

function confStateToJson(cs: ConfState): ConfStateJson {
  return {
    voters: idsToJson(cs.voters),
    learners: idsToJson(cs.learners),
    votersOutgoing: idsToJson(cs.votersOutgoing),
    learnersNext: idsToJson(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

function confStateFromJson(j: ConfStateJson): ConfState {
  return {
    voters: idsFromJson(j.voters),
    learners: idsFromJson(j.learners),
    votersOutgoing: idsFromJson(j.votersOutgoing),
    learnersNext: idsFromJson(j.learnersNext),
    autoLeave: j.autoLeave ?? false,
  };
}

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
  const json = Buffer.from(JSON.stringify({ payload, confState: confStateToJson(confState) }));
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
    confState: ConfStateJson;
  };
  return { payload: j.payload, confState: confStateFromJson(j.confState), dump: buf.subarray(4 + len) };
}
