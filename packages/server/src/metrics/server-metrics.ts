/**
 * etcd's metric families that kv-server exports, with etcd's names, help texts and buckets
 * (etcd 3.4: etcdserver/metrics.go, mvcc/metrics.go, wal/metrics.go, mvcc/backend/metrics.go,
 * go-grpc-prometheus).
 */
import { exponentialBuckets, Registry } from './registry.js';

/** All metrics of one server instance. */
export class ServerMetrics {
  readonly registry = new Registry();
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
  readonly readIndexFailed = this.registry.counter(
    'etcd_server_slow_read_indexes_total',
    "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
  );
  readonly serverId = this.registry.gauge(
    'etcd_server_id',
    "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
  );
  readonly version = this.registry.gauge(
    'etcd_server_version',
    "Which version is running. 1 for 'server_version' label with current version.",
  );
  readonly clientRequests = this.registry.counter(
    'etcd_server_client_requests_total',
    'The total number of client requests per client version.',
  );
  readonly quotaBackendBytes = this.registry.gauge(
    'etcd_server_quota_backend_bytes',
    'Current backend storage quota size in bytes.',
  );
  readonly dbTotalSize = this.registry.gauge(
    'etcd_mvcc_db_total_size_in_bytes',
    'Total size of the underlying database physically allocated in bytes.',
  );
  readonly dbInUse = this.registry.gauge(
    'etcd_mvcc_db_total_size_in_use_in_bytes',
    'Total size of the underlying database logically in use in bytes.',
  );
  readonly keysTotal = this.registry.gauge('etcd_debugging_mvcc_keys_total', 'Total number of keys.');
  readonly watchers = this.registry.gauge('etcd_debugging_mvcc_watcher_total', 'Total number of watchers.');
  readonly putTotal = this.registry.counter(
    'etcd_mvcc_put_total',
    'Total number of puts seen by this member.',
  );
  readonly deleteTotal = this.registry.counter(
    'etcd_mvcc_delete_total',
    'Total number of deletes seen by this member.',
  );
  readonly txnTotal = this.registry.counter(
    'etcd_mvcc_txn_total',
    'Total number of txns seen by this member.',
  );
  readonly rangeTotal = this.registry.counter(
    'etcd_mvcc_range_total',
    'Total number of ranges seen by this member.',
  );
  readonly walFsync = this.registry.histogram(
    'etcd_disk_wal_fsync_duration_seconds',
    'The latency distributions of fsync called by WAL.',
    exponentialBuckets(0.001, 2, 14),
  );
  readonly backendCommit = this.registry.histogram(
    'etcd_disk_backend_commit_duration_seconds',
    'The latency distributions of commit called by backend.',
    exponentialBuckets(0.001, 2, 14),
  );
  readonly snapshotSave = this.registry.histogram(
    'etcd_debugging_snap_save_total_duration_seconds',
    'The total latency distributions of save called by snapshot.',
    exponentialBuckets(0.001, 2, 14),
  );
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
  );
  readonly grpcHandled = this.registry.counter(
    'grpc_server_handled_total',
    'Total number of RPCs completed on the server, regardless of success or failure.',
  );
  readonly grpcMsgReceived = this.registry.counter(
    'grpc_server_msg_received_total',
    'Total number of RPC stream messages received on the server.',
  );
  readonly grpcMsgSent = this.registry.counter(
    'grpc_server_msg_sent_total',
    'Total number of gRPC stream messages sent by the server.',
  );
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

  // Peer transport (etcd 3.4 etcdserver/api/rafthttp/metrics.go): names, help texts, labels, buckets.
  readonly peerActive = this.registry.gauge(
    'etcd_network_active_peers',
    'The current number of active peer connections.',
  );
  readonly peerDisconnected = this.registry.counter(
    'etcd_network_disconnected_peers_total',
    'The total number of disconnected peers.',
  );
  readonly peerSentBytes = this.registry.counter(
    'etcd_network_peer_sent_bytes_total',
    'The total number of bytes sent to peers.',
  );
  readonly peerReceivedBytes = this.registry.counter(
    'etcd_network_peer_received_bytes_total',
    'The total number of bytes received from peers.',
  );
  readonly peerSentFailures = this.registry.counter(
    'etcd_network_peer_sent_failures_total',
    'The total number of send failures from peers.',
  );
  readonly peerReceivedFailures = this.registry.counter(
    'etcd_network_peer_received_failures_total',
    'The total number of receive failures from peers.',
  );
  readonly snapshotSendSuccess = this.registry.counter(
    'etcd_network_snapshot_send_success',
    'Total number of successful snapshot sends',
  );
  readonly snapshotSendInflights = this.registry.gauge(
    'etcd_network_snapshot_send_inflights_total',
    'Total number of inflight snapshot sends',
  );
  readonly snapshotSendFailures = this.registry.counter(
    'etcd_network_snapshot_send_failures',
    'Total number of snapshot send failures',
  );
  readonly snapshotSendSeconds = this.registry.histogram(
    'etcd_network_snapshot_send_total_duration_seconds',
    'Total latency distributions of v3 snapshot sends',
    exponentialBuckets(0.1, 2, 10),
  );
  readonly snapshotReceiveSuccess = this.registry.counter(
    'etcd_network_snapshot_receive_success',
    'Total number of successful snapshot receives',
  );
  readonly snapshotReceiveInflights = this.registry.gauge(
    'etcd_network_snapshot_receive_inflights_total',
    'Total number of inflight snapshot receives',
  );
  readonly snapshotReceiveFailures = this.registry.counter(
    'etcd_network_snapshot_receive_failures',
    'Total number of snapshot receive failures',
  );
  readonly snapshotReceiveSeconds = this.registry.histogram(
    'etcd_network_snapshot_receive_total_duration_seconds',
    'Total latency distributions of v3 snapshot receives',
    exponentialBuckets(0.1, 2, 10),
  );
  readonly peerRoundTripTime = this.registry.histogram(
    'etcd_network_peer_round_trip_time_seconds',
    'Round-Trip-Time histogram between peers',
    exponentialBuckets(0.0001, 2, 16),
  );
}
