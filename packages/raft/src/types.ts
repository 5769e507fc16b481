/**
 * Raft's data types. Names and numbering follow etcd's raftpb so values map 1:1 onto the protobuf codec
 * in `codec.ts`. Node ids are `bigint` (etcd's ids use all 64 bits); terms and indexes are `number`
 * (they stay far below 2^53).
 */

/** Kind of a log entry; says how `Entry.data` is to be read. */
export enum EntryType {
  /** Application data. */
  Normal = 0,
  /** An encoded {@link ConfChange}. */
  ConfChange = 1,
  /** An encoded {@link ConfChangeV2}. */
  ConfChangeV2 = 2,
}

/** One slot of the replicated log. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What a node must persist before it sends messages or applies entries. */
export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}

/** Role of a node. Values match etcd's StateType. */
export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

/** Volatile state, useful to the application (who leads, what role we play); never persisted. */
export interface SoftState {
  lead: bigint;
  raftState: StateType;
}

/**
 * Membership. `votersOutgoing` is non-empty only while in a joint configuration; `learnersNext` are
 * voters of the outgoing config that become learners when the joint config is left.
 */
export interface ConfState {
  voters: bigint[];
  learners: bigint[];
  votersOutgoing: bigint[];
  learnersNext: bigint[];
  autoLeave: boolean;
}

/** Position and membership a snapshot stands for. */
export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

/** Application state as of `metadata.index`. */
export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

/** Message kinds, numbered as in etcd's raftpb.MessageType. */
export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

/** A message between raft nodes (or from the application into its own node). */
export interface Message {
  type: MessageType;
  to: bigint;
  from: bigint;
  term: number;
  /** Term of the entry at `index` (MsgApp), or of the last log entry (votes), or a rejection hint. */
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  context: Uint8Array;
}

/** Answer to a `readIndex` request: reads are linearizable once the state machine applied `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

/** Kinds of a single membership change. Values match etcd's ConfChangeType. */
export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  UpdateNode = 2,
  AddLearnerNode = 3,
}

/** Classic one-node membership change (etcd's raftpb.ConfChange). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: bigint;
  context: Uint8Array;
  /** Opaque id carried for the application (etcd's ConfChange.ID); raft ignores it. */
  id?: bigint;
}

/** How a {@link ConfChangeV2} moves through joint consensus. */
export enum ConfChangeTransition {
  /** Simple change if possible (one voter changed), otherwise joint with automatic leave. */
  Auto = 0,
  /** Always joint; raft proposes the leave itself once the joint config is applied. */
  JointImplicit = 1,
  /** Always joint; the application must propose an empty ConfChangeV2 to leave. */
  JointExplicit = 2,
}

/** One change inside a {@link ConfChangeV2}. */
export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: bigint;
}

/** Membership change of any number of nodes; an empty one (no changes) leaves a joint configuration. */
export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context: Uint8Array;
}

/** A node to bootstrap a new cluster with. */
export interface Peer {
  id: bigint;
  context?: Uint8Array;
}

/** The "no node" id (etcd's raft.None). */
export const NONE = 0n;

/**
 * A node id as etcd prints it in logs (`%x`, like etcd's `types.ID`): lower-case hex, no padding.
 *
 * @example
 * ```ts
 * fmtId(0x8e9e05c52164694dn); // '8e9e05c52164694d'
 * ```
 */
export function fmtId(id: bigint): string {
  return id.toString(16);
}

/** A ConfState for logs: ids in hex, as etcd's raft prints them. */
export function fmtConfState(cs: ConfState): string {
  const list = (ids: bigint[]) => ids.map(fmtId).join(' ');
  return `voters=(${list(cs.voters)}) votersOutgoing=(${list(cs.votersOutgoing)}) learners=(${list(cs.learners)}) learnersNext=(${list(cs.learnersNext)}) autoLeave=${cs.autoLeave}`;
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** An empty ConfState. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** An empty snapshot (index 0). */
export function emptySnapshot(): Snapshot {
  return { data: EMPTY_BYTES, metadata: { confState: emptyConfState(), index: 0, term: 0 } };
}

/** True when the snapshot carries no state (index 0). */
export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0n && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Builds a message with every field present; callers set what they need. */
export function makeMessage(fields: Partial<Message> & { type: MessageType }): Message {
  // Explicit construction (no object spread): this runs for every message on the hot path.
  const m: Message = {
    type: fields.type,
    to: fields.to ?? NONE,
    from: fields.from ?? NONE,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY_BYTES,
  };
  if (fields.snapshot) m.snapshot = fields.snapshot;
  return m;
}

/** Builds an entry; defaults to a Normal entry with no data. */
export function makeEntry(fields: Partial<Entry>): Entry {
  return { term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES, ...fields };
}

/** Messages the application raises on its own node; they never travel between nodes. */
export function isLocalMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

/** Responses from peers; stepping one from an unknown peer is an error. */
export function isResponseMessage(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

/** The response type matching a vote request type. */
export function voteResponseType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** Size used for byte limits (maxSizePerMsg, uncommitted size): payload plus a small fixed overhead. */
export function entrySize(e: Entry): number {
  return entrySizeOfData(e.data.length);
}

/** {@link entrySize} of an entry with `dataLength` bytes of payload. */
export function entrySizeOfData(dataLength: number): number {
  return dataLength + 24;
}

/** Bytes of payload in `ents` (what the uncommitted-size limit counts). */
export function payloadSize(ents: readonly Entry[]): number {
  let n = 0;
  for (const e of ents) n += e.data.length;
  return n;
}

/**
 * Returns the longest prefix of `ents` whose total size stays within `maxSize`, but never fewer than one
 * entry (so progress is always possible).
 */
export function limitSize(ents: Entry[], maxSize: number | undefined): Entry[] {
  if (ents.length === 0 || maxSize === undefined || maxSize === Number.POSITIVE_INFINITY) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
