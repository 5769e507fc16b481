/**
 * Opening a member's data directory (etcd's bootstrap): the three ways a member starts.
 *
 * - **New cluster** (`--initial-cluster-state new`, no WAL): ids from `--initial-cluster` and
 *   `--initial-cluster-token`; raft is bootstrapped with one ConfChange per initial member.
 * - **Join** (`existing`, no WAL): the cluster's members and id are fetched from the peers' `/members`;
 *   raft starts empty and learns the configuration from the leader's log or snapshot.
 * - **Restart** (a WAL exists): the newest snapshot the WAL has a marker for, then WAL replay.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import type { IndexEvent } from '@kv/mvcc';
import { type ConfState, type Entry, MemoryStorage, RawNode, type Snapshot } from '@kv/raft';
import { Snapshotter, Wal, type WalOptions } from '@kv/wal';
import { AuthStore } from '../auth/store.js';
import { createTokenProvider } from '../auth/tokens/parse.js';
import { ConfigError, type ServerConfig } from '../config/parse.js';
import type { Logger } from '../log/logger.js';
import { fetchClusterFromPeers } from '../peer/join.js';
import { computeClusterId, computeMemberId, idHex } from './member-id.js';
import { encodeMemberContext, type Member, Membership } from './membership.js';
import { decodeSnapshotFile, type SnapshotPayload } from './snapshot-file.js';
import { snapshotMetaData } from './snapshots.js';
import { KEY_INDEX_FILE, type KvStore, openKvStore } from './store.js';
import { readWalMetadata, walMetadata } from './wal-metadata.js';

/** Everything a started member is made of. */
export interface Bootstrapped {
  store: KvStore;
  auth: AuthStore;
  wal: Wal;
  snapshotter: Snapshotter;
  raftStorage: MemoryStorage;
  node: RawNode;
  memberId: bigint;
  membership: Membership;
  /** Raft index of the snapshot the member restarts from (0 for a new member). */
  snapshotIndex: number;
  confState: ConfState | undefined;
  /** Peers to connect to before any configuration is applied (a joining member's cluster). */
  remotePeers: Member[];
  /** The snapshot directory (received snapshot data is written here). */
  snapDir: string;
}

export interface BootstrapOptions {
  config: ServerConfig;
  logger: Logger;
  unsafeNoFsync?: boolean;
  /** Peer TLS client options, to fetch the cluster from peers when joining. */
  peerDial?: ConnectionOptions;
  /** Aborts a join that is waiting for peers (SIGTERM during startup). */
  signal?: AbortSignal;
  /** Called with each backend commit's duration in seconds (metrics). */
  onBackendCommit?: (seconds: number) => void;
}

/** Opens or creates the data directory and the raft node of one member. */
export async function bootstrap(opts: BootstrapOptions): Promise<Bootstrapped> {
  const cfg = opts.config;
  const log = opts.logger;
  const memberDir = join(cfg.dataDir, 'member');
  const walDir = cfg.walDir || join(memberDir, 'wal');
  const snapDir = join(memberDir, 'snap');
  const haveWal = Wal.exists(walDir);
  const noSync = opts.unsafeNoFsync ?? false;
  // Joining: fetch the cluster before creating anything, so a failed join leaves no data dir behind.
  const joined =
    !haveWal && cfg.initialClusterState === 'existing'
      ? await fetchClusterFromPeers(cfg, log, opts.peerDial, opts.signal)
      : undefined;
  mkdirSync(snapDir, { recursive: true });
  const snapshotter = new Snapshotter(snapDir);
  // Restart: read the WAL (and the snapshot file it points at) while the backend opens and rebuilds its
  // key index. The two are independent until a snapshot has to be restored into the backend, and both
  // spend much of their time waiting on the disk and libuv's thread pool (docs/benchmarks.md "Memory
  // and restart").
  // On a worker thread when the backend will rebuild its key index (no index saved by a clean stop): the
  // two then run on two cores instead of taking turns on this one (crash restart after 200 000 puts:
  // 2 428 -> 2 213 ms, docs/benchmarks.md "Session 19"). With a saved index the WAL alone is the long
  // part, and the worker's start and packing made that restart slower (1 707 -> 1 938 ms).
  const rebuildsIndex = cfg.backend !== 'memory' && !existsSync(join(snapDir, 'db', KEY_INDEX_FILE));
  const walReading = haveWal
    ? openWalForRestart(walDir, snapshotter, { ...walOptions(noSync, log), readInWorker: rebuildsIndex })
    : undefined;
  // Awaited below; this only keeps a WAL error from counting as unhandled while the backend opens.
  walReading?.catch(() => {});
  const started = Date.now();
  let store: KvStore;
  try {
    store = await openKvStore(cfg.backend, join(snapDir, 'db'), cfg, {
      onCommit: opts.onBackendCommit,
      onIndexEvent: (e) => logIndexEvent(log, e),
    });
  } catch (err) {
    // A refused start (wrong engine, damaged backend) must leave the WAL unlocked for the next attempt.
    await walReading?.then(
      (r) => r.wal.close(),
      () => {},
    );
    throw err;
  }
  log.info('opened backend db', {
    path: join(snapDir, 'db'),
    took: `${Date.now() - started}ms`,
    engine: cfg.backend,
  });
  // Auth state lives in the backend's auth buckets; replicated entries change it in apply.
  const auth = await AuthStore.open(store, {
    tokenProvider: createTokenProvider(cfg.authToken, { simpleTtlSeconds: cfg.authTokenTtl }),
  });
  const electionTick = electionTicks(cfg);
  const raftStorage = new MemoryStorage();
  const base = { store, auth, snapshotter, raftStorage, snapDir };

  if (joined) {
    const membership = new Membership(joined.clusterId);
    const self = joined.members.find((m) =>
      m.peerURLs.some((u) => cfg.initialAdvertisePeerUrls.some((a) => a.origin === u)),
    );
    if (!self) {
      await store.close();
      throw new ConfigError(
        `error validating peerURLs {ClusterID:${idHex(joined.clusterId)} Members:[${joined.members.map((m) => idHex(m.id)).join(' ')}]}: member count is unequal`,
      );
    }
    const wal = await Wal.create(walDir, walMetadata(self.id, joined.clusterId), walOptions(noSync, log));
    log.info('starting local member', {
      'local-member-id': idHex(self.id),
      'cluster-id': idHex(joined.clusterId),
    });
    const node = new RawNode(raftConfig(cfg, self.id, electionTick, raftStorage, 0, log));
    return {
      ...base,
      wal,
      node,
      memberId: self.id,
      membership,
      snapshotIndex: 0,
      confState: undefined,
      remotePeers: joined.members.filter((m) => m.id !== self.id),
    };
  }

  if (!haveWal) {
    // New member of a new cluster: ids from the initial cluster, like etcd.
    const members: Member[] = [];
    for (const [name, urls] of cfg.initialCluster) {
      members.push({
        id: computeMemberId(urls, cfg.initialClusterToken),
        // Initial members are named from the start (etcd); client URLs arrive with their publish.
        name,
        peerURLs: urls,
        clientURLs: [],
        isLearner: false,
      });
    }
    const selfUrls = cfg.initialCluster.get(cfg.name) ?? cfg.initialAdvertisePeerUrls.map((u) => u.origin);
    const memberId = computeMemberId(selfUrls, cfg.initialClusterToken);
    const membership = new Membership(computeClusterId(members.map((m) => m.id)));
    const wal = await Wal.create(
      walDir,
      walMetadata(memberId, membership.clusterId),
      walOptions(noSync, log),
    );
    log.info('starting local member', {
      'local-member-id': idHex(memberId),
      'cluster-id': idHex(membership.clusterId),
    });
    const node = new RawNode(raftConfig(cfg, memberId, electionTick, raftStorage, 0, log));
    // Bootstrap: one ConfChange per initial member carrying the member as context (like etcd).
    node.bootstrap(members.map((m) => ({ id: m.id, context: encodeMemberContext(m) })));
    return {
      ...base,
      wal,
      node,
      memberId,
      membership,
      snapshotIndex: 0,
      confState: undefined,
      remotePeers: members.filter((m) => m.id !== memberId),
    };
  }

  // Restart: newest snapshot the WAL has a marker for (a crash between the two writes leaves a marker
  // without a file, never the reverse: the marker is written first) + WAL replay. Like etcd's
  // ValidSnapshotEntries, markers past the saved commit index are skipped (openWalForRestart): a snapshot
  // received from the leader is persisted before the hard state that commits it, and a crash in between
  // must restart from the older state (the leader sends the snapshot again), not fail raft's commit range
  // check.
  const { wal, snapshot } = await (walReading as ReturnType<typeof openWalForRestart>);
  let payload: SnapshotPayload | undefined;
  let raftSnap: Snapshot | undefined;
  if (snapshot) {
    const decoded = decodeSnapshotFile(snapshot.data);
    payload = decoded.payload;
    raftSnap = {
      // Members and conf state as of the snapshot: what a MsgSnap to a follower carries.
      data: snapshotMetaData(Membership.fromJSON(payload.membership)),
      metadata: { index: snapshot.index, term: snapshot.term, confState: decoded.confState },
    };
    if (payload.hasBackendDump && store.consistentIndex() < snapshot.index) {
      await store.restoreBackend(decoded.dump);
      await auth.reload();
    }
  }
  // Taken without a copy of the entries' data: raft's storage packs (copies) every payload it keeps.
  const contents = wal.takeAll();
  const meta = readWalMetadata(contents.metadata);
  const membership = payload ? Membership.fromJSON(payload.membership) : new Membership(meta.clusterId);
  if (raftSnap) raftStorage.applySnapshot(raftSnap);
  raftStorage.setHardState(contents.hardState);
  raftStorage.append(contents.entries as Entry[]);
  log.info('restarting local member', {
    'cluster-id': idHex(membership.clusterId),
    'local-member-id': idHex(meta.memberId),
    'commit-index': contents.hardState.commit,
  });
  const snapshotIndex = snapshot?.index ?? 0;
  const node = new RawNode(raftConfig(cfg, meta.memberId, electionTick, raftStorage, snapshotIndex, log));
  return {
    ...base,
    wal,
    node,
    memberId: meta.memberId,
    membership,
    snapshotIndex,
    confState: raftSnap?.metadata.confState,
    remotePeers: membership.list().filter((m) => m.id !== meta.memberId),
  };
}

/**
 * Logs how the key index was loaded at open, or saved at a stop (a failed save only costs the next start
 * a scan).
 * @example
 * openKvStore(engine, path, cfg, { onIndexEvent: (e) => logIndexEvent(log, e) });
 */
export function logIndexEvent(log: Logger, e: IndexEvent): void {
  if (e.op === 'load') {
    log.info('loaded key index', {
      source: e.source === 'file' ? 'saved index' : 'backend scan',
      ...(e.reason ? { reason: e.reason } : {}),
      keys: e.keys,
      took: `${Math.round(e.ms)}ms`,
    });
  } else if (e.error) {
    log.warn('could not save key index; the next start reads the backend instead', { error: e.error });
  } else {
    log.info('saved key index', { keys: e.keys, took: `${Math.round(e.ms)}ms` });
  }
}

/**
 * Opens an existing WAL at the newest snapshot it has a marker for (a crash between the two writes leaves
 * a marker without a file, never the reverse: the marker is written first); returns that snapshot too.
 */
async function openWalForRestart(walDir: string, snapshotter: Snapshotter, opts: WalOptions) {
  let chosen: Awaited<ReturnType<Snapshotter['loadNewest']>>;
  const wal = await Wal.open(
    walDir,
    async (markers, committed) => {
      chosen = await snapshotter.loadNewestAvailable(markers.filter((m) => m.index <= committed));
      return { index: chosen?.index ?? 0, term: chosen?.term ?? 0 };
    },
    opts,
  );
  return { wal, snapshot: chosen };
}

/** The member's WAL options: its events (torn-tail repairs, segment cuts, releases) go to the member's log. */
function walOptions(noSync: boolean, log: Logger): WalOptions {
  return { noSync, logger: (level, message, fields) => log[level](message, fields) };
}

function raftConfig(
  cfg: ServerConfig,
  id: bigint,
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
    seed: Number(id % 0x7fffffffn) + (Date.now() % 1000),
    logger: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.info(msg),
      warn: (msg: string) => log.warn(msg),
    },
  };
}

/** The election timeout in raft ticks (one tick per heartbeat interval), as etcd's ElectionTicks. */
export function electionTicks(cfg: Pick<ServerConfig, 'electionMs' | 'heartbeatMs'>): number {
  return Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs));
}
