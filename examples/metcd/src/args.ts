/**
 * metcd's command line, after raftexample's (`--id`, `--cluster`, `--port`, `--join`) plus the engine,
 * data directory and snapshot settings. Every flag either works or is refused with a clear error.
 */
import { ENGINES, type MetcdEngine } from './kv-store.js';
import { type NodeId, nodeId } from './node-id.js';

/** Parsed and checked flags. */
export interface MetcdConfig {
  id: NodeId;
  /** Every member's peer URL by id (`--cluster`). */
  peers: Map<NodeId, string>;
  /** Host and port of the client HTTP API. */
  host: string;
  port: number;
  join: boolean;
  engine: MetcdEngine;
  dataDir: string;
  snapshotCount: number;
  snapshotCatchUpEntries: number;
  walSegmentBytes: number;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  proposalTimeoutMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** A flag is unknown, missing or out of range. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--help` text. */
export const USAGE = `metcd: a replicated key-value service on @kv/raft

  --id N                     this member's id (required)
  --cluster URLS             peer URLs of the members, comma separated: positional (member i+1 is the
                             i-th URL, as in raftexample) or id=url pairs (required)
  --port P                   client API port (required); --host H its address (default 127.0.0.1)
  --join                     join a running cluster (after POST /member/ID on it) instead of founding one
  --engine E                 memory | leveldb | lmdb (default memory)
  --data-dir D               WAL, snapshots and engine files (default ./metcd-ID)
  --snapshot-count N         snapshot and compact every N applied entries (default 10000)
  --snapshot-catchup N       log entries kept behind a snapshot for slow followers (default 5000)
  --wal-segment-bytes N      WAL segment size (default 67108864)
  --tick-ms N                raft tick interval (default 100); --election-ticks N (10), --heartbeat-ticks N (1)
  --proposal-timeout-ms N    how long a write waits to be applied (default 10000)
  --log-level L              debug | info | warn | error (default info)
`;

const VALUE_FLAGS = new Set([
  'id',
  'cluster',
  'host',
  'port',
  'engine',
  'data-dir',
  'snapshot-count',
  'snapshot-catchup',
  'wal-segment-bytes',
  'tick-ms',
  'election-ticks',
  'heartbeat-ticks',
  'proposal-timeout-ms',
  'log-level',
]);

/**
 * Parses metcd's flags (`--flag value` or `--flag=value`).
 *
 * @example
 * ```ts
 * const cfg = parseArgs(['--id', '1', '--cluster', 'http://127.0.0.1:12379', '--port', '12380']);
 * ```
 */
export function parseArgs(argv: readonly string[]): MetcdConfig {
  const values = new Map<string, string>();
  let join = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new UsageError(`unexpected argument "${arg}"`);
    const name = m[1]!;
    if (name === 'join') {
      if (m[2] !== undefined) throw new UsageError('--join takes no value');
      join = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown flag --${name}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    values.set(name, value);
  }
  const required = (name: string): string => {
    const v = values.get(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  };
  const int = (name: string, dflt: number, min: number): number => {
    const v = values.get(name);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
    return n;
  };

  const id = parseId(required('id'));
  required('port');
  const peers = parseCluster(required('cluster'));
  if (!peers.has(id)) throw new UsageError(`--cluster has no URL for member ${String(id)}`);
  const engine = values.get('engine') ?? 'memory';
  if (!(engine in ENGINES)) {
    throw new UsageError(
      `--engine ${engine} is not available (choose ${Object.keys(ENGINES).join(', ')}; boltdb is not an engine of @kv/mvcc)`,
    );
  }
  const logLevel = values.get('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw new UsageError('--log-level must be debug, info, warn or error');
  const electionTicks = int('election-ticks', 10, 2);
  const heartbeatTicks = int('heartbeat-ticks', 1, 1);
  if (heartbeatTicks >= electionTicks)
    throw new UsageError('--heartbeat-ticks must be below --election-ticks');
  return {
    id,
    peers,
    host: values.get('host') ?? '127.0.0.1',
    port: int('port', 0, 1),
    join,
    engine: engine as MetcdEngine,
    dataDir: values.get('data-dir') ?? `metcd-${String(id)}`,
    snapshotCount: int('snapshot-count', 10_000, 1),
    snapshotCatchUpEntries: int('snapshot-catchup', 5_000, 0),
    walSegmentBytes: int('wal-segment-bytes', 64 * 1024 * 1024, 64 * 1024),
    tickMs: int('tick-ms', 100, 1),
    electionTicks,
    heartbeatTicks,
    proposalTimeoutMs: int('proposal-timeout-ms', 10_000, 1),
    logLevel: logLevel as MetcdConfig['logLevel'],
  };
}

function parseId(s: string): NodeId {
  try {
    return nodeId(s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `url,url,...` (ids 1..n) or `id=url,id=url,...`. */
function parseCluster(s: string): Map<NodeId, string> {
  const peers = new Map<NodeId, string>();
  s.split(',').forEach((item, i) => {
    const eq = item.indexOf('=');
    const id = eq >= 0 ? parseId(item.slice(0, eq)) : parseId(String(i + 1));
    const url = (eq >= 0 ? item.slice(eq + 1) : item).trim().replace(/\/+$/, '');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--cluster: "${url}" is not a URL`);
    }
    if (parsed.protocol !== 'http:')
      throw new UsageError(`--cluster: ${url}: only http:// peer URLs are served`);
    if (peers.has(id)) throw new UsageError(`--cluster names member ${String(id)} twice`);
    peers.set(id, url);
  });
  return peers;
}
