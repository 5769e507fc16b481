/**
 * Parses kv-server's configuration the way etcd 3.4 does: command-line flags (Go `flag` syntax:
 * `--name value`, `--name=value`, `-name`, booleans as `--flag` or `--flag=false`), then `ETCD_*`
 * environment variables for flags not given on the command line, or a YAML `--config-file` with etcd's
 * keys (which, as in etcd, makes flags and environment variables ignored).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseAuthTokenSpec } from '../auth/tokens/parse.js';
import { CipherSuiteError, validateCipherSuites } from '../tls/cipher-suites.js';
import { isTlsInfoEmpty, type TlsInfo } from '../tls/tls-info.js';
import { FLAG_BY_NAME, FLAGS, type FlagDef } from './flags.js';

/** A configuration error: printed as one line, exit code 1. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The storage engines of `--backend`. */
export type BackendEngine = 'memory' | 'level' | 'lmdb';

/** Fully parsed and validated server configuration. */
export interface ServerConfig {
  name: string;
  dataDir: string;
  walDir: string;
  snapshotCount: number;
  heartbeatMs: number;
  electionMs: number;
  initialElectionTickAdvance: boolean;
  listenPeerUrls: URL[];
  listenClientUrls: URL[];
  listenMetricsUrls: URL[];
  advertiseClientUrls: URL[];
  initialAdvertisePeerUrls: URL[];
  /** member name → peer URLs */
  initialCluster: Map<string, string[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  maxSnapshots: number;
  maxWals: number;
  quotaBackendBytes: number;
  backendBatchIntervalMs: number;
  backendBatchLimit: number;
  maxTxnOps: number;
  maxRequestBytes: number;
  /** `--max-concurrent-streams`: SETTINGS_MAX_CONCURRENT_STREAMS of client connections (0: no limit). */
  maxConcurrentStreams: number;
  /** `--grpc-keepalive-min-time` in ms: clients pinging more often get GOAWAY too_many_pings. */
  grpcKeepaliveMinTimeMs: number;
  /** `--grpc-keepalive-interval` in ms: ping a silent client this often (0: never). */
  grpcKeepaliveIntervalMs: number;
  /** `--grpc-keepalive-timeout` in ms: close a client that does not answer a ping within this (0: never). */
  grpcKeepaliveTimeoutMs: number;
  strictReconfigCheck: boolean;
  preVote: boolean;
  autoCompactionMode: 'periodic' | 'revision';
  autoCompactionRetention: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';
  logOutputs: string[];
  backend: BackendEngine;
  /** `--backend-max-open-files`: LevelDB's table cache of the `level` engine (default @kv/mvcc's). */
  backendMaxOpenFiles?: number;
  watchProgressNotifyIntervalMs: number;
  enableLeaseCheckpoint: boolean;
  /** `--experimental-initial-corrupt-check`: compare HashKV with peers before serving clients. */
  initialCorruptCheck: boolean;
  /** `--experimental-corrupt-check-time` in ms: period of the leader's hash comparison (0: off). */
  corruptCheckTimeMs: number;
  /** `--auth-token`: `simple` or `jwt,pub-key=...,priv-key=...,sign-method=...,ttl=...`. */
  authToken: string;
  /** `--auth-token-ttl`: seconds a simple token lives without use. */
  authTokenTtl: number;
  /** `--bcrypt-cost`: bcrypt cost of password hashes (4..31). */
  bcryptCost: number;
  /** Client TLS flags (`--cert-file`, `--key-file`, `--trusted-ca-file`, `--auto-tls`, ...). */
  clientTls: TlsInfo;
  /** Peer TLS flags (`--peer-cert-file`, `--peer-key-file`, `--peer-auto-tls`, ...). */
  peerTls: TlsInfo;
  /** Warnings collected while parsing (logged once the logger exists). */
  warnings: string[];
}

/** What the command line asks for. */
export type ParseOutcome =
  | { action: 'run'; config: ServerConfig }
  | { action: 'help' }
  | { action: 'version' };

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration ("5s", "1h30m", "100ms"; "0" alone) to milliseconds. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (DURATION_UNITS[m[2]!] ?? 0);
    pos = re.lastIndex;
  }
  if (pos !== text.length || text.length === 0) throw new Error(`time: invalid duration "${text}"`);
  return total;
}

function parseUrls(flag: string, text: string): URL[] {
  if (text === '') return [];
  return text.split(',').map((raw) => {
    const s = raw.trim();
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new ConfigError(`invalid value "${text}" for flag -${flag}: parse ${s}: invalid URL`);
    }
    if (!['http:', 'https:', 'unix:', 'unixs:'].includes(u.protocol)) {
      throw new ConfigError(
        `invalid value "${text}" for flag -${flag}: URL scheme must be http, https, unix, or unixs: ${s}`,
      );
    }
    if (u.protocol.startsWith('http') && u.port === '') {
      throw new ConfigError(
        `invalid value "${text}" for flag -${flag}: URL address does not have the form "host:port": ${s}`,
      );
    }
    return u;
  });
}

function checkValue(def: FlagDef, value: string): void {
  const bad = (why = 'parse error') =>
    new ConfigError(`invalid value "${value}" for flag -${def.name}: ${why}`);
  switch (def.kind) {
    case 'int':
      if (!/^[+-]?\d+$/.test(value)) throw bad();
      break;
    case 'uint':
      if (!/^\+?\d+$/.test(value)) throw bad();
      break;
    case 'uint32':
      parseUint32(def.name, value);
      break;
    case 'bool':
      if (!/^(1|0|t|f|T|F|true|false|TRUE|FALSE|True|False)$/.test(value)) throw bad();
      break;
    case 'duration':
      try {
        parseGoDuration(value);
      } catch {
        throw bad();
      }
      break;
    case 'urls':
      parseUrls(def.name, value);
      break;
    default:
      break;
  }
  if (def.choices && !def.choices.includes(value)) {
    throw bad(`valid values are ${def.choices.join(', ')}`);
  }
}

/** Reads flags from argv into a name → string map; flags not given are absent. */
function readFlags(argv: readonly string[]): {
  values: Map<string, string>;
  help: boolean;
  version: boolean;
} {
  const values = new Map<string, string>();
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw new ConfigError(`'${arg}' is not a valid flag`);
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    if (name === 'version') {
      version = true;
      continue;
    }
    const key = name === 'config-file' ? 'config-file' : name;
    const def = FLAG_BY_NAME.get(key);
    if (!def && key !== 'config-file') throw new ConfigError(`flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) {
      value = body.slice(eq + 1);
    } else if (def?.kind === 'bool') {
      value = 'true';
    } else {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`);
      value = argv[++i]!;
    }
    if (def) checkValue(def, value);
    values.set(key, value);
  }
  return { values, help, version };
}

/** Reads `ETCD_*` environment variables for flags not set on the command line. */
function readEnv(
  env: NodeJS.ProcessEnv,
  fromFlags: Map<string, string>,
  warnings: string[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('ETCD_') || value === undefined) continue;
    const name = key.slice(5).toLowerCase().replace(/_/g, '-');
    if (name === 'config-file') {
      out.set(name, value);
      continue;
    }
    const def = FLAG_BY_NAME.get(name);
    if (!def) {
      warnings.push(`unrecognized environment variable ${key}=${value}`);
      continue;
    }
    if (fromFlags.has(name)) {
      warnings.push(`flag --${name} overrides environment variable ${key}`);
      continue;
    }
    try {
      checkValue(def, value);
    } catch (err) {
      throw new ConfigError(`invalid value "${value}" for ${key}: ${(err as Error).message}`);
    }
    out.set(name, value);
  }
  return out;
}

/** etcd's `client-transport-security` / `peer-transport-security` keys → flag names. */
const TRANSPORT_SECURITY_KEYS: Record<string, { client: string; peer: string }> = {
  'cert-file': { client: 'cert-file', peer: 'peer-cert-file' },
  'key-file': { client: 'key-file', peer: 'peer-key-file' },
  'client-cert-auth': { client: 'client-cert-auth', peer: 'peer-client-cert-auth' },
  'trusted-ca-file': { client: 'trusted-ca-file', peer: 'peer-trusted-ca-file' },
  'auto-tls': { client: 'auto-tls', peer: 'peer-auto-tls' },
};

/**
 * etcd's config file nests the TLS settings (`client-transport-security: {cert-file, key-file,
 * client-cert-auth, trusted-ca-file, auto-tls}`, same for `peer-transport-security`); this turns them
 * into the flat flag names. Other keys pass through unchanged.
 */
function flattenTransportSecurity(
  doc: Record<string, unknown>,
  warnings: string[],
): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, raw] of Object.entries(doc)) {
    const side =
      key === 'client-transport-security' ? 'client' : key === 'peer-transport-security' ? 'peer' : undefined;
    if (side === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      out.push([key, raw]);
      continue;
    }
    for (const [sub, value] of Object.entries(raw as Record<string, unknown>)) {
      const flag = TRANSPORT_SECURITY_KEYS[sub]?.[side];
      if (flag) out.push([flag, value]);
      else warnings.push(`config file key "${key}.${sub}" is not supported; ignored`);
    }
  }
  return out;
}

/**
 * The YAML parser, loaded on first use: loading it costs 150-700 ms of every start (measured with
 * --cpu-prof, docs/benchmarks.md "Memory and restart") and only --config-file needs it.
 */
function loadYaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

/** Reads an etcd YAML config file into flag-name → string values. */
function readConfigFile(path: string, warnings: string[]): Map<string, string> {
  let doc: unknown;
  try {
    doc = loadYaml().parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`error loading config file "${path}": ${(err as Error).message}`);
  }
  const out = new Map<string, string>();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`error loading config file "${path}": expected a YAML mapping`);
  }
  for (const [key, raw] of flattenTransportSecurity(doc as Record<string, unknown>, warnings)) {
    const def = FLAG_BY_NAME.get(key);
    if (!def) {
      warnings.push(`config file key "${key}" is not supported; ignored`);
      continue;
    }
    if (raw === null || raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.map(String).join(',') : String(raw);
    try {
      checkValue(def, value);
    } catch (err) {
      throw new ConfigError(`error loading config file "${path}": ${(err as Error).message}`);
    }
    out.set(key, value);
  }
  return out;
}

export function parseInitialCluster(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of text.split(',')) {
    const s = part.trim();
    if (s === '') continue;
    const eq = s.indexOf('=');
    if (eq <= 0)
      throw new ConfigError(`invalid value "${text}" for flag -initial-cluster: missing '=' in ${s}`);
    const name = s.slice(0, eq);
    const url = s.slice(eq + 1);
    parseUrls('initial-cluster', url);
    const list = out.get(name) ?? [];
    list.push(url);
    out.set(name, list);
  }
  return out;
}

const toBool = (s: string) => /^(1|t|T|true|TRUE|True)$/.test(s);

/**
 * Parses argv (without node and script) and the environment into a validated configuration.
 * Throws {@link ConfigError} with a one-line message on any invalid input.
 */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParseOutcome {
  const warnings: string[] = [];
  const flags = readFlags(argv);
  if (flags.help) return { action: 'help' };
  if (flags.version) return { action: 'version' };
  const envValues = readEnv(env, flags.values, warnings);
  const configFile = flags.values.get('config-file') ?? envValues.get('config-file');
  let given: Map<string, string>;
  if (configFile) {
    given = readConfigFile(configFile, warnings);
    if (flags.values.size > 1 || envValues.size > (envValues.has('config-file') ? 1 : 0)) {
      warnings.push('config file is given; other command line flags and environment variables are ignored');
    }
  } else {
    given = new Map([...envValues, ...flags.values]);
  }
  const get = (name: string): string => {
    const v = given.get(name);
    if (v !== undefined) return v;
    return FLAG_BY_NAME.get(name)!.def;
  };
  for (const def of FLAGS) {
    // A flag kv-server does not act on is refused when set, never accepted and ignored.
    if (def.supported === false && given.has(def.name) && given.get(def.name) !== def.def) {
      throw new ConfigError(`--${def.name} is not supported by kv-server (${def.help})`);
    }
  }
  const num = (name: string) => Number(get(name));
  const name = get('name');
  const dataDir = given.get('data-dir') ?? `${name}.etcd`;
  const listenClientUrls = parseUrls('listen-client-urls', get('listen-client-urls'));
  const advertiseClientUrls = parseUrls('advertise-client-urls', get('advertise-client-urls'));
  if (given.has('listen-client-urls') && !given.has('advertise-client-urls')) {
    throw new ConfigError('--advertise-client-urls is required when --listen-client-urls is set explicitly');
  }
  const initialAdvertisePeerUrls = parseUrls(
    'initial-advertise-peer-urls',
    get('initial-advertise-peer-urls'),
  );
  let clusterText = get('initial-cluster');
  if (!given.has('initial-cluster')) {
    clusterText = initialAdvertisePeerUrls.map((u) => `${name}=${u.origin}`).join(',');
  }
  const initialCluster = parseInitialCluster(clusterText);
  if (!initialCluster.has(name)) {
    throw new ConfigError(`couldn't find local name "${name}" in the initial cluster configuration`);
  }
  const heartbeatMs = num('heartbeat-interval');
  const electionMs = num('election-timeout');
  if (heartbeatMs === 0) throw new ConfigError('--heartbeat-interval must be greater than 0');
  if (5 * heartbeatMs > electionMs) {
    throw new ConfigError(
      `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`,
    );
  }
  if (electionMs > 50_000) {
    throw new ConfigError(
      `--election-timeout[${electionMs}ms] is too long, and should be set less than 50000ms`,
    );
  }
  const mode = get('auto-compaction-mode') as 'periodic' | 'revision';
  const retention = get('auto-compaction-retention');
  if (mode === 'revision' && !/^\d+$/.test(retention)) {
    throw new ConfigError(`invalid auto-compaction-retention "${retention}" for mode "revision"`);
  }
  if (mode === 'periodic' && !/^\d+$/.test(retention)) {
    try {
      parseGoDuration(retention);
    } catch {
      throw new ConfigError(`invalid auto-compaction-retention "${retention}" for mode "periodic"`);
    }
  }
  if (get('logger') === 'capnslog') {
    throw new ConfigError(
      "--logger=capnslog is not supported: kv-server writes zap's structured JSON only (use --logger=zap)",
    );
  }
  const logOutputs = parseLogOutputs(get('log-outputs'));
  let logLevel = get('log-level') as ServerConfig['logLevel'];
  if (toBool(get('debug'))) logLevel = 'debug';
  const batchInterval = get('backend-batch-interval');
  const authToken = get('auth-token');
  try {
    parseAuthTokenSpec(authToken); // key files are read at start; the syntax is checked here
  } catch (err) {
    throw new ConfigError(`invalid value "${authToken}" for flag -auth-token: ${(err as Error).message}`);
  }
  const bcryptCost = num('bcrypt-cost');
  if (bcryptCost < 4 || bcryptCost > 31) {
    throw new ConfigError(`invalid bcrypt-cost ${bcryptCost}: valid values are between 4 and 31`);
  }
  const config: ServerConfig = {
    name,
    dataDir,
    walDir: get('wal-dir'),
    snapshotCount: num('snapshot-count'),
    heartbeatMs,
    electionMs,
    initialElectionTickAdvance: toBool(get('initial-election-tick-advance')),
    listenPeerUrls: parseUrls('listen-peer-urls', get('listen-peer-urls')),
    listenClientUrls,
    listenMetricsUrls: parseUrls('listen-metrics-urls', get('listen-metrics-urls')),
    advertiseClientUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: get('initial-cluster-state') as 'new' | 'existing',
    initialClusterToken: get('initial-cluster-token'),
    maxSnapshots: num('max-snapshots'),
    maxWals: num('max-wals'),
    quotaBackendBytes: num('quota-backend-bytes'),
    backendBatchIntervalMs: batchInterval === '' ? 100 : parseGoDuration(batchInterval),
    backendBatchLimit: num('backend-batch-limit') || 10_000,
    maxTxnOps: num('max-txn-ops'),
    maxRequestBytes: num('max-request-bytes'),
    maxConcurrentStreams: parseUint32('max-concurrent-streams', get('max-concurrent-streams')),
    grpcKeepaliveMinTimeMs: parseGoDuration(get('grpc-keepalive-min-time')),
    grpcKeepaliveIntervalMs: parseGoDuration(get('grpc-keepalive-interval')),
    grpcKeepaliveTimeoutMs: parseGoDuration(get('grpc-keepalive-timeout')),
    strictReconfigCheck: toBool(get('strict-reconfig-check')),
    preVote: toBool(get('pre-vote')),
    autoCompactionMode: mode,
    autoCompactionRetention: retention,
    logLevel,
    logOutputs,
    backend: get('backend') as BackendEngine,
    backendMaxOpenFiles: parseMaxOpenFiles(
      given.has('backend-max-open-files'),
      get('backend'),
      num('backend-max-open-files'),
    ),
    watchProgressNotifyIntervalMs: parseGoDuration(get('experimental-watch-progress-notify-interval')),
    enableLeaseCheckpoint: toBool(get('experimental-enable-lease-checkpoint')),
    initialCorruptCheck: toBool(get('experimental-initial-corrupt-check')),
    corruptCheckTimeMs: parseGoDuration(get('experimental-corrupt-check-time')),
    authToken,
    authTokenTtl: num('auth-token-ttl'),
    bcryptCost,
    ...parseTlsFlags(get, {
      client: listenClientUrls,
      peer: parseUrls('listen-peer-urls', get('listen-peer-urls')),
      metrics: parseUrls('listen-metrics-urls', get('listen-metrics-urls')),
    }),
    warnings,
  };
  return { action: 'run', config };
}

/** A uint32 flag (etcd's flags.Uint32Value); its default is spelled `math.MaxUint32`. */
function parseUint32(name: string, value: string): number {
  if (value === 'math.MaxUint32') return 0xffffffff;
  const n = Number(value);
  if (!/^\+?\d+$/.test(value) || n > 0xffffffff) {
    const why = /^\+?\d+$/.test(value) ? 'value out of range' : 'invalid syntax';
    throw new ConfigError(
      `invalid value "${value}" for flag -${name}: strconv.ParseUint: parsing "${value}": ${why}`,
    );
  }
  return n;
}

/** Go's `url.URL.String()` for a listen URL (no trailing slash for an empty path). */
const goUrlString = (u: URL) => `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
const isSecureScheme = (u: URL) => u.protocol === 'https:' || u.protocol === 'unixs:';

/**
 * Reads the client and peer TLS flags and rejects combinations etcd refuses, with etcd's messages:
 * an https:// URL needs a certificate (or auto TLS) on its side; `--cipher-suites` must name suites Go
 * knows. Files are read and checked at startup (tls/setup.ts).
 */
function parseTlsFlags(
  get: (name: string) => string,
  urls: { client: URL[]; peer: URL[]; metrics: URL[] },
): { clientTls: TlsInfo; peerTls: TlsInfo } {
  const cipherSuites =
    get('cipher-suites') === ''
      ? []
      : get('cipher-suites')
          .split(',')
          .map((x) => x.trim());
  try {
    validateCipherSuites(cipherSuites);
  } catch (err) {
    if (err instanceof CipherSuiteError) throw new ConfigError(err.message);
    throw err;
  }
  const clientTls: TlsInfo = {
    certFile: get('cert-file'),
    keyFile: get('key-file'),
    trustedCaFile: get('trusted-ca-file'),
    clientCertAuth: toBool(get('client-cert-auth')),
    crlFile: get('client-crl-file'),
    autoTls: toBool(get('auto-tls')),
    allowedHostname: get('client-cert-allowed-hostname'),
    allowedCn: '',
    cipherSuites,
    selfSigned: false,
  };
  const peerTls: TlsInfo = {
    certFile: get('peer-cert-file'),
    keyFile: get('peer-key-file'),
    trustedCaFile: get('peer-trusted-ca-file'),
    clientCertAuth: toBool(get('peer-client-cert-auth')),
    crlFile: get('peer-crl-file'),
    autoTls: toBool(get('peer-auto-tls')),
    allowedHostname: get('peer-cert-allowed-hostname'),
    allowedCn: get('peer-cert-allowed-cn'),
    cipherSuites,
    selfSigned: false,
  };
  const hasCert = (t: TlsInfo) => !isTlsInfoEmpty(t) || t.autoTls;
  for (const u of urls.peer) {
    if (isSecureScheme(u) && !hasCert(peerTls)) {
      throw new ConfigError(`cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`);
    }
  }
  for (const u of urls.client) {
    if (isSecureScheme(u) && !hasCert(clientTls)) {
      throw new ConfigError(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${goUrlString(u)} with HTTPS scheme`,
      );
    }
  }
  for (const u of urls.metrics) {
    if (isSecureScheme(u) && !hasCert(clientTls)) {
      throw new ConfigError(`cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`);
    }
  }
  return { clientTls, peerTls };
}

/** The `--help` text: every flag with its default, grouped like etcd's. */
export function helpText(bin = 'kv-server'): string {
  const lines = [
    'Usage:',
    '',
    `  ${bin} [flags]`,
    '    Start a kv server (etcd v3 API).',
    '',
    `  ${bin} --version`,
    '    Show the version of kv-server.',
    '',
    `  ${bin} -h | --help`,
    '    Show the help information about kv-server.',
    '',
    `  ${bin} --config-file`,
    "    Path to the server configuration file (YAML with etcd's keys). Note that if a configuration file is provided, other command line flags and environment variables will be ignored.",
    '',
    'Every flag can also be given as an environment variable: ETCD_ + the flag name in upper case with',
    "'-' replaced by '_' (e.g. ETCD_DATA_DIR). Command-line flags win over environment variables.",
  ];
  let group = '';
  for (const def of FLAGS) {
    if (def.group !== group) {
      group = def.group;
      lines.push('', `${group}:`);
    }
    const note =
      def.supported === false ? ' (not supported by kv-server: refused unless left at its default)' : '';
    lines.push(`  --${def.name} '${def.def}'`, `    ${def.help}${note}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * etcd 3.4's zap `--log-outputs`: `default` (stderr; only alone), `stderr`, `stdout` or file paths,
 * several at once. `journal` needs systemd's journal writer, which kv-server does not have.
 */
function parseLogOutputs(value: string): string[] {
  const list = [...new Set(value.split(',').map((v) => v.trim()))];
  if (list.some((v) => v === '')) throw new ConfigError(`invalid --log-outputs "${value}": empty entry`);
  if (list.length > 1 && list.includes('default')) {
    throw new ConfigError('multi logoutput for "default" is not supported yet');
  }
  if (list.includes('journal')) {
    throw new ConfigError('--log-outputs=journal is not supported: kv-server has no systemd journal writer');
  }
  return list;
}

/**
 * `--backend-max-open-files`: LevelDB silently raises values under 74 and lowers values over 50000
 * (db_impl.cc SanitizeOptions), so those are refused rather than changed; other engines have no
 * table cache, so giving the flag with them is refused too.
 */
function parseMaxOpenFiles(given: boolean, engine: string, n: number): number {
  if (given && engine !== 'level') {
    throw new ConfigError(
      `--backend-max-open-files applies to --backend level only (got --backend ${engine})`,
    );
  }
  if (!Number.isInteger(n) || n < 74 || n > 50_000) {
    throw new ConfigError(
      `--backend-max-open-files must be between 74 and 50000 (LevelDB's limits), got ${n}`,
    );
  }
  return n;
}
