/**
 * The table of etcd 3.4's server flags that kv-server accepts, with etcd's defaults and help texts.
 * `supported: false` marks flags kv-server does not act on: accepted at their default value (scripts pass
 * them), refused with a clear error when set to anything else.
 */

import { DEFAULT_LEVEL_MAX_OPEN_FILES } from '@kv/mvcc';

/** How a flag's value is parsed. */
export type FlagKind =
  | 'string'
  | 'int'
  | 'uint'
  | 'uint32'
  | 'bool'
  | 'duration-ms'
  | 'duration'
  | 'urls'
  | 'list';

/** One flag definition. */
export interface FlagDef {
  readonly name: string;
  readonly kind: FlagKind;
  /** Default as etcd prints it in --help (string form). */
  readonly def: string;
  readonly help: string;
  readonly group: string;
  readonly supported?: boolean;
  /** Allowed values for enumerations. */
  readonly choices?: readonly string[];
}

const M = 'Member';
const C = 'Clustering';
const S = 'Security';
const A = 'Auth';
const P = 'Profiling and Monitoring';
const L = 'Logging';
const X = 'Experimental feature';
const K = 'kv-server';

/** Every flag, in the order of `--help`. */
export const FLAGS: readonly FlagDef[] = [
  { group: M, name: 'name', kind: 'string', def: 'default', help: 'Human-readable name for this member.' },
  // biome-ignore lint/suspicious/noTemplateCurlyInString: etcd prints this default literally
  { group: M, name: 'data-dir', kind: 'string', def: '${name}.etcd', help: 'Path to the data directory.' },
  { group: M, name: 'wal-dir', kind: 'string', def: '', help: 'Path to the dedicated wal directory.' },
  {
    group: M,
    name: 'snapshot-count',
    kind: 'uint',
    def: '100000',
    help: 'Number of committed transactions to trigger a snapshot to disk.',
  },
  {
    group: M,
    name: 'heartbeat-interval',
    kind: 'uint',
    def: '100',
    help: 'Time (in milliseconds) of a heartbeat interval.',
  },
  {
    group: M,
    name: 'election-timeout',
    kind: 'uint',
    def: '1000',
    help: 'Time (in milliseconds) for an election to timeout. See tuning documentation for details.',
  },
  {
    group: M,
    name: 'initial-election-tick-advance',
    kind: 'bool',
    def: 'true',
    help: 'Whether to fast-forward initial election ticks on boot for faster election.',
  },
  {
    group: M,
    name: 'listen-peer-urls',
    kind: 'urls',
    def: 'http://localhost:2380',
    help: 'List of URLs to listen on for peer traffic.',
  },
  {
    group: M,
    name: 'listen-client-urls',
    kind: 'urls',
    def: 'http://localhost:2379',
    help: 'List of URLs to listen on for client traffic.',
  },
  {
    group: M,
    name: 'max-snapshots',
    kind: 'uint',
    def: '5',
    help: 'Maximum number of snapshot files to retain (0 is unlimited).',
  },
  {
    group: M,
    name: 'max-wals',
    kind: 'uint',
    def: '5',
    help: 'Maximum number of wal files to retain (0 is unlimited).',
  },
  {
    group: M,
    name: 'quota-backend-bytes',
    kind: 'int',
    def: '0',
    help: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota).',
  },
  {
    group: M,
    name: 'backend-batch-interval',
    kind: 'duration',
    def: '',
    help: 'BackendBatchInterval is the maximum time before commit the backend transaction.',
  },
  {
    group: M,
    name: 'backend-batch-limit',
    kind: 'uint',
    def: '0',
    help: 'BackendBatchLimit is the maximum operations before commit the backend transaction.',
  },
  {
    group: M,
    name: 'max-txn-ops',
    kind: 'uint',
    def: '128',
    help: 'Maximum number of operations permitted in a transaction.',
  },
  {
    group: M,
    name: 'max-request-bytes',
    kind: 'uint',
    def: '1572864',
    help: 'Maximum client request size in bytes the server will accept.',
  },
  {
    group: M,
    name: 'max-concurrent-streams',
    kind: 'uint32',
    def: 'math.MaxUint32',
    help: 'Maximum concurrent streams that each client can open at a time.',
  },
  {
    group: M,
    name: 'grpc-keepalive-min-time',
    kind: 'duration',
    def: '5s',
    help: 'Minimum duration interval that a client should wait before pinging server.',
  },
  {
    group: M,
    name: 'grpc-keepalive-interval',
    kind: 'duration',
    def: '2h',
    help: 'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).',
  },
  {
    group: M,
    name: 'grpc-keepalive-timeout',
    kind: 'duration',
    def: '20s',
    help: 'Additional duration of wait before closing a non-responsive connection (0 to disable).',
  },
  {
    group: C,
    name: 'initial-advertise-peer-urls',
    kind: 'urls',
    def: 'http://localhost:2380',
    help: "List of this member's peer URLs to advertise to the rest of the cluster.",
  },
  {
    group: C,
    name: 'initial-cluster',
    kind: 'string',
    def: 'default=http://localhost:2380',
    help: 'Initial cluster configuration for bootstrapping.',
  },
  {
    group: C,
    name: 'initial-cluster-state',
    kind: 'string',
    def: 'new',
    choices: ['new', 'existing'],
    help: "Initial cluster state ('new' or 'existing').",
  },
  {
    group: C,
    name: 'initial-cluster-token',
    kind: 'string',
    def: 'etcd-cluster',
    help: 'Initial cluster token for the etcd cluster during bootstrap.',
  },
  {
    group: C,
    name: 'advertise-client-urls',
    kind: 'urls',
    def: 'http://localhost:2379',
    help: "List of this member's client URLs to advertise to the public.",
  },
  {
    group: C,
    name: 'discovery',
    kind: 'string',
    def: '',
    supported: false,
    help: 'Discovery URL used to bootstrap the cluster.',
  },
  {
    group: C,
    name: 'discovery-fallback',
    kind: 'string',
    def: 'proxy',
    supported: false,
    help: "Expected behavior ('exit' or 'proxy') when discovery services fails.",
  },
  {
    group: C,
    name: 'discovery-proxy',
    kind: 'string',
    def: '',
    supported: false,
    help: 'HTTP proxy to use for traffic to discovery service.',
  },
  {
    group: C,
    name: 'discovery-srv',
    kind: 'string',
    def: '',
    supported: false,
    help: 'DNS srv domain used to bootstrap the cluster.',
  },
  {
    group: C,
    name: 'discovery-srv-name',
    kind: 'string',
    def: '',
    supported: false,
    help: 'Suffix to the dns srv name queried when bootstrapping.',
  },
  {
    group: C,
    name: 'strict-reconfig-check',
    kind: 'bool',
    def: 'true',
    help: 'Reject reconfiguration requests that would cause quorum loss.',
  },
  {
    group: C,
    name: 'pre-vote',
    kind: 'bool',
    def: 'false',
    help: 'Enable to run an additional Raft election phase.',
  },
  {
    group: C,
    name: 'auto-compaction-retention',
    kind: 'string',
    def: '0',
    help: 'Auto compaction retention length. 0 means disable auto compaction.',
  },
  {
    group: C,
    name: 'auto-compaction-mode',
    kind: 'string',
    def: 'periodic',
    choices: ['periodic', 'revision'],
    help: "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' for revision number based retention.",
  },
  {
    group: C,
    name: 'enable-v2',
    kind: 'bool',
    def: 'false',
    supported: false,
    help: 'Accept etcd V2 client requests.',
  },
  {
    group: S,
    name: 'cert-file',
    kind: 'string',
    def: '',
    help: 'Path to the client server TLS cert file.',
  },
  {
    group: S,
    name: 'key-file',
    kind: 'string',
    def: '',
    help: 'Path to the client server TLS key file.',
  },
  {
    group: S,
    name: 'client-cert-auth',
    kind: 'bool',
    def: 'false',
    help: 'Enable client cert authentication.',
  },
  {
    group: S,
    name: 'client-crl-file',
    kind: 'string',
    def: '',
    help: 'Path to the client certificate revocation list file.',
  },
  {
    group: S,
    name: 'client-cert-allowed-hostname',
    kind: 'string',
    def: '',
    help: 'Allowed TLS hostname for client cert authentication.',
  },
  {
    group: S,
    name: 'trusted-ca-file',
    kind: 'string',
    def: '',
    help: 'Path to the client server TLS trusted CA cert file.',
  },
  {
    group: S,
    name: 'auto-tls',
    kind: 'bool',
    def: 'false',
    help: 'Client TLS using generated certificates.',
  },
  {
    group: S,
    name: 'peer-cert-file',
    kind: 'string',
    def: '',
    help: 'Path to the peer server TLS cert file.',
  },
  {
    group: S,
    name: 'peer-key-file',
    kind: 'string',
    def: '',
    help: 'Path to the peer server TLS key file.',
  },
  {
    group: S,
    name: 'peer-client-cert-auth',
    kind: 'bool',
    def: 'false',
    help: 'Enable peer client cert authentication.',
  },
  {
    group: S,
    name: 'peer-trusted-ca-file',
    kind: 'string',
    def: '',
    help: 'Path to the peer server TLS trusted CA file.',
  },
  {
    group: S,
    name: 'peer-cert-allowed-cn',
    kind: 'string',
    def: '',
    help: 'Required CN for client certs connecting to the peer endpoint.',
  },
  {
    group: S,
    name: 'peer-cert-allowed-hostname',
    kind: 'string',
    def: '',
    help: 'Allowed TLS hostname for inter peer authentication.',
  },
  {
    group: S,
    name: 'peer-auto-tls',
    kind: 'bool',
    def: 'false',
    help: 'Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are not provided.',
  },
  {
    group: S,
    name: 'peer-crl-file',
    kind: 'string',
    def: '',
    help: 'Path to the peer certificate revocation list file.',
  },
  {
    group: S,
    name: 'cipher-suites',
    kind: 'string',
    def: '',
    help: 'Comma-separated list of supported TLS cipher suites between client/server and peers (empty will be auto-populated by Go).',
  },
  {
    group: S,
    name: 'cors',
    kind: 'string',
    def: '*',
    help: 'Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all).',
  },
  {
    group: S,
    name: 'host-whitelist',
    kind: 'string',
    def: '*',
    help: 'Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all).',
  },
  {
    group: A,
    name: 'auth-token',
    kind: 'string',
    def: 'simple',
    help: "Specify a v3 authentication token type and its options ('simple' or 'jwt'). jwt takes 'jwt,pub-key=<path>,priv-key=<path>,sign-method=<RS256|ES256|EdDSA|HS256|...>,ttl=<duration>'.",
  },
  {
    group: A,
    name: 'bcrypt-cost',
    kind: 'uint',
    def: '10',
    help: 'Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid values are between 4 and 31.',
  },
  {
    group: A,
    name: 'auth-token-ttl',
    kind: 'uint',
    def: '300',
    help: 'Time (in seconds) of the auth-token-ttl.',
  },
  {
    group: P,
    name: 'enable-pprof',
    kind: 'bool',
    def: 'false',
    supported: false,
    help: 'Enable runtime profiling data via HTTP server.',
  },
  {
    group: P,
    name: 'metrics',
    kind: 'string',
    def: 'basic',
    choices: ['basic', 'extensive'],
    help: "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics.",
  },
  {
    group: P,
    name: 'listen-metrics-urls',
    kind: 'urls',
    def: '',
    help: 'List of URLs to listen on for the metrics and health endpoints.',
  },
  {
    group: L,
    name: 'logger',
    kind: 'string',
    def: 'zap',
    choices: ['zap', 'capnslog'],
    help: "Specify 'zap' for structured logging. kv-server refuses 'capnslog' (etcd 3.4's default): it writes zap's JSON only.",
  },
  {
    group: L,
    name: 'log-outputs',
    kind: 'list',
    def: 'default',
    help: "'default' (stderr), 'stderr', 'stdout' or file paths, comma separated; every line goes to each. 'journal' is refused.",
  },
  {
    group: L,
    name: 'log-level',
    kind: 'string',
    def: 'info',
    choices: ['debug', 'info', 'warn', 'error', 'panic', 'fatal'],
    help: 'Configures log level. Only supports debug, info, warn, error, panic, or fatal.',
  },
  {
    group: L,
    name: 'debug',
    kind: 'bool',
    def: 'false',
    help: "Enable debug-level logging for etcd. Use '--log-level=debug' instead.",
  },
  {
    group: X,
    name: 'experimental-initial-corrupt-check',
    kind: 'bool',
    def: 'false',
    help: 'Enable to check data corruption before serving any client/peer traffic.',
  },
  {
    group: X,
    name: 'experimental-corrupt-check-time',
    kind: 'duration',
    def: '0s',
    help: 'Duration of time between cluster corruption check passes.',
  },
  {
    group: X,
    name: 'experimental-enable-lease-checkpoint',
    kind: 'bool',
    def: 'false',
    help: 'ExperimentalEnableLeaseCheckpoint enables primary lessor to persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases.',
  },
  {
    group: X,
    name: 'experimental-compaction-batch-limit',
    kind: 'uint',
    def: '1000',
    help: 'ExperimentalCompactionBatchLimit sets the maximum revisions deleted in each compaction batch.',
  },
  {
    group: X,
    name: 'experimental-watch-progress-notify-interval',
    kind: 'duration',
    def: '10m',
    help: 'Duration of periodical watch progress notification.',
  },
  {
    group: X,
    name: 'experimental-warning-apply-duration',
    kind: 'duration',
    def: '100ms',
    help: 'Warning is generated if requests take more than this duration.',
  },
  {
    group: 'Unsafe feature',
    name: 'force-new-cluster',
    kind: 'bool',
    def: 'false',
    supported: false,
    help: 'Force to create a new one-member cluster.',
  },
  {
    group: K,
    name: 'backend',
    kind: 'string',
    def: 'level',
    choices: ['memory', 'level', 'lmdb'],
    help: "Storage engine of the MVCC backend: 'memory' (nothing survives a restart), 'level' or 'lmdb'.",
  },
  {
    group: K,
    name: 'backend-max-open-files',
    kind: 'uint',
    def: String(DEFAULT_LEVEL_MAX_OPEN_FILES),
    help: "LevelDB table files kept open (and memory-mapped) by the 'level' engine, 74-50000; bounds its file-backed memory to about (N - 10) x 2 MiB.",
  },
];

/** Lookup by flag name. */
export const FLAG_BY_NAME: ReadonlyMap<string, FlagDef> = new Map(FLAGS.map((f) => [f.name, f]));
