/**
 * etcd 3.4's metric families that kv-server can truthfully produce, with etcd's names, types, label
 * names, help texts and buckets (checked against a scrape of Debian's etcd 3.4.23 in
 * e2e/test/metrics-families.test.ts, which also lists the families kv leaves out and why), plus
 * prom-client's process and Node.js runtime metrics.
 */
import { readdir, readFile } from 'node:fs/promises';
import client from 'prom-client';
import { type Counter, exponentialBuckets, type Labels, Registry } from './registry.js';

/** Two counters that count the same event (etcd 3.4 exports the `etcd_debugging_mvcc_*` twins too). */
export interface TwinCounter {
  inc(labels?: Labels, by?: number): void;
  /** The value of the stable (first) counter. */
  get(labels?: Labels): Promise<number>;
}

function twin(a: Counter, b: Counter): TwinCounter {
  return {
    inc: (labels, by = 1) => {
      a.inc(labels, by);
      b.inc(labels, by);
    },
    get: (labels) => a.get(labels),
  };
}

/** Values read at scrape time from the running server (set by the server once it is up). */
export interface ScrapeSources {
  currentRevision(): number;
  compactRevision(): number;
  keyCount(): number;
  authRevision(): number;
  dbTotalSize(): Promise<number>;
  dbSizeInUse(): Promise<number>;
}

/** etcd's go-grpc-prometheus label names. */
const GRPC_LABELS = ['grpc_type', 'grpc_service', 'grpc_method'] as const;

/**
 * All metrics of one server instance.
 *
 * @example
 * const metrics = new ServerMetrics();
 * metrics.putTotal.inc();
 * const text = await metrics.scrape();
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private sources: ScrapeSources | undefined;

  /** The process-wide registry (process and Node.js runtime metrics), when this server exports it. */
  private readonly processRegistry: client.Registry | undefined;

  constructor(opts: { processMetrics?: boolean } = {}) {
    // Process metrics describe the whole process and read /proc on every scrape: on by default, off for
    // in-process test harnesses that only count peer traffic.
    if (opts.processMetrics !== false) this.processRegistry = processMetricsRegistry();
  }
  /** Connects the scrape-time gauges (revisions, key count, db size) to the running server. */
  bindSources(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** Prometheus text format of every family (gauges that read the server are refreshed first). */
  async scrape(): Promise<string> {
    const own = await this.registry.render();
    return this.processRegistry ? `${own}\n${await this.processRegistry.metrics()}` : own;
  }

  // ---- etcdserver/metrics.go ----------------------------------------------------------------------
  readonly hasLeader = this.registry.gauge(
    'etcd_server_has_leader',
    'Whether or not a leader exists. 1 is existence, 0 is not.',
  );
  readonly isLeader = this.registry.gauge(
    'etcd_server_is_leader',
    'Whether or not this member is a leader. 1 if is, 0 otherwise.',
  );
  readonly isLearner = this.registry.gauge(
    'etcd_server_is_learner',
    'Whether or not this member is a learner. 1 if is, 0 otherwise.',
  );
  readonly leaderChanges = this.registry.counter(
    'etcd_server_leader_changes_seen_total',
    'The number of leader changes seen.',
  );
  readonly heartbeatSendFailures = this.registry.counter(
    'etcd_server_heartbeat_send_failures_total',
    'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
  );
  readonly proposalsCommitted = this.registry.gauge(
    'etcd_server_proposals_committed_total',
    'The total number of consensus proposals committed.',
  );
  readonly proposalsApplied = this.registry.gauge(
    'etcd_server_proposals_applied_total',
    'The total number of consensus proposals applied.',
  );
  readonly proposalsPending = this.registry.gauge(
    'etcd_server_proposals_pending',
    'The current number of pending proposals to commit.',
  );
  readonly proposalsFailed = this.registry.counter(
    'etcd_server_proposals_failed_total',
    'The total number of failed proposals seen.',
  );
  readonly slowApply = this.registry.counter(
    'etcd_server_slow_apply_total',
    'The total number of slow apply requests (likely overloaded from slow disk).',
  );
  readonly slowReadIndexes = this.registry.counter(
    'etcd_server_slow_read_indexes_total',
    "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
  );
  readonly readIndexFailed = this.registry.counter(
    'etcd_server_read_indexes_failed_total',
    'The total number of failed read indexes seen.',
  );
  readonly leaseExpired = this.registry.counter(
    'etcd_debugging_server_lease_expired_total',
    'The total number of expired leases.',
  );
  readonly quotaBackendBytes = this.registry.gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
  );
  readonly serverId = this.registry.gauge(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
    undefined,
    ['server_id'],
  );
  readonly version = this.registry.gauge(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
    undefined,
    ['server_version'],
  );
  readonly clusterVersion = this.registry.gauge(
    'etcd_cluster_version',
    "Which version is running. 1 for 'cluster_version' label with current cluster version",
    undefined,
    ['cluster_version'],
  );
  readonly learnerPromoteSucceed = this.registry.counter(
    'etcd_server_learner_promote_successes',
    'The total number of successful learner promotions while this member is leader.',
  );
  readonly snapshotApplyInProgress = this.registry.gauge(
    'etcd_server_snapshot_apply_in_progress_total',
    '1 if the server is applying the incoming snapshot. 0 if none.',
  );
  readonly clientRequests = this.registry.counter(
    'etcd_server_client_requests_total',
    'The total number of client requests per client version.',
    ['type', 'client_api_version'],
  );
  // etcdserver/api/etcdhttp/metrics.go: /health.
  readonly healthSuccess = this.registry.counter(
    'etcd_server_health_success',
    'The total number of successful health checks',
  );
  readonly healthFailures = this.registry.counter(
    'etcd_server_health_failures',
    'The total number of failed health checks',
  );

  // ---- mvcc/metrics.go, mvcc/backend/metrics.go ----------------------------------------------------
  readonly dbTotalSize = this.registry.gauge(
    'etcd_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
    () => this.sources?.dbTotalSize() ?? 0,
  );
  readonly debuggingDbTotalSize = this.registry.gauge(
    'etcd_debugging_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
    () => this.sources?.dbTotalSize() ?? 0,
  );
  readonly dbInUse = this.registry.gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
    () => this.sources?.dbSizeInUse() ?? 0,
  );
  readonly keysTotal = this.registry.gauge(
    'etcd_debugging_mvcc_keys_total',
    'Total number of keys.',
    () => this.sources?.keyCount() ?? 0,
  );
  readonly currentRevision = this.registry.gauge(
    'etcd_debugging_mvcc_current_revision',
    'The current revision of store.',
    () => this.sources?.currentRevision() ?? 0,
  );
  readonly compactRevision = this.registry.gauge(
    'etcd_debugging_mvcc_compact_revision',
    'The revision of the last compaction in store.',
    () => this.sources?.compactRevision() ?? 0,
  );
  readonly watchers = this.registry.gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.');
  readonly watchStreams = this.registry.gauge(
    'etcd_debugging_mvcc_watch_stream_total',
    'Total number of watch streams.',
  );
  readonly eventsTotal = this.registry.counter(
    'etcd_debugging_mvcc_events_total',
    'Total number of events sent by this member.',
  );
  readonly totalPutSize = this.registry.gauge(
    'etcd_debugging_mvcc_total_put_size_in_bytes',
    'The total size of put kv pairs seen by this member.',
  );
  readonly putTotal = twin(
    this.registry.counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.'),
    this.registry.counter('etcd_debugging_mvcc_put_total', 'Total number of puts seen by this member.'),
  );
  readonly deleteTotal = twin(
    this.registry.counter('etcd_mvcc_delete_total', 'Total number of deletes seen by this member.'),
    this.registry.counter('etcd_debugging_mvcc_delete_total', 'Total number of deletes seen by this member.'),
  );
  readonly txnTotal = twin(
    this.registry.counter('etcd_mvcc_txn_total', 'Total number of txns seen by this member.'),
    this.registry.counter('etcd_debugging_mvcc_txn_total', 'Total number of txns seen by this member.'),
  );
  readonly rangeTotal = twin(
    this.registry.counter('etcd_mvcc_range_total', 'Total number of ranges seen by this member.'),
    this.registry.counter('etcd_debugging_mvcc_range_total', 'Total number of ranges seen by this member.'),
  );
  readonly compactionTotalMs = this.registry.histogram(
    'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
    'Bucketed histogram of db compaction total duration.',
    exponentialBuckets(100, 2, 14),
  );
  readonly hashSeconds = this.registry.histogram(
    'etcd_mvcc_hash_duration_seconds',
    'The latency distribution of storage hash operation.',
    exponentialBuckets(0.01, 2, 15),
  );
  readonly hashRevSeconds = this.registry.histogram(
    'etcd_mvcc_hash_rev_duration_seconds',
    'The latency distribution of storage hash by revision operation.',
    exponentialBuckets(0.01, 2, 15),
  );
  readonly backendCommit = this.registry.histogram(
    'etcd_disk_backend_commit_duration_seconds',
    'The latency distributions of commit called by backend.',
    exponentialBuckets(0.001, 2, 14),
  );
  readonly defragSeconds = this.registry.histogram(
    'etcd_disk_backend_defrag_duration_seconds',
    'The latency distribution of backend defragmentation.',
    exponentialBuckets(0.1, 2, 13),
  );
  readonly defragInflight = this.registry.gauge(
    'etcd_disk_defrag_inflight',
    'Whether or not defrag is active on the member. 1 means active, 0 means not.',
  );
  readonly backendSnapshotSeconds = this.registry.histogram(
    'etcd_disk_backend_snapshot_duration_seconds',
    'The latency distribution of backend snapshots.',
    exponentialBuckets(0.01, 2, 17),
  );

  // ---- wal/metrics.go, etcdserver/api/snap/metrics.go -----------------------------------------------
  readonly walFsync = this.registry.histogram(
    'etcd_disk_wal_fsync_duration_seconds',
    'The latency distributions of fsync called by WAL.',
    exponentialBuckets(0.001, 2, 14),
  );
  readonly snapshotSave = this.registry.histogram(
    'etcd_debugging_snap_save_total_duration_seconds',
    'The total latency distributions of save called by snapshot.',
    exponentialBuckets(0.001, 2, 14),
  );

  // ---- lease/metrics.go ---------------------------------------------------------------------------
  readonly leaseGranted = this.registry.counter(
    'etcd_debugging_lease_granted_total',
    'The total number of granted leases.',
  );
  readonly leaseRevoked = this.registry.counter(
    'etcd_debugging_lease_revoked_total',
    'The total number of revoked leases.',
  );
  readonly leaseRenewed = this.registry.counter(
    'etcd_debugging_lease_renewed_total',
    'The number of renewed leases seen by the leader.',
  );
  readonly leaseTtl = this.registry.histogram(
    'etcd_debugging_lease_ttl_total',
    'Bucketed histogram of lease TTLs.',
    exponentialBuckets(1, 2, 24),
  );

  // ---- auth/metrics.go ----------------------------------------------------------------------------
  readonly authRevision = this.registry.gauge(
    'etcd_debugging_auth_revision',
    'The current revision of auth store.',
    () => this.sources?.authRevision() ?? 0,
  );

  // ---- etcdserver/api/v3rpc/metrics.go, go-grpc-prometheus ------------------------------------------
  readonly grpcReceivedBytes = this.registry.counter(
    'etcd_network_client_grpc_received_bytes_total',
    'The total number of bytes received from grpc clients.',
  );
  readonly grpcSentBytes = this.registry.counter(
    'etcd_network_client_grpc_sent_bytes_total',
    'The total number of bytes sent to grpc clients.',
  );
  readonly grpcStarted = this.registry.counter(
    'grpc_server_started_total',
    'Total number of RPCs started on the server.',
    GRPC_LABELS,
  );
  readonly grpcHandled = this.registry.counter(
    'grpc_server_handled_total',
    'Total number of RPCs completed on the server, regardless of success or failure.',
    [...GRPC_LABELS, 'grpc_code'],
  );
  readonly grpcMsgReceived = this.registry.counter(
    'grpc_server_msg_received_total',
    'Total number of RPC stream messages received on the server.',
    GRPC_LABELS,
  );
  readonly grpcMsgSent = this.registry.counter(
    'grpc_server_msg_sent_total',
    'Total number of gRPC stream messages sent by the server.',
    GRPC_LABELS,
  );

  // ---- promhttp (the /metrics handler itself) -----------------------------------------------------
  readonly scrapesInFlight = this.registry.gauge(
    'promhttp_metric_handler_requests_in_flight',
    'Current number of scrapes being served.',
  );
  readonly scrapes = this.registry.counter(
    'promhttp_metric_handler_requests_total',
    'Total number of scrapes by HTTP status code.',
    ['code'],
  );

  // ---- Peer transport (etcd 3.4 etcdserver/api/rafthttp/metrics.go) ---------------------------------
  readonly peerActive = this.registry.gauge(
    'etcd_network_active_peers',
    'The current number of active peer connections.',
    undefined,
    ['Local', 'Remote'],
  );
  readonly peerDisconnected = this.registry.counter(
    'etcd_network_disconnected_peers_total',
    'The total number of disconnected peers.',
    ['Local', 'Remote'],
  );
  readonly peerSentBytes = this.registry.counter(
    'etcd_network_peer_sent_bytes_total',
    'The total number of bytes sent to peers.',
    ['To'],
  );
  readonly peerReceivedBytes = this.registry.counter(
    'etcd_network_peer_received_bytes_total',
    'The total number of bytes received from peers.',
    ['From'],
  );
  readonly peerSentFailures = this.registry.counter(
    'etcd_network_peer_sent_failures_total',
    'The total number of send failures from peers.',
    ['To'],
  );
  readonly peerReceivedFailures = this.registry.counter(
    'etcd_network_peer_received_failures_total',
    'The total number of receive failures from peers.',
    ['From'],
  );
  readonly snapshotSendSuccess = this.registry.counter(
    'etcd_network_snapshot_send_success',
    'Total number of successful snapshot sends',
    ['To'],
  );
  readonly snapshotSendInflights = this.registry.gauge(
    'etcd_network_snapshot_send_inflights_total',
    'Total number of inflight snapshot sends',
    undefined,
    ['To'],
  );
  readonly snapshotSendFailures = this.registry.counter(
    'etcd_network_snapshot_send_failures',
    'Total number of snapshot send failures',
    ['To'],
  );
  readonly snapshotSendSeconds = this.registry.histogram(
    'etcd_network_snapshot_send_total_duration_seconds',
    'Total latency distributions of v3 snapshot sends',
    exponentialBuckets(0.1, 2, 10),
    ['To'],
  );
  readonly snapshotReceiveSuccess = this.registry.counter(
    'etcd_network_snapshot_receive_success',
    'Total number of successful snapshot receives',
    ['From'],
  );
  readonly snapshotReceiveInflights = this.registry.gauge(
    'etcd_network_snapshot_receive_inflights_total',
    'Total number of inflight snapshot receives',
    undefined,
    ['From'],
  );
  readonly snapshotReceiveFailures = this.registry.counter(
    'etcd_network_snapshot_receive_failures',
    'Total number of snapshot receive failures',
    ['From'],
  );
  readonly snapshotReceiveSeconds = this.registry.histogram(
    'etcd_network_snapshot_receive_total_duration_seconds',
    'Total latency distributions of v3 snapshot receives',
    exponentialBuckets(0.1, 2, 10),
    ['From'],
  );
  readonly peerRoundTripTime = this.registry.histogram(
    'etcd_network_peer_round_trip_time_seconds',
    'Round-Trip-Time histogram between peers',
    exponentialBuckets(0.0001, 2, 16),
    ['To'],
  );
}

let processRegistry: client.Registry | undefined;

/**
 * One registry per process for prom-client's default metrics and etcd's os_fd_* (the process is one,
 * however many servers it embeds; prom-client's event-loop and GC observers then run once).
 */
function processMetricsRegistry(): client.Registry {
  if (processRegistry) return processRegistry;
  const reg = new client.Registry();
  client.collectDefaultMetrics({ register: reg });
  const gauge = (name: string, help: string, read: () => Promise<number>) =>
    new client.Gauge({
      name,
      help,
      registers: [reg],
      async collect() {
        this.set(await read());
      },
    });
  gauge(
    'process_virtual_memory_max_bytes',
    'Maximum amount of virtual memory available in bytes.',
    readAddressSpaceLimit,
  );
  gauge('os_fd_limit', 'The file descriptor limit.', readFdLimit);
  gauge('os_fd_used', 'The number of used file descriptors.', countOpenFds);
  processRegistry = reg;
  return reg;
}

/** RLIMIT_NOFILE's soft limit, as Go's os_fd_limit reports it (from /proc/self/limits). */
async function readFdLimit(): Promise<number> {
  return readLimit(/^Max open files\s+(\S+)/m);
}

/** RLIMIT_AS's soft limit ("unlimited" reads as 2^64-1, as Prometheus' Go procfs reports it). */
async function readAddressSpaceLimit(): Promise<number> {
  return readLimit(/^Max address space\s+(\S+)/m);
}

async function readLimit(re: RegExp): Promise<number> {
  try {
    const m = (await readFile('/proc/self/limits', 'utf8')).match(re);
    if (!m) return 0;
    return m[1] === 'unlimited' ? 2 ** 64 - 1 : Number(m[1]);
  } catch {
    return 0; // not Linux: no /proc
  }
}

async function countOpenFds(): Promise<number> {
  try {
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}
