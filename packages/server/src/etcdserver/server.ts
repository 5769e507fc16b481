/**
 * The server core: one raft node driven by a loop in the shape of etcd's raftNode + EtcdServer.
 * The other concerns live beside it: bootstrap.ts (opening a data dir: new, join, restart),
 * wait.ts (proposal waiters), read-index.ts (linearizable reads), compactor.ts, snapshots.ts,
 * conf-change.ts (membership at apply time), and ../peer + ../rafthttp (the peer transport).
 *
 * - Proposals made during one event-loop turn land in one Ready (they are all `propose()`d before the
 *   loop runs on `setImmediate`); a follower's raft forwards them to the leader.
 * - Each Ready: hard state + entries go to the WAL with ONE `save` (one fdatasync), are appended to
 *   raft's MemoryStorage, messages go to the peer transport (the leader sends before its own fsync,
 *   followers after), committed entries are applied in order, waiters resolved by request id, then
 *   `advance()`.
 * - Committed entries already persisted by an earlier Ready are applied while the current one is
 *   fsynced (one fsync per acknowledged write, not two).
 * - Every `snapshotCount` applied entries: the store is flushed, a snapshot file written, the WAL
 *   marked and released, raft's log compacted (keeping catch-up entries when there are peers).
 */
import { EventEmitter } from 'node:events';
import type { ConnectionOptions } from 'node:tls';
import {
  type ConfChange,
  type ConfChangeType,
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  encodeConfChange,
  type HardState,
  type MemoryStorage,
  type Message,
  MessageType,
  ProposalDroppedError,
  type RawNode,
  type Ready,
  type Snapshot,
  StateType,
} from '@kv/raft';
import type { Snapshotter, Wal } from '@kv/wal';
import type { AuthStore } from '../auth/store.js';
import type { ServerConfig } from '../config/parse.js';
import { failpoint, withTestFaults } from '../failpoints.js';
import type { Request } from '../gen/etcdv2.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { PeerTransport, type RaftSink } from '../rafthttp/index.js';
import { AlarmType, Applier, type ApplyResult } from './apply.js';
import { bootstrap, electionTicks } from './bootstrap.js';
import { startCompactor } from './compactor.js';
import { applyToMembership, type MembershipEffect, validateConfChange } from './conf-change.js';
import {
  decodeInternalRequest,
  encodeInternalRequest,
  type InternalRequest,
  isMemberAttrSet,
} from './envelope.js';
import { Errors } from './errors.js';
import { ETCD_CLUSTER_VERSION } from './etcd-backend.js';
import { openEtcdSnapshot } from './etcd-snapshot-stream.js';
import { HeartbeatWatch } from './heartbeat-watch.js';
import { IdGenerator, idHex, parseIdHex } from './ids.js';
import { mostUpToDateVoter, moveLeader } from './leadership.js';
import { Lessor } from './lessor.js';
import { decodeMemberContext, encodeMemberContext, type Member, Membership } from './membership.js';
import type { QuotaRequest } from './quota.js';
import { QuotaGuard } from './quota-guard.js';
import { ReadIndexLoop } from './read-index.js';
import {
  decodeSnapshotMeta,
  dropReceivedDb,
  receivedDbAsDump,
  SNAPSHOT_CATCHUP_ENTRIES,
  SNAPSHOT_CHUNK_BYTES,
  saveReceivedDb,
  snapshotMetaData,
  takeReceivedDb,
  writeSnapshot,
} from './snapshots.js';
import type { KvStore } from './store.js';
import { advanceInitialElectionTicks } from './tick-advance.js';
import { decodeV2Request, encodeAttributesRequest, mayBeV2Request, v2Effect } from './v2-requests.js';
import { Wait } from './wait.js';

/** Version strings reported to clients and peers (etcdctl, clientv3 and etcd's peers check them). */
export const SERVER_VERSION = '3.4.23';
export const CLUSTER_VERSION = '3.4.0';
/** The lowest cluster version this member works with (etcd 3.4 sends 3.0.0 to its peers). */
export const MIN_CLUSTER_VERSION = '3.0.0';

/** Options beyond the etcd configuration. */
export interface EtcdServerOptions {
  config: ServerConfig;
  logger: Logger;
  metrics: ServerMetrics;
  /** Skip fsync in the WAL (tests only; data is not durable). */
  unsafeNoFsync?: boolean;
  /** Interval of the revision-mode auto compactor check (ms); etcd uses 5 minutes. */
  revisionCompactionCheckMs?: number;
  /** Lease checkpoint interval (ms) under `--experimental-enable-lease-checkpoint`; etcd's is 5 minutes. */
  leaseCheckpointIntervalMs?: number;
  /** Peer TLS client options (dialing other members). */
  peerDial?: ConnectionOptions;
  /** Aborts a startup that waits for peers (SIGTERM while joining). */
  signal?: AbortSignal;
}

/** etcd's request timeout: 5 s + 2 × election timeout. */
const requestTimeoutMs = (cfg: ServerConfig) => 5000 + 2 * cfg.electionMs;

/** Applied entries a lone voter keeps in raft's memory before dropping them (see maybeCompactLoneLog). */
const LONE_LOG_KEEP = 1000;
/** etcd's warnApplyDuration: applies slower than this are counted and logged as slow. */
const SLOW_APPLY_MS = 100;

/** A proposal's caller: a gRPC call that may have been cancelled (see CallContext.caller). */
type Caller = { readonly cancelled: boolean };

/** The message a removed member stops with (etcd's). */
export const REMOVED_MESSAGE = 'the member has been permanently removed from the cluster';

/**
 * How long a member that applied its own removal keeps running before it stops: etcd's fixed
 * 10 × 100 ms (`stopWithDelay`). A removed leader goes on sending heartbeats meanwhile, which carry the
 * commit index of its removal: if the message that first carried it was lost, the others still apply
 * the removal (in a two-member cluster the remaining member could not elect itself otherwise).
 */
export const REMOVED_STOP_DELAY_MS = 1000;

/** The kv server core. */
export class EtcdServer extends EventEmitter implements RaftSink {
  readonly memberId: bigint;
  readonly membership: Membership;
  readonly lessor: Lessor;
  readonly applier: Applier;
  readonly idGen: IdGenerator;
  readonly transport: PeerTransport;
  /** Leader id (0: none known). */
  leaderId = 0n;
  term = 0;
  appliedIndex = 0;
  committedIndex = 0;
  private snapshotIndex = 0;
  private confState: ConfState | undefined;
  private stopped = false;
  private readonly waiters: Wait<ApplyResult>;
  private readonly quota: QuotaGuard;
  private readonly reads: ReadIndexLoop;
  private loopScheduled = false;
  private loopRunning = false;
  private readonly loopIdle: Array<() => void> = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private stopCompactor: (() => void) | undefined;
  /** Proposals dropped while there was no leader; retried when one appears. */
  private readonly droppedProposals: Array<{ id: bigint; data: Uint8Array; caller: Caller | undefined }> = [];
  /**
   * Proposals made since the loop last ran (ids and entry data, index for index). The loop steps them
   * into raft as one batch: one MsgProp and one log append per turn instead of one per request.
   */
  private queuedIds: bigint[] = [];
  private queuedData: Uint8Array[] = [];
  /** The callers of the queued proposals (undefined for internal ones), to abandon a dropped one whose caller left. */
  private queuedCallers: Array<Caller | undefined> = [];
  /** The leader has applied an entry of its own term (ReadIndex is answered only then). */
  private leaderCommittedInTerm = false;
  private readonly appliedWaiters: Array<{ index: number; resolve: () => void }> = [];
  private snapshotInProgress = false;
  /** Tail of the apply pipeline. */
  private applying: Promise<void> = Promise.resolve();
  /** A commit-only hard state not yet written (see handleReady). */
  private pendingHardState: HardState | undefined;
  private snapshotRunning: Promise<void> = Promise.resolve();
  /** Remote members known when this member started (etcd's cluster size check in adjustTicks). */
  private readonly remotePeersAtStart: number;
  /** Campaign at once when this member is the only voter (etcd fast-forwards its election ticks). */
  private fastForwardCampaign = false;
  private readonly log: Logger;
  readonly store: KvStore;
  readonly auth: AuthStore;
  private readonly node: RawNode;
  private readonly raftStorage: MemoryStorage;
  private readonly wal: Wal;
  private readonly snapshotter: Snapshotter;
  private readonly snapDir: string;

  private constructor(
    readonly cfg: ServerConfig,
    readonly opts: EtcdServerOptions,
    b: Awaited<ReturnType<typeof bootstrap>>,
  ) {
    super();
    this.log = opts.logger;
    this.store = b.store;
    this.auth = b.auth;
    this.node = b.node;
    this.raftStorage = b.raftStorage;
    this.wal = withTestFaults(b.wal);
    this.snapshotter = b.snapshotter;
    this.snapDir = b.snapDir;
    this.memberId = b.memberId;
    this.membership = b.membership;
    this.lessor = new Lessor(minLeaseTtl(cfg), Date.now, {
      enabled: cfg.enableLeaseCheckpoint,
      intervalMs: opts.leaseCheckpointIntervalMs ?? 5 * 60_000,
    });
    // IdGenerator (request/lease ids) still takes a number: feed it the member id's low 53 bits.
    this.idGen = new IdGenerator(Number(BigInt.asUintN(53, b.memberId)));
    this.applier = new Applier(b.store, this.lessor, opts.metrics, b.auth);
    this.appliedIndex = b.snapshotIndex;
    this.snapshotIndex = b.snapshotIndex;
    this.confState = b.confState;
    const timeout = requestTimeoutMs(cfg);
    this.waiters = new Wait<ApplyResult>(
      timeout,
      () => Errors.timeout(),
      () => this.metrics.proposalsFailed.inc(),
    );
    this.reads = new ReadIndexLoop({
      memberId: b.memberId,
      canIssue: () => this.leaderId !== 0n && (!this.isLeader || this.leaderCommittedInTerm),
      issue: (ctx) => {
        this.node.readIndex(ctx);
        this.schedule();
      },
      soleLeaderIndex: () => this.soleLeaderReadIndex(),
      appliedIndex: () => this.appliedIndex,
      retryAfterMs: 2 * cfg.electionMs,
      timeoutMs: timeout,
      onSlow: () => this.metrics.slowReadIndexes.inc(),
      onFailed: () => this.metrics.readIndexFailed.inc(),
    });
    this.quota = new QuotaGuard(
      {
        memberId: b.memberId,
        configuredBytes: cfg.quotaBackendBytes,
        // Writes sit in the store's batch until its next commit: flush so the size counts them.
        measure: async () => {
          await this.store.flush();
          return this.store.backend.size();
        },
        noSpace: () => this.noSpace(),
        propose: (req) => this.propose(req),
      },
      opts.logger,
      opts.metrics,
    );
    this.transport = new PeerTransport({
      memberId: b.memberId,
      clusterId: b.membership.clusterId,
      peerUrls: cfg.initialAdvertisePeerUrls.map((u) => u.origin),
      serverVersion: SERVER_VERSION,
      minClusterVersion: MIN_CLUSTER_VERSION,
      dialTls: opts.peerDial,
      logger: opts.logger,
      metrics: opts.metrics,
      sink: this,
    });
    for (const p of b.remotePeers) this.transport.addPeer(p.id, p.peerURLs);
    this.remotePeersAtStart = b.remotePeers.length;
  }

  get metrics(): ServerMetrics {
    return this.opts.metrics;
  }

  get clusterId(): bigint {
    return this.membership.clusterId;
  }

  get isLeader(): boolean {
    return this.leaderId === this.memberId;
  }

  /** This member is a learner (serves only what etcd lets learners serve). */
  get isLearner(): boolean {
    return this.membership.get(this.memberId)?.isLearner ?? false;
  }

  /** The raft status used by Maintenance.Status. */
  raftStatus(): { term: number; commit: number; applied: number; lead: bigint } {
    return { term: this.term, commit: this.committedIndex, applied: this.appliedIndex, lead: this.leaderId };
  }

  /** Raft's view of each follower's replication (leader only), for learner promotion checks. */
  progress(): ReturnType<RawNode['status']>['progress'] {
    return this.node.status().progress;
  }

  /**
   * Opens (or creates, or joins) the member's data directory and starts the raft loop; resolves once the
   * node is running (not necessarily with a leader yet; see {@link waitLeader}).
   */
  static async start(opts: EtcdServerOptions): Promise<EtcdServer> {
    const b = await bootstrap({
      config: opts.config,
      logger: opts.logger,
      unsafeNoFsync: opts.unsafeNoFsync,
      peerDial: opts.peerDial,
      signal: opts.signal,
      onBackendCommit: (seconds) => opts.metrics.backendCommit.observe(seconds),
    });
    const server = new EtcdServer(opts.config, opts, b);
    await server.applier.loadState();
    server.startLoop();
    return server;
  }

  private startLoop(): void {
    const m = this.metrics;
    m.serverId.set(1, { server_id: idHex(this.memberId) });
    m.version.set(1, { server_version: SERVER_VERSION });
    // etcd labels the cluster version major.minor ("3.4").
    m.clusterVersion.set(1, { cluster_version: CLUSTER_VERSION.split('.').slice(0, 2).join('.') });
    m.bindSources({
      currentRevision: () => this.store.mvcc.rev(),
      compactRevision: () => this.store.mvcc.compactRevision(),
      keyCount: () => this.store.mvcc.keyCount(),
      authRevision: () => this.auth.revision(),
      dbTotalSize: () => this.store.backend.size(),
      dbSizeInUse: () => this.store.backend.sizeInUse(),
    });
    m.isLearner.set(this.isLearner ? 1 : 0);
    this.quota.announce();
    this.tickTimer = setInterval(() => {
      this.node.tick();
      this.schedule();
    }, this.cfg.heartbeatMs);
    this.tickTimer.unref?.();
    this.fastForwardCampaign = true;
    if (this.remotePeersAtStart > 0) this.startInitialTickAdvance();
    this.leaseTimer = setInterval(() => {
      this.revokeExpiredLeases();
    }, 500);
    this.leaseTimer.unref?.();
    this.stopCompactor = startCompactor(
      {
        mode: this.cfg.autoCompactionMode,
        retention: this.cfg.autoCompactionRetention,
        revisionCheckMs: this.opts.revisionCompactionCheckMs,
      },
      {
        isLeader: () => this.isLeader,
        rev: () => this.store.rev(),
        compactRevision: () => this.store.compactRevision(),
        compact: (rev) => this.propose({ compaction: { revision: rev, physical: false } }),
      },
      this.log,
    );
    this.schedule();
  }

  // ---- the peer transport's side (RaftSink) --------------------------------------------------

  /** Steps a message received from a peer. */
  process(msg: Message): void {
    if (this.stopped) return;
    this.node.step(msg);
    this.schedule();
  }

  isIdRemoved(id: bigint): boolean {
    return this.membership.removed.has(id);
  }

  reportUnreachable(id: bigint): void {
    if (this.stopped) return;
    this.node.reportUnreachable(id);
    this.schedule();
  }

  reportSnapshot(id: bigint, ok: boolean): void {
    if (this.stopped) return;
    this.node.reportSnapshot(id, ok);
    this.schedule();
  }

  async receiveSnapshot(msg: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    const index = msg.snapshot?.metadata.index ?? 0;
    const t0 = Date.now();
    await saveReceivedDb(this.snapDir, index, data);
    this.log.info('saved database snapshot to disk', {
      'snapshot-index': index,
      'remote-peer-id': idHex(msg.from),
      took: `${Date.now() - t0}ms`,
    });
  }

  onRemoved(): void {
    if (this.stopped || this.removedNotified) return;
    this.log.warn(REMOVED_MESSAGE, { 'local-member-id': idHex(this.memberId) });
    this.notifyRemoved();
  }

  /** Set once 'removed' has been emitted: a peer's refusal and the own removal's timer may both come. */
  private removedNotified = false;

  private notifyRemoved(): void {
    if (this.stopped || this.removedNotified) return;
    this.removedNotified = true;
    this.emit('removed');
  }

  // ---- the raft loop -------------------------------------------------------------------------

  /**
   * Resolves once a leader is known and this member can serve (a leader has committed in its term).
   * Waits as long as it takes, as etcd does; rejects only when the server stops or `signal` aborts.
   */
  waitLeader(signal?: AbortSignal): Promise<void> {
    if (this.leaderId !== 0n && (!this.isLeader || this.leaderCommittedInTerm)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', abort);
        this.off('stopped', abort);
        resolve();
      };
      const abort = () => {
        this.off('ready-to-serve', done);
        reject(Errors.stopped());
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      this.once('stopped', abort);
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

  /** etcd's initial election tick advance for a member of a multi-member cluster (tick-advance.ts). */
  private startInitialTickAdvance(): void {
    const ticks = electionTicks(this.cfg);
    if (!this.cfg.initialElectionTickAdvance) {
      this.log.info('skipping initial election tick advance', { 'election-ticks': ticks });
      return;
    }
    advanceInitialElectionTicks({
      electionTicks: ticks,
      tickMs: this.cfg.heartbeatMs,
      localMemberId: idHex(this.memberId),
      activePeers: () => this.transport.activePeers(),
      advance: (n) => {
        for (let i = 0; i < n; i++) this.node.tick();
        this.schedule();
      },
      stopped: () => this.stopped,
      log: this.log,
    }).catch((err: unknown) => this.log.warn('initial election tick advance failed', { error: err }));
  }

  private maybeFastCampaign(): void {
    if (!this.fastForwardCampaign || this.leaderId !== 0n) return;
    const voters = this.confState?.voters ?? [];
    if (voters.length === 0) return; // bootstrap conf changes not applied yet
    this.fastForwardCampaign = false;
    if (voters.length !== 1 || voters[0] !== this.memberId) return;
    this.log.info('started as single-node; fast-forwarding election ticks', {
      'local-member-id': idHex(this.memberId),
    });
    this.node.campaign();
  }

  /** Hands raft's messages to the transport; a MsgSnap goes with the backend after it. */
  /** Gaps between the leader's heartbeats to each follower (etcd's heartbeat send failures). */
  private heartbeats: HeartbeatWatch | undefined;

  private send(msgs: readonly Message[]): void {
    let plain: Message[] | undefined;
    for (const m of msgs) {
      if (m.type === MessageType.MsgSnap) this.sendSnapshot(m);
      else {
        if (m.type === MessageType.MsgHeartbeat) this.noteHeartbeat(m.to);
        (plain ??= []).push(m);
      }
    }
    if (plain) this.transport.send(plain);
  }

  /** Counts and logs a heartbeat that left more than two heartbeat intervals after the previous one. */
  private noteHeartbeat(to: bigint): void {
    this.heartbeats ??= new HeartbeatWatch(2 * this.cfg.heartbeatMs);
    const exceeded = this.heartbeats.observe(to, Date.now());
    if (exceeded === 0) return;
    this.metrics.heartbeatSendFailures.inc();
    this.log.warn(
      'leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk',
      {
        to: idHex(to),
        'heartbeat-interval': `${this.cfg.heartbeatMs}ms`,
        'expected-duration': `${2 * this.cfg.heartbeatMs}ms`,
        'exceeded-duration': `${exceeded}ms`,
      },
    );
  }

  /**
   * etcd's createMergedSnapshotMessage: the raft snapshot's metadata (members and conf state as of its
   * index) followed by the backend as it is now. Its consistent index may be past the snapshot's: the
   * follower then skips re-applying those entries, exactly as after a restart.
   */
  private sendSnapshot(m: Message): void {
    const to = m.to;
    this.log.info('sending database snapshot', {
      'remote-peer-id': idHex(to),
      'snapshot-index': m.snapshot?.metadata.index,
    });
    // The backend travels as etcd 3.4's bbolt file, so an etcd member can install it too; kv members
    // convert it into their own engine (receivedDbAsDump).
    const cluster = {
      members: this.membership.list(),
      removed: this.membership.removed,
      clusterVersion: this.membership.clusterVersion ?? ETCD_CLUSTER_VERSION,
    };
    const opened = this.store
      .flush()
      .then(() => openEtcdSnapshot(this.store.backend, cluster, { digest: false }));
    // A failure before the stream starts must not surface as an unhandled rejection: the generator
    // below rethrows it to the sender, which reports the snapshot as failed.
    opened.catch(() => {});
    this.transport.sendSnapshot(m, async function* () {
      const snap = await opened;
      yield* snap.chunks(SNAPSHOT_CHUNK_BYTES);
    });
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState.lead, rd.softState.raftState);
    if (rd.hardState?.term) this.term = rd.hardState.term;
    for (const rs of rd.readStates) this.reads.onReadState(rs.index, rs.requestCtx);
    const isLeader = this.isLeader;
    // The leader may send before its own fsync (etcd does); followers must persist first.
    if (isLeader && rd.messages.length) this.send(rd.messages);
    const snap = rd.snapshot && rd.snapshot.metadata.index > 0 ? rd.snapshot : undefined;
    // Committed entries that were persisted by an earlier Ready are applied while this Ready's entries
    // are fsynced (etcd's apply goroutine does the same): a write is then acknowledged one fsync after
    // it was proposed, not two. Entries that are not yet durable here (a follower can learn a commit
    // index beyond its own log; a snapshot replaces the log) are applied only after the save.
    const applyEarly = rd.committedEntries.length > 0 && this.committedArePersisted(rd);
    if (applyEarly) this.dispatchApply(rd.committedEntries);
    if (snap) await this.persistReceivedSnapshot(snap);
    // A received snapshot's hard state (its commit index) is saved at once, as etcd does: until then
    // a restart ignores the snapshot's marker.
    if (rd.entries.length || (rd.hardState && (rd.mustSync || snap))) {
      // The newest hard state goes along (a stashed commit-only one is superseded by rd.hardState).
      const hs = rd.hardState ?? this.pendingHardState;
      this.pendingHardState = undefined;
      const t0 = process.hrtime.bigint();
      failpoint('raftBeforeSave');
      await this.wal.save(hs, rd.entries);
      failpoint('raftAfterSave');
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
    if (snap) {
      // Now the WAL's commit covers the snapshot: segments before it can go (etcd's Release).
      await this.wal.releaseTo(snap.metadata.index);
      this.raftStorage.applySnapshot(snap);
      this.applying = this.applying.then(() => this.installSnapshot(snap));
    }
    if (rd.hardState) this.raftStorage.setHardState(rd.hardState);
    if (rd.entries.length) this.raftStorage.append(rd.entries);
    if (!isLeader && rd.messages.length) this.send(rd.messages);
    if (rd.hardState) this.committedIndex = Math.max(this.committedIndex, rd.hardState.commit);
    this.metrics.proposalsCommitted.set(this.committedIndex);
    if (snap) await this.applying;
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

  /**
   * A snapshot from the leader, before the backend is replaced: the snapshot file (embedding the
   * received backend) and its WAL marker, so a crash from here on restarts from the new state.
   */
  private async persistReceivedSnapshot(snap: Snapshot): Promise<void> {
    const { index, term } = snap.metadata;
    const { membership, confState } = decodeSnapshotMeta(snap, this.clusterId);
    const dump = await receivedDbAsDump(await takeReceivedDb(this.snapDir, index));
    failpoint('raftBeforeSaveSnap');
    await this.flushHardState();
    await writeSnapshot(this.snapshotWriter(), index, term, membership, confState, dump, false);
    await dropReceivedDb(this.snapDir, index);
    failpoint('raftAfterSaveSnap');
    this.receivedDump = dump;
  }

  /** The backend of the snapshot being installed (between persisting and installing it). */
  private receivedDump: Uint8Array | undefined;

  /** Replaces the backend and the member list with the leader's snapshot (etcd's applySnapshot). */
  private async installSnapshot(snap: Snapshot): Promise<void> {
    const { index } = snap.metadata;
    if (index <= this.appliedIndex) return;
    const t0 = Date.now();
    const { membership: next, confState } = decodeSnapshotMeta(snap, this.clusterId);
    const dump = this.receivedDump;
    this.receivedDump = undefined;
    failpoint('raftBeforeApplySnap');
    if (dump) {
      this.metrics.snapshotApplyInProgress.set(1);
      try {
        await this.store.restoreBackend(dump);
        await this.auth.reload();
        await this.applier.loadState();
      } finally {
        this.metrics.snapshotApplyInProgress.set(0);
      }
    }
    for (const m of this.membership.list()) {
      if (!next.get(m.id) && m.id !== this.memberId) this.transport.removePeer(m.id);
    }
    this.membership.replaceWith(next);
    for (const m of next.list()) if (m.id !== this.memberId) this.transport.addPeer(m.id, m.peerURLs);
    this.confState = confState;
    this.appliedIndex = index;
    this.snapshotIndex = index;
    this.log.info('applied snapshot', {
      'snapshot-index': index,
      'consistent-index': this.store.consistentIndex(),
      took: `${Date.now() - t0}ms`,
    });
    failpoint('raftAfterApplySnap');
    this.reads.onApplied();
    this.resolveAppliedWaiters();
  }

  /** Queues entries on the apply pipeline (applied in order, one batch after another). */
  private dispatchApply(entries: readonly Entry[]): void {
    this.applying = this.applying.then(() => this.applyEntries(entries));
  }

  private async applyEntries(entries: readonly Entry[]): Promise<void> {
    try {
      for (const e of entries) {
        failpoint('beforeApplyOneEntry');
        // Most entries apply in this turn; only one that needs I/O is awaited (see applyEntry).
        const pending = this.applyEntry(e);
        if (pending) await pending;
        failpoint('afterApplyOneEntry');
      }
    } catch (err) {
      this.log.error('apply failed; stopping', { error: err });
      this.emit('fatal', err);
      return;
    }
    this.metrics.proposalsApplied.set(this.appliedIndex);
    this.metrics.proposalsPending.set(this.waiters.size);
    this.reads.onApplied();
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

  private onSoftState(lead: bigint, state: StateType): void {
    const m = this.metrics;
    m.isLeader.set(state === StateType.Leader ? 1 : 0);
    if (lead === this.leaderId) return;
    const wasLeader = this.isLeader;
    if (lead !== 0n) m.leaderChanges.inc();
    this.leaderId = lead;
    this.leaderCommittedInTerm = false;
    m.hasLeader.set(lead !== 0n ? 1 : 0);
    if (lead !== 0n) {
      this.log.info(
        `raft.node: ${idHex(this.memberId)} elected leader ${idHex(lead)} at term ${this.node.status().hardState.term}`,
      );
    } else {
      this.log.info(`raft.node: ${idHex(this.memberId)} lost leader at term ${this.term}`);
    }
    if (state === StateType.Leader) this.heartbeats?.reset();
    if (state === StateType.Leader) this.lessor.promote(this.cfg.electionMs);
    else if (wasLeader) this.lessor.demote();
    if (lead !== 0n) this.retryDroppedProposals();
    // A follower serves once it knows a leader (its reads go through the leader's ReadIndex).
    if (lead !== 0n && state !== StateType.Leader) {
      this.emit('ready-to-serve');
      this.reads.flush();
    }
    this.emit('leader', lead);
  }

  /**
   * etcd's warnApplyDuration: an apply slower than 100 ms is counted in etcd_server_slow_apply_total
   * and logged ("apply request took too long"), the usual sign of a slow disk or an overloaded member.
   */
  private noteApplyDuration(ms: number): void {
    if (ms <= SLOW_APPLY_MS) return;
    this.metrics.slowApply.inc();
    this.log.warn('apply request took too long', {
      took: `${ms.toFixed(3)}ms`,
      'expected-duration': `${SLOW_APPLY_MS}ms`,
    });
  }

  /**
   * Applies one committed entry. Returns undefined when it was applied in this turn (every entry that
   * needs no I/O: no promise, no microtask hop per entry), or a promise when the store must read first.
   */
  private applyEntry(e: Entry): Promise<void> | undefined {
    if (e.index <= this.appliedIndex) return undefined;
    if (e.type === EntryType.Normal) {
      if (e.data.length === 0) {
        // The empty entry a new leader appends: the leader has committed in its term.
        if (e.term === this.term && this.isLeader) this.markLeaderReady();
      } else if (
        e.index <= this.store.consistentIndex() &&
        !isMemberAttrSet(e.data) &&
        !mayBeV2Request(e.data)
      ) {
        // Replayed after a restart or covered by an installed snapshot: its effects are already in the
        // backend (the applier would skip it too), so do not even decode it. Member attributes are the
        // exception: the member list is rebuilt in memory from the log.
      } else {
        let req: InternalRequest;
        try {
          req = decodeInternalRequest(e.data);
        } catch (err) {
          // Not a v3 request: etcd 3.4's bare v2 Request (member attributes, cluster version)?
          let v2: Request | undefined;
          try {
            v2 = decodeV2Request(e.data);
          } catch {
            this.log.error('cannot decode raft entry; skipped', { index: e.index, error: err });
            this.appliedIndex = e.index;
            return undefined;
          }
          this.applyV2(v2, e.index);
          this.appliedIndex = e.index;
          this.resolveAppliedWaiters();
          return undefined;
        }
        const id = req.header?.ID || req.ID || 0n;
        if (req.clusterMemberAttrSet) {
          this.applyMemberAttributes(req.clusterMemberAttrSet, e.index);
          this.waiters.trigger(id, {});
        } else {
          const t0 = performance.now();
          const result = this.applier.applySync(req, e.index);
          if (result === undefined) return this.applyEntryLater(e, req, id, t0);
          this.noteApplyDuration(performance.now() - t0);
          this.waiters.trigger(id, result);
        }
      }
    } else if (e.type === EntryType.ConfChange) {
      this.applyConfChange(decodeConfChange(e.data), e.index);
    } else {
      this.log.warn('ConfChangeV2 entries are not used by kv-server; skipped', { index: e.index });
    }
    this.entryApplied(e);
    return undefined;
  }

  /** The rest of {@link applyEntry} for a request the store applies only after reading the backend. */
  private async applyEntryLater(e: Entry, req: InternalRequest, id: bigint, t0: number): Promise<void> {
    const result = await this.applier.applyAsync(req, e.index);
    this.noteApplyDuration(performance.now() - t0);
    this.waiters.trigger(id, result);
    this.entryApplied(e);
  }

  /** Moves the applied index past `e` and wakes what waited for it. */
  private entryApplied(e: Entry): void {
    this.appliedIndex = e.index;
    if (this.isLeader && e.term === this.term && !this.leaderCommittedInTerm) this.markLeaderReady();
    this.resolveAppliedWaiters();
  }

  private resolveAppliedWaiters(): void {
    while (this.appliedWaiters.length && this.appliedWaiters[0]!.index <= this.appliedIndex)
      this.appliedWaiters.shift()!.resolve();
  }

  private markLeaderReady(): void {
    if (this.leaderCommittedInTerm) return;
    this.leaderCommittedInTerm = true;
    this.emit('ready-to-serve');
    this.reads.flush();
  }

  /** etcd 3.4's v2 request: a member's published attributes or the cluster version (v2-requests.ts). */
  private applyV2(req: Request, index: number): void {
    const effect = v2Effect(req);
    if (effect.kind === 'attributes') {
      const id = parseIdHex(effect.memberIdHex);
      if (this.membership.get(id)) this.membership.setAttributes(id, effect.name, effect.clientURLs);
    } else if (effect.kind === 'version') {
      this.membership.clusterVersion = effect.version;
    } else {
      this.log.warn('ignored a v2 request in the raft log (kv serves no v2 key space)', {
        index,
        method: effect.method,
        path: effect.path,
      });
    }
    if (index > this.store.consistentIndex()) this.store.setConsistentIndex(index);
    this.waiters.trigger(req.ID, {});
  }

  /** A member's published name and client URLs (etcd 3.5's ClusterMemberAttrSetRequest; older kv logs). */
  private applyMemberAttributes(
    req: NonNullable<InternalRequest['clusterMemberAttrSet']>,
    index: number,
  ): void {
    const id = req.memberID ?? 0n;
    const attrs = req.memberAttributes;
    if (this.membership.get(id) && attrs) {
      this.membership.setAttributes(
        id,
        attrs.name ?? '',
        (attrs.clientUrls ?? []).filter(Boolean) as string[],
      );
    }
    if (index > this.store.consistentIndex()) this.store.setConsistentIndex(index);
  }

  private applyConfChange(cc: ConfChange, index: number): void {
    const member = decodeMemberContext(cc.context);
    const err = validateConfChange(this.membership, cc);
    if (err) {
      // Like etcd: a rejected change is applied as a no-op so raft's config stays consistent.
      this.confState = this.node.applyConfChange({ ...cc, nodeId: 0n });
      this.waiters.fail(cc.id ?? 0n, err);
      return;
    }
    this.confState = this.node.applyConfChange(cc);
    const effect = applyToMembership(this.membership, cc, member);
    if (effect) this.onMembershipEffect(effect, index);
    this.metrics.isLearner.set(this.isLearner ? 1 : 0);
    this.waiters.trigger(cc.id ?? 0n, { response: this.membership.list() });
  }

  /** Keeps the peer transport and the logs in step with an applied membership change. */
  private onMembershipEffect(effect: MembershipEffect, index: number): void {
    const ids = { 'cluster-id': idHex(this.clusterId), 'local-member-id': idHex(this.memberId) };
    switch (effect.kind) {
      case 'added':
        this.log.info('added member', {
          ...ids,
          'added-peer-id': idHex(effect.member.id),
          'added-peer-peer-urls': effect.member.peerURLs,
        });
        if (effect.member.id !== this.memberId)
          this.transport.addPeer(effect.member.id, effect.member.peerURLs);
        break;
      case 'promoted':
        this.log.info('promote member', { ...ids, 'promoted-member-id': idHex(effect.id) });
        break;
      case 'removed':
        this.log.info('removed member', { ...ids, 'removed-remote-peer-id': idHex(effect.id), index });
        if (effect.id === this.memberId) {
          this.log.warn(REMOVED_MESSAGE, ids);
          // Peers that applied the removal refuse us already (onRemoved may stop us sooner).
          setTimeout(() => this.notifyRemoved(), REMOVED_STOP_DELAY_MS).unref();
        } else {
          this.transport.removePeer(effect.id);
        }
        break;
      case 'updated':
        this.log.info('updated member', {
          ...ids,
          'updated-remote-peer-id': idHex(effect.id),
          'updated-remote-peer-urls': effect.peerURLs,
        });
        if (effect.id !== this.memberId) this.transport.updatePeer(effect.id, effect.peerURLs);
        break;
    }
  }

  /**
   * Proposes an internal request and resolves with its apply result (rejects with an EtcdError).
   * The request id is assigned here.
   */
  async propose(req: InternalRequest, caller?: Caller): Promise<ApplyResult> {
    if (this.stopped) throw Errors.stopped();
    const id = this.idGen.next();
    req.header = { ...(req.header ?? {}), ID: id };
    const data = encodeInternalRequest(req);
    if (data.length > this.cfg.maxRequestBytes) throw Errors.requestTooLarge();
    const p = this.waiters.register(id);
    this.proposeData(id, data, caller);
    const result = await p;
    if (result.err) throw result.err;
    return result;
  }

  private proposeData(id: bigint, data: Uint8Array, caller: Caller | undefined): void {
    // Stepped into raft by the loop (flushProposals), together with the other proposals of this turn:
    // they would land in the same Ready anyway.
    this.queuedIds.push(id);
    this.queuedData.push(data);
    this.queuedCallers.push(caller);
    this.schedule();
  }

  /** Steps the queued proposals into raft as one batch (all accepted or all dropped). */
  private flushProposals(): void {
    if (this.queuedIds.length === 0) return;
    const ids = this.queuedIds;
    const data = this.queuedData;
    const callers = this.queuedCallers;
    this.queuedIds = [];
    this.queuedData = [];
    this.queuedCallers = [];
    try {
      this.node.proposeBatch(data);
    } catch (err) {
      if (err instanceof ProposalDroppedError) {
        // No leader (or raft's uncommitted-size limit): retried once a leader is known.
        for (let i = 0; i < ids.length; i++) {
          this.droppedProposals.push({ id: ids[i]!, data: data[i]!, caller: callers[i] });
        }
        return;
      }
      for (const id of ids) this.waiters.fail(id, err);
    }
  }

  /**
   * Re-proposes what raft dropped while no leader was known. A proposal whose caller has gone (cancelled,
   * or its deadline passed) is failed instead: like etcd, whose proposal waits for a leader only while
   * the request's context lives, a write the client was told had failed must not be committed later.
   */
  private retryDroppedProposals(): void {
    const list = this.droppedProposals.splice(0);
    for (const p of list) {
      if (!this.waiters.has(p.id)) continue;
      if (p.caller?.cancelled) this.waiters.fail(p.id, Errors.timeout());
      else this.proposeData(p.id, p.data, p.caller);
    }
  }

  /** Proposes a membership change; resolves with the member list after it is applied. */
  async proposeConfChange(type: ConfChangeType, member: Member, isPromote = false): Promise<Member[]> {
    if (this.stopped) throw Errors.stopped();
    const requestId = this.idGen.next();
    const cc: ConfChange = {
      type,
      nodeId: member.id,
      context: encodeMemberContext(member, isPromote),
      id: requestId,
    };
    const p = this.waiters.register(requestId);
    // Keep proposal order: requests proposed before this change enter the log before it.
    this.flushProposals();
    try {
      this.node.proposeConfChange(cc);
    } catch (err) {
      this.waiters.fail(requestId, err instanceof ProposalDroppedError ? Errors.noLeader() : err);
    }
    this.schedule();
    const result = await p;
    return result.response as Member[];
  }

  /** Publishes this member's name and client URLs through raft (etcd's publish); retried until applied. */
  async publish(name: string, clientURLs: string[], signal?: AbortSignal): Promise<void> {
    for (;;) {
      try {
        // As etcd 3.4 publishes (a bare v2 PUT), so etcd 3.4 members of the same cluster apply it too.
        const id = this.idGen.next();
        const p = this.waiters.register(id);
        this.proposeData(id, encodeAttributesRequest(id, idHex(this.memberId), name, clientURLs), undefined);
        const result = await p;
        if (result.err) throw result.err;
        return;
      } catch (err) {
        if (this.stopped || signal?.aborted) throw err;
        this.log.warn('failed to publish local member to cluster through raft', { error: String(err) });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
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
    return this.reads.barrier();
  }

  private soleLeaderReadIndex(): number | undefined {
    const raft = this.node.raft;
    if (!this.leaderCommittedInTerm || raft.state !== StateType.Leader || !raft.trk.isSingleton()) {
      return undefined;
    }
    return raft.log.committed;
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

  /** The leader's lease loop: revoke expired leases, checkpoint remaining TTLs (etcd's lessor runLoop). */
  private revokeExpiredLeases(): void {
    if (!this.isLeader || !this.leaderCommittedInTerm || this.stopped) return;
    for (const lease of this.lessor.takeExpired()) {
      this.propose({ leaseRevoke: { ID: lease.id } }).then(
        (r) => {
          if (!r.err) this.metrics.leaseExpired.inc();
        },
        () => this.lessor.unmarkRevoking(lease.id),
      );
    }
    const due = this.lessor.takeDueCheckpoints();
    if (due.length > 0) this.checkpointLeases(due);
  }

  /** Proposes lease checkpoints (a failed one is retried at the next interval, from the next apply). */
  checkpointLeases(checkpoints: Array<{ ID: bigint; remainingTTL: number }>): void {
    this.propose({ leaseCheckpoint: { checkpoints } }).catch((err: unknown) =>
      this.log.warn('failed to checkpoint leases', { error: String(err), count: checkpoints.length }),
    );
  }

  /** The leader's peer URLs (where lease keep-alives and promotions are forwarded), if known. */
  leaderPeerUrls(): string[] {
    return this.membership.get(this.leaderId)?.peerURLs ?? [];
  }

  // ---- backend quota ---------------------------------------------------------------------------

  /** The quota in bytes (etcd's default 2 GiB when --quota-backend-bytes is 0; Infinity when < 0). */
  get quotaBytes(): number {
    return this.quota.bytes;
  }

  /** True while a NOSPACE alarm is active: apply refuses writes that grow the store (etcd's quota). */
  noSpace(): boolean {
    return this.applier.alarms.some((a) => a.alarm === AlarmType.NOSPACE);
  }

  /** Checks a Put, Txn or LeaseGrant against the backend quota before it is proposed (see QuotaGuard). */
  checkQuota(req: QuotaRequest): Promise<void> | undefined {
    return this.quota.check(req);
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

  private snapshotWriter() {
    return { wal: this.wal, snapshotter: this.snapshotter, maxSnapshots: this.cfg.maxSnapshots };
  }

  /** Writes a snapshot at the applied index, compacts raft's log and releases WAL segments. */
  async snapshot(): Promise<void> {
    const index = this.appliedIndex;
    const term = this.raftStorage.term(index);
    // Members as of `index`: entries applied while the snapshot is written must not leak into it.
    const members = Membership.fromJSON(this.membership.toJSON());
    const confState = this.confState ?? {
      voters: [this.memberId],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    const t0 = Date.now();
    await this.store.flush();
    // The WAL's hard state must cover the snapshot index before the marker is written.
    await this.flushHardState();
    const dump = this.cfg.backend === 'memory' ? await this.store.dumpBackend() : undefined;
    // Keep entries for slow followers (etcd keeps 5000); a single member needs none.
    const keep = this.membership.members.size > 1 ? SNAPSHOT_CATCHUP_ENTRIES : 0;
    await writeSnapshot(this.snapshotWriter(), index, term, members, confState, dump);
    // Raft serves MsgSnap from this (members and conf state as of the index; the backend goes along).
    this.raftStorage.createSnapshot(index, confState, snapshotMetaData(members));
    const compactTo = index - keep;
    if (compactTo > this.raftStorage.firstIndex()) this.raftStorage.compact(compactTo);
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

  // ---- leadership ---------------------------------------------------------------------------

  /** Asks raft to hand leadership to `to` (a voter); see {@link moveLeader} to wait for it. */
  transferLeadership(to: bigint): void {
    this.node.transferLeader(to);
    this.schedule();
  }

  /** Moves leadership to `to` and waits until it leads (etcd's MoveLeader). */
  moveLeader(to: bigint, timeoutMs = requestTimeoutMs(this.cfg)): Promise<void> {
    return moveLeader(this, to, timeoutMs, this.log);
  }

  /**
   * Before a leader stops, it hands leadership to the most up-to-date voter (etcd's
   * TransferLeadership on Stop), so the cluster does not wait an election timeout for a new one.
   */
  private async transferBeforeStop(): Promise<void> {
    // A removed member stops without handing over (etcd's does not either): the others elect a leader.
    if (this.removedNotified) return;
    const progress = this.isLeader ? this.node.status().progress : undefined;
    const to = progress ? mostUpToDateVoter(progress, this.memberId) : 0n;
    if (to === 0n) return;
    await this.moveLeader(to, Math.min(3000, 3 * this.cfg.electionMs)).catch((err: unknown) =>
      this.log.warn('failed to transfer leadership before stopping', { error: String(err) }),
    );
  }

  /** Stops the loop, fails pending requests, closes WAL and store. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.transferBeforeStop();
    this.stopped = true;
    this.emit('stopped');
    clearInterval(this.tickTimer);
    clearInterval(this.leaseTimer);
    this.stopCompactor?.();
    await this.transport.stop();
    if (this.loopRunning) await new Promise<void>((r) => this.loopIdle.push(r));
    await this.applying;
    await this.snapshotRunning;
    await this.flushHardState().catch((err: unknown) =>
      this.log.warn('could not save hard state', { error: err }),
    );
    this.waiters.close(() => Errors.stopped());
    this.reads.close();
    await this.wal.close();
    await this.store.close();
  }
}

/** etcd's minimum lease TTL: ceil(1.5 × election ticks × heartbeat) in seconds. */
function minLeaseTtl(cfg: ServerConfig): number {
  return Math.ceil((Math.floor((3 * electionTicks(cfg)) / 2) * cfg.heartbeatMs) / 1000);
}
