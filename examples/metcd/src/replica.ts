/**
 * One metcd member: a @kv/raft RawNode and the Ready loop that drives it. Each Ready is handled in the
 * order raft requires (see packages/raft/README.md):
 *
 *   1. persist its snapshot, entries and hard state (fsync)      -> RaftDisk.persist
 *   2. send its messages                                         -> HttpTransport.send
 *   3. install its snapshot and apply its committed entries      -> KvStore, applyConfChange
 *   4. advance(), then take a snapshot if enough was applied     -> RaftDisk.createSnapshot
 *
 * Clients wait for their entry to be applied: a write is answered only once a quorum stored it and this
 * member applied it.
 */
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  decodeConfChangeV2,
  type Entry,
  EntryType,
  type Message,
  ProposalDroppedError,
  RawNode,
  type Ready,
  type Snapshot,
  StateType,
  StepLocalMessageError,
  StepPeerNotFoundError,
} from '@kv/raft';
import type { Logger } from '@kv/server';
import { type Command, decodeCommand, encodeCommand, newRequestId } from './command.js';
import type { KvStore } from './kv-store.js';
import type { NodeId } from './node-id.js';
import type { RaftDisk } from './raft-disk.js';
import { decodeSnapshotData, encodeSnapshotData } from './snapshot-data.js';
import type { HttpTransport } from './transport.js';

/** Raft and snapshot settings of a member. */
export interface ReplicaOptions {
  id: NodeId;
  /** Founding members and their peer URLs (from `--cluster`). */
  peers: Map<NodeId, string>;
  /** Joining an existing cluster: do not bootstrap, wait for the leader to send the log. */
  join: boolean;
  electionTicks: number;
  heartbeatTicks: number;
  /** Take a snapshot (and compact) after this many applied entries. */
  snapshotCount: number;
  /** How long a client waits for its proposal to be applied. */
  proposalTimeoutMs: number;
  logger: Logger;
}

/** No leader is known right now; the client should retry shortly. */
export class NoLeaderError extends Error {
  override readonly name = 'NoLeaderError';
}

/** The proposal was not applied in time (it may still be applied later: the outcome is unknown). */
export class ProposalTimeoutError extends Error {
  override readonly name = 'ProposalTimeoutError';
}

/** A membership request that cannot be right: adding a member twice, removing a stranger. */
export class MembershipError extends Error {
  override readonly name = 'MembershipError';
}

/** The application's part of a conf change: the new member's URL and who is waiting for it. */
interface ConfChangeContext {
  url?: string;
  request?: string;
}

interface Waiter<T = void> {
  resolve(value: T): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Counters for `/status` (the end-to-end test reads them to tell log catch-up from snapshot catch-up). */
export interface ReplicaStats {
  snapshotsTaken: number;
  snapshotsInstalled: number;
}

/**
 * A replicated key-value member.
 *
 * @example
 * ```ts
 * const replica = await Replica.start(options, disk, store, transport);
 * setInterval(() => replica.tick(), 100);
 * await replica.put(utf8('hello'), utf8('world')); // resolves once applied here
 * ```
 */
export class Replica {
  readonly node: RawNode;
  readonly stats: ReplicaStats = { snapshotsTaken: 0, snapshotsInstalled: 0 };
  /** Called once this member has applied its own removal. */
  onRemoved: () => void = () => {};
  /** Called when the loop cannot go on (a disk write failed): the process must stop. */
  onFatal: (e: Error) => void = () => {};

  private readonly log: Logger;
  private readonly waiters = new Map<string, Waiter>();
  /** Linearizable reads waiting for raft to confirm a read index, by request context (hex). */
  private readonly readIndexWaiters = new Map<string, Waiter<number>>();
  /** Reads that have their read index and wait for this member to apply up to it. */
  private appliedWaiters: { index: number; resolve(): void }[] = [];
  private running = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private lead: NodeId | undefined;
  private confState: ConfState;
  /** Index of the last entry this member has applied (or skipped as already in the engine). */
  private applied: number;
  /** The engine already holds every entry up to here (a persistent engine across a restart). */
  private engineHolds: number;
  private snapshotIndex: number;
  private confChangedSinceSnapshot = false;
  private removed = false;

  private constructor(
    private readonly opts: ReplicaOptions,
    private readonly disk: RaftDisk,
    private readonly store: KvStore,
    private readonly transport: HttpTransport,
  ) {
    this.log = opts.logger;
    const snap = disk.snapshot();
    this.snapshotIndex = snap.metadata.index;
    this.applied = snap.metadata.index;
    this.engineHolds = store.appliedIndex();
    this.confState = disk.storage.initialState().confState;
    this.node = new RawNode({
      id: opts.id,
      electionTick: opts.electionTicks,
      heartbeatTick: opts.heartbeatTicks,
      storage: disk.storage,
      // Raft hands out committed entries after `applied` again; conf changes among them must be replayed
      // into raft (its membership starts from the snapshot's), data entries the engine holds are skipped.
      applied: snap.metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      maxUncommittedEntriesSize: 64 * 1024 * 1024,
      checkQuorum: true,
      preVote: true,
      readOnlyOption: 'safe',
      disableProposalForwarding: false,
      logger: {
        debug: (msg) => this.log.debug(msg, { component: 'raft' }),
        info: (msg) => this.log.info(msg, { component: 'raft' }),
        warn: (msg) => this.log.warn(msg, { component: 'raft' }),
      },
    });
  }

  /**
   * Builds the member from what is on disk: restores the engine from the newest snapshot if the engine is
   * behind it, bootstraps a brand-new founding member, and starts handling Readys.
   */
  static async start(
    opts: ReplicaOptions,
    disk: RaftDisk,
    store: KvStore,
    transport: HttpTransport,
  ): Promise<Replica> {
    for (const [id, url] of opts.peers) transport.setPeer(id, url);
    const snap = disk.snapshot();
    if (snap.metadata.index > 0) {
      const data = decodeSnapshotData(snap.data);
      for (const [id, url] of data.peers) transport.setPeer(id, url);
      if (store.appliedIndex() < snap.metadata.index) await store.restore(data.engine, snap.metadata.index);
    }
    const r = new Replica(opts, disk, store, transport);
    if (!disk.restarted && !opts.join) {
      r.node.bootstrap([...opts.peers].map(([id, url]) => ({ id, context: encodeContext({ url }) })));
    }
    r.log.info('member started', {
      restarted: disk.restarted,
      join: opts.join,
      snapshotIndex: snap.metadata.index,
      engineApplied: store.appliedIndex(),
      lastIndex: disk.storage.lastIndex(),
    });
    r.kick();
    return r;
  }

  /** One clock tick (call every tick interval). */
  tick(): void {
    this.node.tick();
    this.kick();
  }

  /** Feeds a message from a peer into raft. */
  step(m: Message): void {
    if (m.to !== this.opts.id || this.stopped) return;
    try {
      this.node.step(m);
    } catch (e) {
      // Local-only types and responses from non-members are harmless (raft's own advice: log and drop).
      if (!(e instanceof StepLocalMessageError || e instanceof StepPeerNotFoundError)) throw e;
      this.log.debug('dropped raft message', {
        type: m.type,
        from: String(m.from),
        reason: (e as Error).name,
      });
    }
    this.kick();
  }

  /** The transport could not deliver to `id`. */
  reportUnreachable(id: NodeId): void {
    this.node.reportUnreachable(id);
    this.kick();
  }

  /** The transport delivered (or failed to deliver) a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.node.reportSnapshot(id, ok);
    this.kick();
  }

  /** Replicates `key = value`; resolves once applied on this member. */
  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.proposeCommand({ op: 'put', requestId: newRequestId(), key, value });
  }

  /** Replicates the deletion of `key`; resolves once applied on this member. */
  delete(key: Uint8Array): Promise<void> {
    return this.proposeCommand({ op: 'delete', requestId: newRequestId(), key });
  }

  /** Reads `key` from this member's applied state (like raftexample: serializable, possibly stale). */
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(key);
  }

  /**
   * Reads `key` linearizably: raft's ReadIndex gives the leader's commit index once a heartbeat quorum
   * confirmed it still leads; once this member has applied up to that index, its local state includes
   * every write acknowledged before the read started.
   */
  async getLinearizable(key: Uint8Array): Promise<Uint8Array | undefined> {
    const index = await this.readIndex();
    if (this.applied < index) {
      await new Promise<void>((resolve) => this.appliedWaiters.push({ index, resolve }));
    }
    return this.store.get(key);
  }

  /** Adds a voting member reachable at `url`; resolves once the change is applied here. */
  addMember(id: NodeId, url: string): Promise<void> {
    if (this.isMember(id)) throw new MembershipError(`member ${String(id)} is already in the cluster`);
    return this.proposeConfChange(
      { type: ConfChangeType.AddNode, nodeId: id, context: new Uint8Array() },
      url,
    );
  }

  /** Removes a member; resolves once the change is applied here. */
  removeMember(id: NodeId): Promise<void> {
    if (!this.isMember(id)) throw new MembershipError(`member ${String(id)} is not in the cluster`);
    return this.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array() });
  }

  /** What `/status` shows. Ids are strings so the JSON stays exact for 64-bit ids. */
  status(): Record<string, unknown> {
    const s = this.node.status();
    return {
      id: String(this.opts.id),
      leader: String(s.softState.lead),
      state: StateType[s.softState.raftState],
      term: s.hardState.term,
      commit: s.hardState.commit,
      applied: this.applied,
      snapshotIndex: this.snapshotIndex,
      firstLogIndex: this.disk.storage.firstIndex(),
      lastLogIndex: this.disk.storage.lastIndex(),
      walSegments: this.disk.walSegments().length,
      engine: this.store.engine,
      voters: this.confState.voters.map(String),
      learners: this.confState.learners.map(String),
      peers: Object.fromEntries([...this.transport.urls()].map(([id, url]) => [String(id), url])),
      ...this.stats,
    };
  }

  /** Stops ticking work, waits for the Ready being handled, fails waiting clients. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loopDone;
    for (const pending of [this.waiters, this.readIndexWaiters] as Map<string, Waiter<never>>[]) {
      for (const w of pending.values()) {
        clearTimeout(w.timer);
        w.reject(new ProposalTimeoutError('member stopping'));
      }
      pending.clear();
    }
  }

  private readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new NoLeaderError('member is stopping'));
    const ctx = newRequestId();
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readIndexWaiters.delete(ctx);
        reject(new ProposalTimeoutError(`no read index within ${this.opts.proposalTimeoutMs} ms`));
      }, this.opts.proposalTimeoutMs);
      this.readIndexWaiters.set(ctx, { resolve, reject, timer });
    });
    this.node.readIndex(Buffer.from(ctx, 'hex'));
    this.kick();
    return done;
  }

  private isMember(id: NodeId): boolean {
    return this.confState.voters.includes(id) || this.confState.learners.includes(id);
  }

  private proposeCommand(cmd: Command): Promise<void> {
    return this.propose(cmd.requestId, () => this.node.propose(encodeCommand(cmd)));
  }

  private proposeConfChange(cc: ConfChange, url?: string): Promise<void> {
    const request = newRequestId();
    const context = encodeContext(url === undefined ? { request } : { url, request });
    return this.propose(request, () => this.node.proposeConfChange({ ...cc, context }));
  }

  /** Registers a waiter for `requestId`, hands the proposal to raft, and returns the wait. */
  private propose(requestId: string, proposeToRaft: () => void): Promise<void> {
    if (this.stopped) return Promise.reject(new NoLeaderError('member is stopping'));
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(requestId);
        reject(new ProposalTimeoutError(`not applied within ${this.opts.proposalTimeoutMs} ms`));
      }, this.opts.proposalTimeoutMs);
      this.waiters.set(requestId, { resolve, reject, timer });
    });
    try {
      proposeToRaft();
    } catch (e) {
      clearTimeout(this.waiters.get(requestId)?.timer);
      this.waiters.delete(requestId);
      if (e instanceof ProposalDroppedError) return Promise.reject(new NoLeaderError(e.message));
      return Promise.reject(e);
    }
    this.kick();
    return done;
  }

  private finish(requestId: string | undefined): void {
    if (requestId === undefined) return;
    const w = this.waiters.get(requestId);
    if (!w) return; // proposed by another member, or timed out
    clearTimeout(w.timer);
    this.waiters.delete(requestId);
    w.resolve();
  }

  /** Starts the Ready loop unless it is running (it re-checks hasReady() before it stops). */
  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loopDone = this.runLoop();
  }

  private async runLoop(): Promise<void> {
    try {
      while (!this.stopped && this.node.hasReady()) await this.handleReady(this.node.ready());
    } catch (e) {
      this.stopped = true;
      this.log.error('ready loop failed; stopping', { error: e });
      this.onFatal(e as Error);
    } finally {
      this.running = false;
    }
  }

  // --- The Ready loop ------------------------------------------------------------------------------

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState && rd.softState.lead !== this.lead) {
      this.lead = rd.softState.lead;
      this.log.info('leader changed', { leader: String(rd.softState.lead), term: rd.hardState?.term });
    }
    // 1. Durable before anything else: a vote or an acknowledged entry must survive a crash.
    await this.disk.persist(rd);
    // 2. Only now may messages leave (followers acknowledge what is on disk).
    this.transport.send(rd.messages);
    // 3. Apply: first a snapshot from the leader (it replaces the whole state), then committed entries.
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    await this.applyEntries(rd.committedEntries);
    // Reads: a confirmed read index is served once this member has applied up to it.
    for (const rs of rd.readStates)
      this.readIndexConfirmed(Buffer.from(rs.requestCtx).toString('hex'), rs.index);
    this.releaseAppliedWaiters();
    // 4. Tell raft this Ready is handled, then compact if it is time.
    this.node.advance();
    await this.maybeSnapshot();
    if (this.removed) {
      this.stopped = true;
      this.onRemoved();
    }
  }

  private readIndexConfirmed(ctx: string, index: number): void {
    const w = this.readIndexWaiters.get(ctx);
    if (!w) return;
    clearTimeout(w.timer);
    this.readIndexWaiters.delete(ctx);
    w.resolve(index);
  }

  private releaseAppliedWaiters(): void {
    if (this.appliedWaiters.length === 0) return;
    const ready = this.appliedWaiters.filter((w) => w.index <= this.applied);
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > this.applied);
    for (const w of ready) w.resolve();
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    const { index } = snap.metadata;
    const data = decodeSnapshotData(snap.data);
    await this.store.restore(data.engine, index);
    for (const id of this.transport.urls().keys()) {
      if (id !== this.opts.id && !data.peers.has(id)) this.transport.removePeer(id);
    }
    for (const [id, url] of data.peers) this.transport.setPeer(id, url);
    this.confState = snap.metadata.confState;
    this.applied = index;
    this.engineHolds = index;
    this.snapshotIndex = index;
    this.stats.snapshotsInstalled++;
    this.log.info('installed snapshot from leader', { index, term: snap.metadata.term });
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const commands: Command[] = [];
    const finished: (string | undefined)[] = [];
    for (const e of entries) {
      if (e.type === EntryType.Normal) {
        // Empty entries are the ones a new leader appends; entries the engine holds were applied before a restart.
        if (e.data.length === 0 || e.index <= this.engineHolds) continue;
        const cmd = decodeCommand(e.data);
        commands.push(cmd);
        finished.push(cmd.requestId);
      } else {
        finished.push(this.applyConfChange(e));
      }
    }
    const last = entries[entries.length - 1]!.index;
    // One atomic engine batch per Ready: the effects and the applied index land together.
    if (last > this.store.appliedIndex()) await this.store.apply(last, commands);
    this.applied = last;
    for (const id of finished) this.finish(id);
  }

  /** Applies a conf-change entry to raft and to the peer set; returns the waiting request's id. */
  private applyConfChange(e: Entry): string | undefined {
    if (e.type === EntryType.ConfChangeV2) {
      // metcd proposes only simple changes; a V2 entry still has to reach raft's configuration.
      this.confState = this.node.applyConfChange(decodeConfChangeV2(e.data));
      this.confChangedSinceSnapshot = true;
      return undefined;
    }
    const cc = decodeConfChange(e.data);
    this.confState = this.node.applyConfChange(cc);
    this.confChangedSinceSnapshot = true;
    const ctx = decodeContext(cc.context);
    if (cc.type === ConfChangeType.AddNode || cc.type === ConfChangeType.AddLearnerNode) {
      if (ctx.url) this.transport.setPeer(cc.nodeId, ctx.url);
      this.log.info('member added', { member: String(cc.nodeId), url: ctx.url, index: e.index });
    } else if (cc.type === ConfChangeType.RemoveNode) {
      if (cc.nodeId === this.opts.id) this.removed = true;
      else this.transport.removePeer(cc.nodeId);
      this.log.info('member removed', { member: String(cc.nodeId), index: e.index });
    }
    return ctx.request;
  }

  /**
   * Snapshots every `snapshotCount` applied entries, and after a membership change (a new member is sent
   * a snapshot only if its configuration includes that member; raft ignores one that does not).
   */
  private async maybeSnapshot(): Promise<void> {
    const due = this.applied - this.snapshotIndex >= this.opts.snapshotCount || this.confChangedSinceSnapshot;
    // The engine must hold exactly the state at `applied` (not more, as after a restart mid-replay).
    if (!due || this.applied <= this.snapshotIndex || this.applied < this.engineHolds) return;
    const engine = await this.store.snapshot();
    const data = encodeSnapshotData({ peers: this.transport.urls(), engine });
    await this.disk.createSnapshot(this.applied, this.confState, data);
    this.snapshotIndex = this.applied;
    this.confChangedSinceSnapshot = false;
    this.stats.snapshotsTaken++;
    this.log.info('snapshot taken; log compacted', {
      index: this.applied,
      firstLogIndex: this.disk.storage.firstIndex(),
      walSegments: this.disk.walSegments().length,
    });
  }
}

function encodeContext(ctx: ConfChangeContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(ctx));
}

/** Conf changes proposed by other tools may carry no (or other) context: treat it as empty. */
function decodeContext(bytes: Uint8Array): ConfChangeContext {
  if (bytes.length === 0) return {};
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as ConfChangeContext;
    return typeof v === 'object' && v !== null ? v : {};
  } catch {
    return {};
  }
}
