/**
 * @kv/server — kv-server: etcd's v3 API (gRPC + JSON gateway) on raft, WAL and MVCC.
 *
 * Embedded use: `const { endpoint, close } = await startServer()`.
 */
export { ConfigError, helpText, parseArgs, type ServerConfig } from './config/parse.js';
export {
  KvServer,
  type KvServerOptions,
  type StartedServer,
  type StartServerOptions,
  startServer,
} from './embed.js';
export { Errors, EtcdError } from './etcdserver/errors.js';
export {
  ETCD_BUCKETS,
  EtcdBackendError,
  type EtcdClusterInfo,
  type EtcdDbStatus,
  etcdBucketsFromKv,
  etcdDbStatus,
  loadEtcdBackend,
} from './etcdserver/etcd-backend.js';
export { type EtcdSnapshotStream, openEtcdSnapshot } from './etcdserver/etcd-snapshot-stream.js';
export {
  isBboltFile,
  type RestoreOptions,
  type RestoreResult,
  readSnapshotContent,
  restoreSnapshot,
  type SnapshotContent,
  SnapshotRestoreError,
  type SnapshotStatus,
  snapshotStatus,
} from './etcdserver/restore.js';
export { CLUSTER_VERSION, EtcdServer, SERVER_VERSION } from './etcdserver/server.js';
export { Logger, type LogLevel } from './log/logger.js';
export { ServerMetrics } from './metrics/server-metrics.js';
export type { PeerTlsConfig, ResolvedTls } from './tls/setup.js';
export { TlsConfigError, type TlsInfo } from './tls/tls-info.js';
