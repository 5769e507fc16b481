/**
 * The server core: one raft node driven by a loop in the shape of etcd's raftNode + EtcdServer.
 *
 * - Proposals made during one event-loop turn land in one Ready (they are all `propose()`d before the
 *   loop runs on `setImmediate`).
 * - Each Ready: hard state + entries go to the WAL with ONE `save` (one fdatasync), are appended to
 *   raft's MemoryStorage, messages are sent (single member: none), committed entries are applied in
 *   order, waiters are resolved by request id, then `advance()`.
 * - Linearizable reads share ReadIndex rounds; each round resolves once the applied index reaches it.
 *   A leader that is the only voter takes raft's commit index directly (what raft would answer).
 * - Committed entries already persisted by an earlier Ready are applied while the current one is
 *   fsynced (one fsync per acknowledged write, not two).
 * - Every `snapshotCount` applied entries: the store is flushed, a snapshot file written, the WAL
 *   marked and released, raft's log compacted.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmRequest_AlarmAction, AlarmType as PbAlarmType } from '@kv/client/api';
import {
  type ConfChange,
  ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  encodeConfChange,
  type HardState,
  MemoryStorage,
  type Message,
  ProposalDroppedError,
  RawNode,
  type Ready,
  type Snapshot,
  StateType,
} from '@kv/raft';
import { Snapshotter, Wal } from '@kv/wal';
import { AuthStore } from '../auth/store.js';
import { createTokenProvider } from '../auth/tokens/parse.js';
import { ConfigError, type ServerConfig } from '../config/parse.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { AlarmType, Applier, type ApplyResult } from './apply.js';
import { decodeInternalRequest, encodeInternalRequest, type InternalRequest } from './envelope.js';
import { Errors, type EtcdError } from './errors.js';
import { computeClusterId, computeMemberId, IdGenerator, idHex } from './ids.js';
import { Lessor } from './lessor.js';
import { type ConfChangeContext, type Member, Membership } from './membership.js';
import {
  BackendQuota,
  effectiveQuotaBytes,
  humanBytes,
  MAX_QUOTA_BYTES,
  type QuotaRequest,
  quotaCost,
} from './quota.js';
import { decodeSnapshotFile, encodeSnapshotFile, type SnapshotPayload } from './snapshot-file.js';
import { type KvStore, openKvStore } from './store.js';

/** Version strings reported to clients (etcdctl and clientv3 check them). */
export const SERVER_VERSION = '3.4.23';
export const CLUSTER_VERSION = '3.4.0';

/** Options beyond the etcd configuration. */
export interface EtcdServerOptions {
  config: ServerConfig;
  logger: Logger;
  metrics: ServerMetrics;
  /** Skip fsync in the WAL (tests only; data is not durable). */
  unsafeNoFsync?: boolean;
  /** Interval of the revision-mode auto compactor check (ms); etcd uses 5 minutes. */
  revisionCompactionCheckMs?: number;
}

interface ReadRound {
  ctx: string;
  waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
  index: number;
  issuedAt: number;
}

/** Raft messages leave through this hook (peer transport arrives in a later issue). */
export type MessageSender = (msgs: Message[]) => void;

/** etcd's request timeout: 5 s + 2 × election timeout. */
const requestTimeoutMs = (cfg: ServerConfig) => 5000 + 2 * cfg.electionMs;

/** Applied entries a lone voter keeps in raft's memory before dropping them (see maybeCompactLoneLog). */
const LONE_LOG_KEEP = 1000;

/** The kv server core. */
export class EtcdServer extends EventEmitter {
  readonly memberId: number;
  readonly membership: Membership;
  readonly lessor: Lessor;
  readonly applier: Applier;
  readonly idGen: IdGenerator;
  /** Leader id (0: none known). */
  leaderId = 0;
  term = 0;
  appliedIndex = 0;
  committedIndex = 0;
  private snapshotIndex = 0;
  private confState: ConfState | undefined;
  private stopped = false;
  /**
   * Proposals waiting for their apply result, in registration order. Every waiter has the same
   * timeout, so insertion order is deadline order and one timer (armed for the oldest waiter) replaces a
   * setTimeout + clearTimeout pair per request.
   */
  private readonly wait = new Map<
    number,
    { resolve: (r: ApplyResult) => void; reject: (e: unknown) => void; deadline: number }
  >();
  private waitTimer: NodeJS.Timeout | undefined;
  /** The waiter the timer was armed for: it has waited the full timeout when the timer fires. */
  private waitTimerFor = 0;
  private loopScheduled = false;
  private loopRunning = false;
  private readonly loopIdle: Array<() => void> = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  private readonly queuedReads: ReadRound['waiters'] = [];
  private readRound: ReadRound | undefined;
  private readCounter = 0;
  private readonly readyReads: ReadRound[] = [];
  /** Proposals dropped while there was no leader; retried when one appears. */
  private readonly droppedProposals: Array<{ id: number; data: Uint8Array }> = [];
  /**
   * Proposals made since the loop last ran (ids and entry data, index for index). The loop steps them
   * into raft as one batch: one MsgProp and one log append per turn instead of one per request.
   */
  private queuedIds: number[] = [];
  private queuedData: Uint8Array[] = [];
  /** The leader has applied an entry of its own term (ReadIndex is answered only then). */
  private leaderCommittedInTerm = false;
  private readonly appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  private sender: MessageSender = () => {};
  private snapshotInProgress = false;
  /** Tail of the apply pipeline. */
  private applying: Promise<void> = Promise.resolve();
  /** A commit-only hard state not yet written (see handleReady). */
  private pendingHardState: HardState | undefined;
  private snapshotRunning: Promise<void> = Promise.resolve();
  /** Campaign at once when this member is the only voter (etcd fast-forwards its election ticks). */
  private fastForwardCampaign = false;
  private readonly log: Logger;

  private constructor(
    readonly cfg: ServerConfig,
    readonly opts: EtcdServerOptions,
    readonly store: KvStore,
    private readonly node: RawNode,
    private readonly raftStorage: MemoryStorage,
    private readonly wal: Wal,
    private readonly snapshotter: Snapshotter,
    memberId: number,
    membership: Membership,
    lessor: Lessor,
    readonly auth: AuthStore,
  ) {
    super();
    this.log = opts.logger;
    this.memberId = memberId;
    this.membership = membership;
    this.lessor = lessor;
    this.idGen = new IdGenerator(memberId);
    this.applier = new Applier(store, lessor, opts.metrics, auth);
  }

  get metrics(): ServerMetrics {
    return this.opts.metrics;
  }

  get clusterId(): number {
    return this.membership.clusterId;
  }

  get isLeader(): boolean {
    return this.leaderId === this.memberId;
  }

  /** The raft status used by Maintenance.Status. */
  raftStatus(): { term: number; commit: number; applied: number; lead: number } {
    return { term: this.term, commit: this.committedIndex, applied: this.appliedIndex, lead: this.leaderId };
  }

  /**
   * Opens (or creates) the member's data directory and starts the raft loop; resolves once the node is
   * running (not necessarily leader yet; see {@link waitLeader}).
   */
  static async start(opts: EtcdServerOptions): Promise<EtcdServer> {
    const cfg = opts.config;
    const log = opts.logger;
    const memberDir = join(cfg.dataDir, 'member');
    const walDir = cfg.walDir || join(memberDir, 'wal');
    const snapDir = join(memberDir, 'snap');
    const haveWal = Wal.exists(walDir);
    if (!haveWal && cfg.initialClusterState === 'existing') {
      // Joining an existing cluster needs its member list from the peers, over the peer transport,
      // which kv-server does not have yet: fail like etcd does when no peer answers, and before
      // creating anything, instead of silently founding a new one-member cluster.
      throw new ConfigError(
        'cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs',
      );
    }
    mkdirSync(snapDir, { recursive: true });
    const snapshotter = new Snapshotter(snapDir);
    const started = Date.now();
    const store = await openKvStore(cfg.backend, join(snapDir, 'db'), cfg);
    log.info('opened backend db', {
      path: join(snapDir, 'db'),
      took: `${Date.now() - started}ms`,
      engine: cfg.backend,
    });
    // Auth state lives in the backend's auth buckets; replicated entries change it in apply.
    const auth = await AuthStore.open(store, {
      tokenProvider: createTokenProvider(cfg.authToken, { simpleTtlSeconds: cfg.authTokenTtl }),
    });
    const electionTick = Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
    const raftStorage = new MemoryStorage();
    let wal: Wal;
    let memberId: number;
    let membership: Membership;
    let node: RawNode;
    /** Raft index of the snapshot the member restarts from (0 for a new member). */
    let snapshotIndex = 0;
    let confState: ConfState | undefined;
    const selfPeerUrls = cfg.initialAdvertisePeerUrls.map((u) => u.origin);
    if (!haveWal) {
      // New member of a new cluster: ids from the initial cluster, like etcd.
      const members: Member[] = [];
      for (const [name, urls] of cfg.initialCluster) {
        members.push({
          id: computeMemberId(urls, cfg.initialClusterToken),
          name,
          peerURLs: urls,
          clientURLs: name === cfg.name ? cfg.advertiseClientUrls.map((u) => u.origin) : [],
          isLearner: false,
        });
      }
      memberId = computeMemberId(cfg.initialCluster.get(cfg.name) ?? selfPeerUrls, cfg.initialClusterToken);
      membership = new Membership(computeClusterId(members.map((m) => m.id)));
      const meta = new TextEncoder().encode(JSON.stringify({ memberId, clusterId: membership.clusterId }));
      wal = await Wal.create(walDir, meta, { noSync: opts.unsafeNoFsync ?? false });
      log.info('starting local member', {
        'local-member-id': idHex(memberId),
        'cluster-id': idHex(membership.clusterId),
      });
      node = new RawNode(raftConfig(cfg, memberId, electionTick, raftStorage, 0, log));
      // Bootstrap: one ConfChange per initial member carrying the member as context (like etcd).
      node.bootstrap(
        members.map((m) => ({
          id: m.id,
          context: new TextEncoder().encode(
            JSON.stringify({ requestId: 0, member: m } satisfies ConfChangeContext),
          ),
        })),
      );
    } else {
      // Restart: newest snapshot the WAL has a marker for (a crash between the two writes leaves a
      // marker without a file, never the reverse: the marker is written first) + WAL replay.
      let chosen: Awaited<ReturnType<Snapshotter['loadNewest']>>;
      wal = await Wal.open(
        walDir,
        async (markers) => {
          chosen = await snapshotter.loadNewestAvailable(markers);
          return { index: chosen?.index ?? 0, term: chosen?.term ?? 0 };
        },
        { noSync: opts.unsafeNoFsync ?? false },
      );
      const snapshot = chosen;
      let payload: SnapshotPayload | undefined;
      let raftSnap: Snapshot | undefined;
      if (snapshot) {
        const decoded = decodeSnapshotFile(snapshot.data);
        payload = decoded.payload;
        raftSnap = {
          data: new Uint8Array(0),
          metadata: { index: snapshot.index, term: snapshot.term, confState: decoded.confState },
        };
        if (payload.hasBackendDump && store.consistentIndex() < snapshot.index) {
          await store.restoreBackend(decoded.dump);
          await auth.reload();
        }
      }
      const contents = await wal.readAll();
      const meta = JSON.parse(new TextDecoder().decode(contents.metadata)) as {
        memberId: number;
        clusterId: number;
      };
      memberId = meta.memberId;
      membership = payload ? Membership.fromJSON(payload.membership) : new Membership(meta.clusterId);
      if (raftSnap) raftStorage.applySnapshot(raftSnap);
      raftStorage.setHardState(contents.hardState);
      raftStorage.append(contents.entries as Entry[]);
      log.info('restarting local member', {
        'cluster-id': idHex(membership.clusterId),
        'local-member-id': idHex(memberId),
        'commit-index': contents.hardState.commit,
      });
      snapshotIndex = snapshot?.index ?? 0;
      node = new RawNode(raftConfig(cfg, memberId, electionTick, raftStorage, snapshotIndex, log));
      confState = raftSnap?.metadata.confState;
    }
    const server = new EtcdServer(
      cfg,
      opts,
      store,
      node,
      raftStorage,
      wal,
      snapshotter,
      memberId,
      membership,
      new Lessor(minLeaseTtl(cfg)),
      auth,
    );
    server.appliedIndex = snapshotIndex;
    server.snapshotIndex = snapshotIndex;
    server.confState = confState;
    await server.applier.loadState();
    server.startLoop();
    return server;
  }

  private startLoop(): void {
    const m = this.metrics;
    m.serverId.set(1, { server_id: idHex(this.memberId) });
    m.version.set(1, { server_version: SERVER_VERSION });
    this.announceQuota();
    this.tickTimer = setInterval(() => {
      this.node.tick();
      this.schedule();
    }, this.cfg.heartbeatMs);
    this.tickTimer.unref?.();
    this.fastForwardCampaign = true;
    this.leaseTimer = setInterval(() => {
      this.revokeExpiredLeases();
    }, 500);
    this.leaseTimer.unref?.();
    this.startAutoCompaction();
    this.schedule();
  }

  /** Sets the hook that sends raft messages to peers. */
  setSender(sender: MessageSender): void {
    this.sender = sender;
  }

  /** Steps a message received from a peer. */
  stepPeer(msg: Message): void {
    this.node.step(msg);
    this.schedule();
  }

  /** Resolves once a leader is known. */
  waitLeader(timeoutMs = 30_000): Promise<void> {
    if (this.leaderId !== 0 && (!this.isLeader || this.leaderCommittedInTerm)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('ready-to-serve', done);
        reject(new Error('no leader elected in time'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('ready-to-serve', done);
    });
  }

  private schedule(): void {
    if (this.loopScheduled || this.stopped) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.loopRunning || this.stopped) return;
    this.loopRunning = true;
    try {
      while (!this.stopped) {
        this.flushProposals();
        if (!this.node.hasReady()) break;
        const rd = this.node.ready();
        await this.handleReady(rd);
        this.node.advance();
        this.maybeFastCampaign();
      }
    } catch (err) {
      this.log.error('raft loop failed; stopping', { error: err });
      this.emit('fatal', err);
    } finally {
      this.loopRunning = false;
      for (const f of this.loopIdle.splice(0)) f();
    }
    if (!this.stopped && (this.queuedIds.length > 0 || this.node.hasReady())) this.schedule();
  }

  private maybeFastCampaign(): void {
    if (!this.fastForwardCampaign || this.leaderId !== 0) return;
    const voters = this.confState?.voters ?? [];
    if (voters.length === 0) return; // bootstrap conf changes not applied yet
    this.fastForwardCampaign = false;
    if (voters.length !== 1 || voters[0] !== this.memberId) return;
    this.log.info('started as single-node; fast-forwarding election ticks', {
      'local-member-id': idHex(this.memberId),
    });
    this.node.campaign();
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    if (rd.hardState?.term) this.term = rd.hardState.term;
    for (const rs of rd.readStates) this.onReadState(rs.index, rs.requestCtx);
    const isLeader = this.isLeader;
    // The leader may send before its own fsync (etcd does); followers must persist first.
    if (isLeader && rd.messages.length) this.sender(rd.messages);
    // Committed entries that were persisted by an earlier Ready are applied while this Ready's entries
    // are fsynced (etcd's apply goroutine does the same): a write is then acknowledged one fsync after
    // it was proposed, not two. Entries that are not yet durable here (a follower can learn a commit
    // index beyond its own log; a snapshot replaces the log) are applied only after the save.
    const applyEarly = rd.committedEntries.length > 0 && this.committedArePersisted(rd);
    if (applyEarly) this.dispatchApply(rd.committedEntries);
    if (rd.entries.length || (rd.hardState && rd.mustSync)) {
      // The newest hard state goes along (a stashed commit-only one is superseded by rd.hardState).
      const hs = rd.hardState ?? this.pendingHardState;
      this.pendingHardState = undefined;
      const t0 = process.hrtime.bigint();
      await this.wal.save(hs, rd.entries);
      const took = Number(process.hrtime.bigint() - t0) / 1e9;
      this.metrics.walFsync.observe(took);
      if (this.log.enabled('debug')) {
        this.log.debug('saved ready', {
          entries: rd.entries.length,
          committed: rd.committedEntries.length,
          took,
        });
      }
    } else if (rd.hardState) {
      // Only the commit index moved (raft says no sync needed): an fsync for it alone would double
      // the fsyncs per write, since a lone member commits an entry one Ready after persisting it.
      // It is written with the next save, before a snapshot marker, and at stop; losing it in a crash
      // only makes raft re-commit entries the consistent index then skips.
      this.pendingHardState = rd.hardState;
    }
    if (rd.snapshot && rd.snapshot.metadata.index > 0) this.raftStorage.applySnapshot(rd.snapshot);
    if (rd.hardState) this.raftStorage.setHardState(rd.hardState);
    if (rd.entries.length) this.raftStorage.append(rd.entries);
    if (!isLeader && rd.messages.length) this.sender(rd.messages);
    if (rd.hardState) this.committedIndex = Math.max(this.committedIndex, rd.hardState.commit);
    this.metrics.proposalsCommitted.set(this.committedIndex);
    if (rd.committedEntries.length === 0) return;
    if (!applyEarly) this.dispatchApply(rd.committedEntries);
    // A ConfChange must be applied before raft hands out more work.
    if (rd.committedEntries.some((e) => e.type !== EntryType.Normal)) await this.applying;
  }

  /** Whether every committed entry of this Ready was persisted by an earlier Ready. */
  private committedArePersisted(rd: Ready): boolean {
    if (rd.snapshot && rd.snapshot.metadata.index > 0) return false;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1]!.index;
    if (rd.entries.length > 0 && lastCommitted >= rd.entries[0]!.index) return false;
    return lastCommitted <= this.raftStorage.lastIndex();
  }

  /** Queues entries on the apply pipeline (applied in order, one batch after another). */
  private dispatchApply(entries: readonly Entry[]): void {
    this.applying = this.applying.then(() => this.applyEntries(entries));
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    try {
      for (const e of entries) await this.applyEntry(e);
    } catch (err) {
      this.log.error('apply failed; stopping', { error: err });
      this.emit('fatal', err);
      return;
    }
    this.metrics.proposalsApplied.set(this.appliedIndex);
    this.metrics.proposalsPending.set(this.wait.size);
    this.checkReadRounds();
    this.maybeSnapshot();
    this.maybeCompactLoneLog();
  }

  /**
   * A lone voter keeps no raft log for followers, so applied entries leave raft's memory every
   * {@link LONE_LOG_KEEP} entries instead of at the next snapshot (`--snapshot-count`, 100 000 by
   * default). Kept until the snapshot, every entry outlives two young-generation collections and is
   * promoted: the old generation then fills with them and V8's full collections, which pause the loop
   * for tens of milliseconds, come several times as often (measured: the main source of kv's p99).
   * Not during a snapshot, which records the term of the index it started at.
   */
  private maybeCompactLoneLog(): void {
    if (this.snapshotInProgress || this.appliedIndex - this.raftStorage.firstIndex() < LONE_LOG_KEEP) return;
    const cs = this.confState;
    if (cs?.voters.length !== 1 || cs.voters[0] !== this.memberId) return;
    if (cs.learners.length > 0 || cs.votersOutgoing.length > 0 || this.membership.members.size > 1) return;
    this.raftStorage.compact(this.appliedIndex);
  }

  private onSoftState(lead: number, state: StateType): void {
    if (lead !== this.leaderId) {
      const wasLeader = this.isLeader;
      if (lead !== 0) this.metrics.leaderChanges.inc();
      this.leaderId = lead;
      this.leaderCommittedInTerm = false;
      this.metrics.hasLeader.set(lead !== 0 ? 1 : 0);
      this.metrics.isLeader.set(state === StateType.Leader ? 1 : 0);
      if (lead !== 0) {
        this.log.info(
          `raft.node: ${idHex(this.memberId)} elected leader ${idHex(lead)} at term ${this.node.status().hardState.term}`,
        );
      } else {
        this.log.info(`raft.node: ${idHex(this.memberId)} lost leader at term ${this.term}`);
      }
      if (state === StateType.Leader) this.lessor.promote(this.cfg.electionMs);
      else if (wasLeader) this.lessor.demote();
      if (lead !== 0) this.retryDroppedProposals();
      this.emit('leader', lead);
    }
  }

  private async applyEntry(e: Entry): Promise<void> {
    if (e.index <= this.appliedIndex) return;
    if (e.type === EntryType.Normal) {
      if (e.data.length === 0) {
        // The empty entry a new leader appends: the leader has committed in its term.
        if (e.term === this.term && this.isLeader) this.markLeaderReady();
      } else if (e.index <= this.store.consistentIndex()) {
        // Replayed after a restart: its effects are already in the backend (the applier would skip
        // it too), so do not even decode it. Nobody waits on it: proposals made by this process are
        // always above the consistent index it restarted with.
      } else {
        let req: InternalRequest;
        try {
          req = decodeInternalRequest(e.data);
        } catch (err) {
          this.log.error('cannot decode raft entry; skipped', { index: e.index, error: err });
          this.appliedIndex = e.index;
          return;
        }
        const result = await this.applier.apply(req, e.index);
        const id = req.header?.ID || req.ID || 0;
        this.trigger(id, result);
      }
    } else if (e.type === EntryType.ConfChange) {
      this.applyConfChange(decodeConfChange(e.data), e.index);
    } else {
      this.log.warn('ConfChangeV2 entries are not used by kv-server; skipped', { index: e.index });
    }
    this.appliedIndex = e.index;
    if (this.isLeader && e.term === this.term && !this.leaderCommittedInTerm) this.markLeaderReady();
    while (this.appliedWaiters.length && this.appliedWaiters[0]!.index <= this.appliedIndex)
      this.appliedWaiters.shift()!.resolve();
  }

  private markLeaderReady(): void {
    if (this.leaderCommittedInTerm) return;
    this.leaderCommittedInTerm = true;
    this.emit('ready-to-serve');
    this.flushReads();
  }

  private applyConfChange(cc: ConfChange, index: number): void {
    let ctx: ConfChangeContext | undefined;
    if (cc.context.length) {
      try {
        ctx = JSON.parse(new TextDecoder().decode(cc.context)) as ConfChangeContext;
      } catch {
        ctx = undefined;
      }
    }
    const member = ctx?.member;
    let err: EtcdError | undefined;
    // Validate against the current membership (etcd's ValidateConfigurationChange) before raft sees it.
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode:
        if (this.membership.removed.has(cc.nodeId)) err = Errors.memberNotFound();
        else if (this.membership.get(cc.nodeId) && cc.type === ConfChangeType.AddLearnerNode)
          err = Errors.memberExist();
        else if (
          this.membership.get(cc.nodeId) &&
          cc.type === ConfChangeType.AddNode &&
          !this.membership.get(cc.nodeId)!.isLearner
        )
          err = Errors.memberExist();
        break;
      case ConfChangeType.RemoveNode:
      case ConfChangeType.UpdateNode:
        if (!this.membership.get(cc.nodeId)) err = Errors.memberNotFound();
        break;
    }
    if (err) {
      // Like etcd: a rejected change is applied as a no-op so raft's config stays consistent.
      this.confState = this.node.applyConfChange({ ...cc, nodeId: 0 });
      if (ctx) this.triggerError(ctx.requestId, err);
      return;
    }
    this.confState = this.node.applyConfChange(cc);
    switch (cc.type) {
      case ConfChangeType.AddNode: {
        const existing = this.membership.get(cc.nodeId);
        if (existing?.isLearner) this.membership.promote(cc.nodeId);
        else if (member) this.membership.add(member);
        this.log.info(existing ? 'promote member' : 'added member', {
          'cluster-id': idHex(this.clusterId),
          'local-member-id': idHex(this.memberId),
          'added-peer-id': idHex(cc.nodeId),
          'added-peer-peer-urls': member?.peerURLs ?? [],
        });
        break;
      }
      case ConfChangeType.AddLearnerNode:
        if (member) this.membership.add({ ...member, isLearner: true });
        break;
      case ConfChangeType.RemoveNode:
        this.membership.remove(cc.nodeId);
        this.log.info('removed member', { 'removed-remote-peer-id': idHex(cc.nodeId), index });
        break;
      case ConfChangeType.UpdateNode:
        if (member) this.membership.updatePeerURLs(cc.nodeId, member.peerURLs);
        break;
    }
    if (ctx) this.trigger(ctx.requestId, { response: this.membership.list() });
  }

  private trigger(id: number, result: ApplyResult): void {
    const w = this.wait.get(id);
    if (!w) return;
    this.wait.delete(id);
    w.resolve(result);
  }

  private triggerError(id: number, err: unknown): void {
    const w = this.wait.get(id);
    if (!w) return;
    this.wait.delete(id);
    w.reject(err);
  }

  private register(id: number): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      this.wait.set(id, { resolve, reject, deadline: Date.now() + requestTimeoutMs(this.cfg) });
      if (!this.waitTimer) this.armWaitTimer();
    });
  }

  /** Arms the proposal timer for the oldest waiter (none: no timer). */
  private armWaitTimer(): void {
    this.waitTimer = undefined;
    if (this.stopped) return;
    for (const [id, w] of this.wait) {
      const timeout = requestTimeoutMs(this.cfg);
      // Clamped: a wall clock stepped backwards must not stretch a wait beyond one timeout.
      const delay = Math.min(Math.max(0, w.deadline - Date.now()), timeout);
      this.waitTimerFor = id;
      this.waitTimer = setTimeout(() => this.expireWaiters(), delay);
      return;
    }
  }

  /** Fails the waiters whose timeout has passed (etcd: `etcdserver: request timed out`). */
  private expireWaiters(): void {
    const now = Date.now();
    for (const [id, w] of this.wait) {
      if (id !== this.waitTimerFor && w.deadline > now) break;
      this.wait.delete(id);
      this.metrics.proposalsFailed.inc();
      w.reject(Errors.timeout());
    }
    this.armWaitTimer();
  }

  /**
   * Proposes an internal request and resolves with its apply result (rejects with an EtcdError).
   * The request id is assigned here.
   */
  async propose(req: InternalRequest): Promise<ApplyResult> {
    if (this.stopped) throw Errors.stopped();
    const id = this.idGen.nextId();
    req.header = { ...(req.header ?? {}), ID: id };
    const data = encodeInternalRequest(req);
    if (data.length > this.cfg.maxRequestBytes) throw Errors.requestTooLarge();
    const p = this.register(id);
    this.proposeData(id, data);
    const result = await p;
    if (result.err) throw result.err;
    return result;
  }

  private proposeData(id: number, data: Uint8Array): void {
    // Stepped into raft by the loop (flushProposals), together with the other proposals of this turn:
    // they would land in the same Ready anyway.
    this.queuedIds.push(id);
    this.queuedData.push(data);
    this.schedule();
  }

  /** Steps the queued proposals into raft as one batch (all accepted or all dropped). */
  private flushProposals(): void {
    if (this.queuedIds.length === 0) return;
    const ids = this.queuedIds;
    const data = this.queuedData;
    this.queuedIds = [];
    this.queuedData = [];
    try {
      this.node.proposeBatch(data);
    } catch (err) {
      if (err instanceof ProposalDroppedError) {
        // No leader (or raft's uncommitted-size limit): retried once a leader is known.
        for (let i = 0; i < ids.length; i++) this.droppedProposals.push({ id: ids[i]!, data: data[i]! });
        return;
      }
      for (const id of ids) this.triggerError(id, err);
    }
  }

  private retryDroppedProposals(): void {
    const list = this.droppedProposals.splice(0);
    for (const p of list) if (this.wait.has(p.id)) this.proposeData(p.id, p.data);
  }

  /** Proposes a membership change; resolves with the member list after it is applied. */
  async proposeConfChange(type: ConfChangeType, member: Member): Promise<Member[]> {
    if (this.stopped) throw Errors.stopped();
    const requestId = this.idGen.nextId();
    const ctx: ConfChangeContext = { requestId, member };
    const cc: ConfChange = {
      type,
      nodeId: member.id,
      context: new TextEncoder().encode(JSON.stringify(ctx)),
      id: requestId,
    };
    const p = this.register(requestId);
    // Keep proposal order: requests proposed before this change enter the log before it.
    this.flushProposals();
    try {
      this.node.proposeConfChange(cc);
    } catch (err) {
      this.triggerError(requestId, err instanceof ProposalDroppedError ? Errors.noLeader() : err);
    }
    this.schedule();
    const result = await p;
    return result.response as Member[];
  }

  /** Encodes a ConfChange (exported for tests of the codec round trip). */
  static encodeConfChange(cc: ConfChange): Uint8Array {
    return encodeConfChange(cc);
  }

  /**
   * Linearizable read barrier: resolves once this member has applied everything committed before the
   * call (one ReadIndex round per batch of concurrent callers).
   */
  readBarrier(): Promise<void> {
    if (this.stopped) return Promise.reject(Errors.stopped());
    const soleIndex = this.soleLeaderReadIndex();
    if (soleIndex !== undefined) return this.waitReadIndex(soleIndex);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(Errors.timeout()), requestTimeoutMs(this.cfg));
      this.queuedReads.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.flushReads();
    });
  }

  /**
   * The read index when this member is the leader and the only voter, else undefined. Raft answers a
   * lone voter's ReadIndex with its commit index at once (no quorum to ask); taking it here skips the
   * loop turn and the Ready that would only carry it back, and the per-read timer.
   */
  private soleLeaderReadIndex(): number | undefined {
    const raft = this.node.raft;
    if (!this.leaderCommittedInTerm || raft.state !== StateType.Leader || !raft.trk.isSingleton()) {
      return undefined;
    }
    return raft.log.committed;
  }

  /** Resolves once the applied index reaches `index` (shares one waiter list per index). */
  private waitReadIndex(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const last = this.readyReads.at(-1);
      const waiter = { resolve, reject };
      // Commit indexes only grow, so appending keeps readyReads ordered by index.
      if (last && last.index === index) last.waiters.push(waiter);
      else this.readyReads.push({ ctx: '', waiters: [waiter], index, issuedAt: 0 });
    });
  }

  private flushReads(): void {
    if (this.readRound || this.queuedReads.length === 0 || this.stopped) return;
    if (this.leaderId === 0 || (this.isLeader && !this.leaderCommittedInTerm)) return; // retried on leader ready
    const ctx = `${this.memberId.toString(16)}-${++this.readCounter}`;
    this.readRound = { ctx, waiters: this.queuedReads.splice(0), index: -1, issuedAt: Date.now() };
    this.node.readIndex(new TextEncoder().encode(ctx));
    this.schedule();
  }

  private onReadState(index: number, ctxBytes: Uint8Array): void {
    const ctx = new TextDecoder().decode(ctxBytes);
    if (!this.readRound || this.readRound.ctx !== ctx) return;
    this.readRound.index = index;
    this.readyReads.push(this.readRound);
    this.readRound = undefined;
    this.checkReadRounds();
    this.flushReads();
  }

  private checkReadRounds(): void {
    while (this.readyReads.length && this.readyReads[0]!.index <= this.appliedIndex) {
      for (const w of this.readyReads.shift()!.waiters) w.resolve();
    }
    // A ReadIndex can be dropped (leader change); re-issue rounds that got no answer.
    if (this.readRound && Date.now() - this.readRound.issuedAt > 2 * this.cfg.electionMs) {
      this.queuedReads.unshift(...this.readRound.waiters);
      this.readRound = undefined;
      this.flushReads();
    }
  }

  /** Resolves once appliedIndex >= index. */
  waitApplied(index: number): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => {
      this.appliedWaiters.push({ index, resolve });
      this.appliedWaiters.sort((a, b) => a.index - b.index);
    });
  }

  // ---- leases -------------------------------------------------------------------------------

  private revokeExpiredLeases(): void {
    if (!this.isLeader || !this.leaderCommittedInTerm || this.stopped) return;
    for (const lease of this.lessor.takeExpired()) {
      this.propose({ leaseRevoke: { ID: lease.id } }).catch(() => this.lessor.unmarkRevoking(lease.id));
    }
  }

  // ---- backend quota ---------------------------------------------------------------------------

  private backendQuota: BackendQuota | undefined;

  /** The quota in bytes (etcd's default 2 GiB when --quota-backend-bytes is 0; Infinity when < 0). */
  get quotaBytes(): number {
    return effectiveQuotaBytes(this.cfg.quotaBackendBytes) ?? Number.POSITIVE_INFINITY;
  }

  /** etcd's startup lines about the quota, and the `etcd_server_quota_backend_bytes` gauge. */
  private announceQuota(): void {
    const configured = this.cfg.quotaBackendBytes;
    if (configured < 0) {
      this.log.info('disabled backend quota', { 'quota-name': 'v3-applier', 'quota-size-bytes': configured });
      return;
    }
    const bytes = this.quotaBytes;
    const size = { 'quota-name': 'v3-applier', 'quota-size-bytes': bytes, 'quota-size': humanBytes(bytes) };
    if (configured === 0) this.log.info('enabled backend quota with default value', size);
    else {
      if (configured > MAX_QUOTA_BYTES) {
        this.log.warn('quota exceeds the maximum value', {
          ...size,
          'quota-maximum-size-bytes': MAX_QUOTA_BYTES,
          'quota-maximum-size': humanBytes(MAX_QUOTA_BYTES),
        });
      }
      this.log.info('enabled backend quota', size);
    }
    this.metrics.quotaBackendBytes.set(bytes);
  }

  /** True while a NOSPACE alarm is active: apply refuses writes that grow the store (etcd's quota). */
  noSpace(): boolean {
    return this.applier.alarms.some((a) => a.alarm === AlarmType.NOSPACE);
  }

  /**
   * etcd's quotaAlarmer.check, run before a Put, Txn or LeaseGrant is proposed: when the request's
   * estimated cost would take the backend to the quota, the NOSPACE alarm is raised through raft (so
   * every member refuses writes and the alarm survives restarts) and the request fails with
   * `etcdserver: mvcc: database space exceeded`. Requests without cost (reads, deletes) always pass.
   */
  checkQuota(req: QuotaRequest): Promise<void> | undefined {
    // Writes sit in the store's batch until its next commit: flush so the size counts them.
    this.backendQuota ??= new BackendQuota(effectiveQuotaBytes(this.cfg.quotaBackendBytes), async () => {
      await this.store.flush();
      return this.store.backend.size();
    });
    // The common case (the estimate has room) answers without a promise; callers may skip the await.
    const cost = quotaCost(req);
    if (this.backendQuota.admitNow(cost)) return undefined;
    return this.checkQuotaSlow(cost);
  }

  private async checkQuotaSlow(cost: number): Promise<void> {
    if (await this.backendQuota!.available(cost)) return;
    if (!this.noSpace()) {
      this.log.warn('backend quota exceeded; raising NOSPACE alarm', {
        quota: this.quotaBytes,
        'local-member-id': idHex(this.memberId),
      });
    }
    // Like etcd, the request fails whether or not the alarm proposal succeeds.
    await this.propose({
      alarm: {
        action: AlarmRequest_AlarmAction.ACTIVATE,
        memberID: this.memberId,
        alarm: PbAlarmType.NOSPACE,
      },
    }).catch((err: unknown) => this.log.warn('failed to raise NOSPACE alarm', { error: err }));
    throw Errors.noSpace();
  }

  // ---- auto compaction ------------------------------------------------------------------------

  private startAutoCompaction(): void {
    const { autoCompactionMode: mode, autoCompactionRetention: retention } = this.cfg;
    if (retention === '0' || retention === '') return;
    if (mode === 'revision') {
      const keep = Number(retention);
      const every = this.opts.revisionCompactionCheckMs ?? 5 * 60_000;
      let last = 0;
      this.compactTimer = setInterval(() => {
        const target = this.store.rev() - keep;
        if (!this.isLeader || target <= 0 || target === last || target <= this.store.compactRevision())
          return;
        last = target;
        this.autoCompact(target, `${keep}`);
      }, every);
    } else {
      const periodMs = /^\d+$/.test(retention) ? Number(retention) * 3_600_000 : parseDurationMs(retention);
      // Sample the revision every period/10 and compact to the sample taken one period ago (etcd's
      // periodic compactor, simplified: its 1h+ retention also checks every hour).
      const interval = Math.max(100, periodMs / 10);
      const samples: Array<{ at: number; rev: number }> = [];
      this.compactTimer = setInterval(() => {
        const now = Date.now();
        samples.push({ at: now, rev: this.store.rev() });
        while (samples.length > 1 && now - samples[1]!.at >= periodMs) samples.shift();
        const oldest = samples[0]!;
        if (!this.isLeader || now - oldest.at < periodMs) return;
        if (oldest.rev > this.store.compactRevision() && oldest.rev <= this.store.rev())
          this.autoCompact(oldest.rev, retention);
      }, interval);
    }
    this.compactTimer.unref?.();
  }

  private autoCompact(rev: number, retention: string): void {
    this.log.info('starting auto compaction', { revision: rev, 'compact-period': retention });
    this.propose({ compaction: { revision: rev, physical: false } }).then(
      () => this.log.info('completed auto compaction', { revision: rev }),
      (err: unknown) => this.log.warn('failed auto compaction', { revision: rev, error: err }),
    );
  }

  // ---- snapshots ------------------------------------------------------------------------------

  private maybeSnapshot(): void {
    if (this.snapshotInProgress || this.appliedIndex - this.snapshotIndex <= this.cfg.snapshotCount) return;
    this.snapshotInProgress = true;
    this.snapshotRunning = this.snapshot()
      .catch((err: unknown) => this.log.error('failed to create snapshot', { error: err }))
      .finally(() => {
        this.snapshotInProgress = false;
      });
  }

  /** Writes a snapshot at the applied index, compacts raft's log and releases WAL segments. */
  async snapshot(): Promise<void> {
    const index = this.appliedIndex;
    const term = this.raftStorage.term(index);
    const t0 = Date.now();
    await this.store.flush();
    // The WAL's hard state must cover the snapshot index before the marker is written.
    await this.flushHardState();
    const dump = this.cfg.backend === 'memory' ? await this.store.dumpBackend() : undefined;
    const confState = this.confState ?? {
      voters: [this.memberId],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    const data = encodeSnapshotFile(
      { membership: this.membership.toJSON(), hasBackendDump: dump !== undefined },
      confState,
      dump,
    );
    // etcd's order: WAL marker, then the snapshot file, then release older WAL segments.
    await this.wal.saveSnapshot({ index, term });
    await this.snapshotter.save({ index, term, data });
    this.raftStorage.createSnapshot(index, confState, new Uint8Array(0));
    // Keep some entries for slow followers (etcd keeps 5000); a single member needs none.
    const keep = this.membership.members.size > 1 ? 5000 : 0;
    const compactTo = index - keep;
    if (compactTo > this.raftStorage.firstIndex()) this.raftStorage.compact(compactTo);
    await this.wal.releaseTo(index);
    if (this.cfg.maxSnapshots > 0) await this.snapshotter.purge(this.cfg.maxSnapshots);
    this.snapshotIndex = index;
    this.metrics.snapshotSave.observe((Date.now() - t0) / 1000);
    this.log.info('saved snapshot', { 'snapshot-index': index, took: `${Date.now() - t0}ms` });
  }

  /** Writes a stashed commit-only hard state. */
  private async flushHardState(): Promise<void> {
    const hs = this.pendingHardState;
    if (!hs) return;
    this.pendingHardState = undefined;
    await this.wal.save(hs, []);
  }

  /** Moves leadership (single member: only to itself). */
  transferLeadership(to: number): void {
    this.node.transferLeader(to);
    this.schedule();
  }

  /** Stops the loop, fails pending requests, closes WAL and store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.leaseTimer);
    clearInterval(this.compactTimer);
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    if (this.loopRunning) await new Promise<void>((r) => this.loopIdle.push(r));
    await this.applying;
    await this.snapshotRunning;
    await this.flushHardState().catch((err: unknown) =>
      this.log.warn('could not save hard state', { error: err }),
    );
    for (const [id] of [...this.wait]) this.triggerError(id, Errors.stopped());
    for (const r of [
      ...this.queuedReads.splice(0),
      ...(this.readRound?.waiters ?? []),
      ...this.readyReads.flatMap((x) => x.waiters),
    ]) {
      r.reject(Errors.stopped());
    }
    await this.wal.close();
    await this.store.close();
  }
}

/** etcd's minimum lease TTL: ceil(1.5 × election ticks × heartbeat) in seconds. */
function minLeaseTtl(cfg: ServerConfig): number {
  const electionTicks = Math.round(cfg.electionMs / cfg.heartbeatMs);
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * cfg.heartbeatMs) / 1000);
}

function raftConfig(
  cfg: ServerConfig,
  id: number,
  electionTick: number,
  storage: MemoryStorage,
  applied: number,
  log: Logger,
) {
  return {
    id,
    electionTick,
    heartbeatTick: 1,
    storage,
    applied,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 4096 / 8,
    maxUncommittedEntriesSize: 1 << 30,
    checkQuorum: true,
    preVote: cfg.preVote,
    readOnlyOption: 'safe' as const,
    disableProposalForwarding: false,
    // Election timeouts must differ between members: seed raft's PRNG with the member id.
    seed: (id % 0x7fffffff) + (Date.now() % 1000),
    logger: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.info(msg),
      warn: (msg: string) => log.warn(msg),
    },
  };
}

function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return Number(text) * 3_600_000;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}
