/**
 * Protobuf codec for raft's types, wire-compatible with etcd's raftpb. The encoding itself is generated
 * from proto/raft/raftpb.proto into ./gen/raftpb.ts (node tools/gen-proto.mjs); this module maps between
 * the generated shapes and raft's public types (etcd's Entry has capitalized field names, enums are
 * numerically identical).
 */
import * as pb from './gen/raftpb.js';
import {
  type ConfChange,
  type ConfChangeV2,
  type ConfState,
  EMPTY_BYTES,
  type Entry,
  emptyConfState,
  type HardState,
  type Message,
  type Snapshot,
} from './types.js';

export { ProtoDecodeError } from './gen/raftpb.js';

function entryToPb(e: Entry): pb.Entry {
  return { Term: e.term, Index: e.index, Type: e.type as number as pb.EntryType, Data: e.data };
}

function entryFromPb(e: pb.Entry): Entry {
  return { term: e.Term, index: e.Index, type: e.Type as number, data: e.Data };
}

function confStateFromPb(cs: pb.ConfState | undefined): ConfState {
  if (!cs) return emptyConfState();
  return {
    voters: cs.voters,
    learners: cs.learners,
    votersOutgoing: cs.votersOutgoing,
    learnersNext: cs.learnersNext,
    autoLeave: cs.autoLeave,
  };
}

function snapshotToPb(s: Snapshot): pb.Snapshot {
  return { data: s.data, metadata: { ...s.metadata, confState: { ...s.metadata.confState } } };
}

function snapshotFromPb(s: pb.Snapshot): Snapshot {
  const md = s.metadata;
  return {
    data: s.data,
    metadata: { confState: confStateFromPb(md?.confState), index: md?.index ?? 0, term: md?.term ?? 0 },
  };
}

export function encodeEntry(e: Entry): Uint8Array {
  return pb.Entry.encode(entryToPb(e));
}

/**
 * Bytes of `n` (a non-negative integer below 2^53) as a protobuf varint; for encoders that write part
 * of a message by hand (msgappv2 frames here, kv-server's snapshot frames and watch fragment sizes).
 * @example varintLength(300); // 2
 */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/**
 * Writes `n` (a non-negative integer below 2^53) as a protobuf varint into `buf` at `at`; returns the
 * offset after it.
 * @example writeVarint(buf, 0, 300); // 2 (bytes 0xac 0x02)
 */
export function writeVarint(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/**
 * Size of {@link encodeEntry}'s output for `e`, computed without encoding: lets a stream encoder size
 * one frame for many entries and write each in place with {@link encodeEntryInto}.
 */
export function entryEncodedSize(e: Entry): number {
  const n = e.data.length;
  return 4 + varintLength(e.type) + varintLength(e.term) + varintLength(e.index) + varintLength(n) + n;
}

/**
 * Writes exactly {@link encodeEntry}'s bytes for `e` at `out[off]` (all four fields, as etcd's
 * non-nullable raftpb.Entry) and returns the offset after them. `out` must have
 * {@link entryEncodedSize} bytes free at `off`.
 * @example
 * ```ts
 * const out = new Uint8Array(entryEncodedSize(e));
 * encodeEntryInto(e, out, 0); // same bytes as encodeEntry(e)
 * ```
 */
export function encodeEntryInto(e: Entry, out: Uint8Array, off: number): number {
  out[off++] = 0x08;
  off = writeVarint(out, off, e.type);
  out[off++] = 0x10;
  off = writeVarint(out, off, e.term);
  out[off++] = 0x18;
  off = writeVarint(out, off, e.index);
  out[off++] = 0x22;
  off = writeVarint(out, off, e.data.length);
  out.set(e.data, off);
  return off + e.data.length;
}

export function decodeEntry(b: Uint8Array): Entry {
  return entryFromPb(pb.Entry.decode(b));
}

export function encodeMessage(m: Message): Uint8Array {
  return pb.Message.encode({
    type: m.type as number as pb.MessageType,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToPb),
    commit: m.commit,
    ...(m.snapshot ? { snapshot: snapshotToPb(m.snapshot) } : {}),
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
  });
}

export function decodeMessage(b: Uint8Array): Message {
  const m = pb.Message.decode(b);
  const out: Message = {
    type: m.type as number,
    to: m.to,
    from: m.from,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryFromPb),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context ?? EMPTY_BYTES,
  };
  if (m.snapshot) out.snapshot = snapshotFromPb(m.snapshot);
  return out;
}

export function encodeHardState(hs: HardState): Uint8Array {
  return pb.HardState.encode(hs);
}

export function decodeHardState(b: Uint8Array): HardState {
  const hs = pb.HardState.decode(b);
  return { term: hs.term, vote: hs.vote, commit: hs.commit };
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  return pb.Snapshot.encode(snapshotToPb(s));
}

export function decodeSnapshot(b: Uint8Array): Snapshot {
  return snapshotFromPb(pb.Snapshot.decode(b));
}

export function encodeConfState(cs: ConfState): Uint8Array {
  return pb.ConfState.encode(cs);
}

export function decodeConfState(b: Uint8Array): ConfState {
  return confStateFromPb(pb.ConfState.decode(b));
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return pb.ConfChange.encode({
    id: cc.id ?? 0n,
    type: cc.type as number as pb.ConfChangeType,
    nodeId: cc.nodeId,
    context: cc.context,
  });
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  const cc = pb.ConfChange.decode(b);
  return { type: cc.type as number, nodeId: cc.nodeId, context: cc.context, id: cc.id };
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  return pb.ConfChangeV2.encode({
    transition: cc.transition as number as pb.ConfChangeTransition,
    changes: cc.changes.map((c) => ({ type: c.type as number as pb.ConfChangeType, nodeId: c.nodeId })),
    context: cc.context,
  });
}

export function decodeConfChangeV2(b: Uint8Array): ConfChangeV2 {
  const cc = pb.ConfChangeV2.decode(b);
  return {
    transition: cc.transition as number,
    changes: cc.changes.map((c) => ({ type: c.type as number, nodeId: c.nodeId })),
    context: cc.context,
  };
}
