/**
 * Composition root: the raft/MVCC server core plus its client listeners (gRPC and HTTP on each client
 * URL, like etcd's cmux), optional metrics listeners, and the lifecycle log lines operators wait for.
 * `startServer()` is the embedded entry point for JavaScript tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterApi } from './api/cluster.js';
import { createGrpcServer } from './api/grpc-server.js';
import { LeaseApi } from './api/lease.js';
import { parseArgs, type ServerConfig } from './config/parse.js';
import {
  type CorruptCheckPeer,
  type CorruptionChecker,
  corruptionCheckerFor,
  memberInitialized,
} from './etcdserver/corrupt-check.js';
import { Errors } from './etcdserver/errors.js';
import { idHex } from './etcdserver/ids.js';
import { EtcdServer, SERVER_VERSION } from './etcdserver/server.js';
import { createHttpHandler } from './gateway/http.js';
import { Logger, type LogLevel } from './log/logger.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { createPeerHandler } from './peer/handler.js';
import { StartupPorts } from './startup-ports.js';
import { type PeerTlsConfig, type ResolvedTls, resolveTls } from './tls/setup.js';
import type { GrpcServer } from './transport/grpc/server.js';

/** Options of {@link KvServer.start}. */
export interface KvServerOptions {
  logger?: Logger;
  /** Skip WAL fsync (tests only). */
  unsafeNoFsync?: boolean;
  /** Revision-mode auto compaction check interval (ms); etcd's is 5 minutes. */
  revisionCompactionCheckMs?: number;
  /** Lease checkpoint interval (ms, tests); etcd's is 5 minutes. */
  leaseCheckpointIntervalMs?: number;
  /**
   * Test only: members the corruption checks treat as peers besides the cluster's own (so single-member
   * servers can be compared with each other until there is a peer transport). See docs/operations.md.
   */
  corruptCheckPeers?: CorruptCheckPeer[];
  /** Aborts a startup that is still waiting (for peers, a leader, or its own publish). */
  signal?: AbortSignal;
}

/** A running kv server: core + listeners. */
export class KvServer {
  private closing: Promise<void> | undefined;
  private corruptChecker: CorruptionChecker | undefined;

  private constructor(
    readonly etcd: EtcdServer,
    private readonly grpcServer: GrpcServer,
    private readonly log: Logger,
    private readonly tls: ResolvedTls,
    private readonly ports: StartupPorts,
  ) {}

  /** Client URLs actually bound (ports resolved when 0 was requested). */
  get clientUrls(): string[] {
    return this.ports.clientUrls;
  }

  get metricsUrls(): string[] {
    return this.ports.metricsUrls;
  }

  /** Peer URLs actually bound. */
  get peerUrls(): string[] {
    return this.ports.peerUrls;
  }

  /** Peer TLS settings, resolved and checked at startup, for the peer transport. */
  get peerTls(): PeerTlsConfig {
    return this.tls.peer;
  }

  /** Starts the server described by `config`. Resolves once clients are being served. */
  static async start(config: ServerConfig, opts: KvServerOptions = {}): Promise<KvServer> {
    const log = opts.logger ?? new Logger(config.logLevel as LogLevel);
    for (const w of config.warnings) log.warn(w);
    log.info('configuring peer listeners', {
      'listen-peer-urls': config.listenPeerUrls.map((u) => u.origin),
    });
    // Auto TLS, file checks and etcd's TLS log lines; logs "configuring client listeners" itself.
    const tls = await resolveTls(config, log);
    log.info('starting an etcd server', {
      'etcd-version': SERVER_VERSION,
      'kv-backend': config.backend,
      'node-version': process.version,
      'go-os': process.platform,
      'go-arch': process.arch,
      name: config.name,
      'data-dir': config.dataDir,
      'wal-dir': config.walDir,
      'snapshot-count': config.snapshotCount,
      'heartbeat-interval': `${config.heartbeatMs}ms`,
      'election-timeout': `${config.electionMs}ms`,
      'initial-cluster': [...config.initialCluster]
        .map(([n, u]) => u.map((x) => `${n}=${x}`).join(','))
        .join(','),
      'initial-cluster-state': config.initialClusterState,
      'initial-cluster-token': config.initialClusterToken,
      'quota-size-bytes': config.quotaBackendBytes || 2147483648,
      'max-request-bytes': config.maxRequestBytes,
      'max-concurrent-streams': config.maxConcurrentStreams,
      'auto-compaction-mode': config.autoCompactionMode,
      'auto-compaction-retention': config.autoCompactionRetention,
    });
    const metrics = new ServerMetrics();
    // etcd skips the initial corruption check for a member starting for the first time.
    const initialized = memberInitialized(config);
    const ports = new StartupPorts(log);
    let etcd: EtcdServer;
    try {
      await ports.bindPeers(config, tls);
      await ports.bindClients(config, tls);
      etcd = await EtcdServer.start({
        config,
        logger: log,
        metrics,
        unsafeNoFsync: opts.unsafeNoFsync ?? false,
        revisionCompactionCheckMs: opts.revisionCompactionCheckMs,
        leaseCheckpointIntervalMs: opts.leaseCheckpointIntervalMs,
        peerDial: tls.peer.dial,
        signal: opts.signal,
      });
    } catch (err) {
      await ports.close();
      throw err;
    }
    log.info('starting etcd server', {
      'local-member-id': idHex(etcd.memberId),
      'local-server-version': SERVER_VERSION,
      'cluster-version': 'to_be_decided',
    });
    const grpcServer = createGrpcServer(etcd, config, log);
    const kv = new KvServer(etcd, grpcServer, log, tls, ports);
    etcd.on('fatal', () => void kv.close());
    etcd.on('removed', () => void kv.close().then(() => kv.emitRemoved()));
    try {
      kv.attachServices(config);
      // Like etcd, a member waits for its peers and a leader as long as it takes (until stopped).
      await etcd.waitLeader(opts.signal);
      log.info('setting up initial cluster version', { 'cluster-version': '3.4' });
      log.info('enabled capabilities for version', { 'cluster-version': '3.4' });
      log.info('cluster version is updated', { 'cluster-version': '3.4' });
      kv.corruptChecker = corruptionCheckerFor(etcd, log, { extraPeers: opts.corruptCheckPeers });
      // etcd refuses to serve a member whose data disagrees with its peers'.
      if (config.initialCorruptCheck && initialized) await kv.corruptChecker.initialCheck();
      // etcd publishes before it serves clients (the client ports are bound already, so the published
      // URLs are real even where port 0 was asked for).
      await kv.publishSelf(config, opts.signal);
      ports.serveClients();
      kv.corruptChecker.start(config.corruptCheckTimeMs);
    } catch (err) {
      await kv.close();
      throw err;
    }
    return kv;
  }

  /** What the bound ports serve: the gateway, gRPC, metrics and etcd's peer routes. */
  private attachServices(config: ServerConfig): void {
    const lease = new LeaseApi(this.etcd);
    const cluster = new ClusterApi(this.etcd, config.strictReconfigCheck);
    const peer = createPeerHandler({
      etcd: this.etcd,
      renewLease: async (id) => {
        const ttl = lease.renewLocal(id);
        if (ttl < 0) throw Errors.leaseNotFound();
        return ttl;
      },
      leaseTimeToLive: async (id, keys) => {
        if (!this.etcd.isLeader) throw Errors.notLeader();
        const r = lease.localTimeToLive(id, keys);
        return r ? { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 }, ...r } : undefined;
      },
      promoteMember: (id) => cluster.promoteOnLeader(id),
    });
    this.ports.attach({
      http: createHttpHandler(this.etcd, { serveGateway: true }),
      metricsHttp: createHttpHandler(this.etcd, { serveGateway: false }),
      grpc: this.grpcServer,
      peer,
      authEnabled: () => this.etcd.auth.isEnabled(),
    });
    this.ports.logPeers();
  }

  /** Client URLs this member advertises (ports resolved when 0 was asked for). */
  advertisedClientUrls(config: ServerConfig): string[] {
    const advertised = config.advertiseClientUrls.map((u) => u.origin);
    return advertised.some((u) => u.endsWith(':0')) ? [...this.clientUrls] : advertised;
  }

  /** Publishes this member's name and client URLs through raft (etcd's publish), so every member lists them. */
  private async publishSelf(config: ServerConfig, signal?: AbortSignal): Promise<void> {
    await this.etcd.publish(config.name, this.advertisedClientUrls(config), signal);
    this.log.info('published local member to cluster through raft', {
      'local-member-id': idHex(this.etcd.memberId),
      'local-member-attributes': `{Name:${config.name} ClientURLs:[${this.advertisedClientUrls(config).join(' ')}]}`,
      'cluster-id': idHex(this.etcd.clusterId),
    });
  }

  private removedHandlers: Array<() => void> = [];

  /** Called once this member has stopped because it was removed from the cluster. */
  onRemoved(f: () => void): void {
    this.removedHandlers.push(f);
  }

  private emitRemoved(): void {
    for (const f of this.removedHandlers) f();
  }

  /** Graceful stop: stop accepting, finish in-flight calls briefly, stop raft, close storage. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.log.info('closing etcd server', { name: this.etcd.cfg.name, 'data-dir': this.etcd.cfg.dataDir });
      // Stop accepting; connections get a short grace period (in-flight unary calls finish).
      const listenersClosed = Promise.all(this.ports.listeners.map((l) => l.close(1500)));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.grpcServer.forceShutdown();
          resolve();
        }, 1000);
        this.grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      for (const l of this.ports.listeners) l.destroyAll();
      await listenersClosed;
      await this.corruptChecker?.stop();
      await this.etcd.stop();
      await this.ports.peerListener?.close();
      this.log.info('closed etcd server', { name: this.etcd.cfg.name, 'data-dir': this.etcd.cfg.dataDir });
    })();
    return this.closing;
  }
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Storage engine; default `memory`. */
  backend?: 'memory' | 'level' | 'lmdb';
  /** Data directory; default a fresh temporary directory removed by close(). */
  dataDir?: string;
  /** Extra etcd flags, e.g. `['--snapshot-count', '100']`. */
  args?: string[];
  /** Log level; default silent. */
  logLevel?: LogLevel;
  /** Skip WAL fsync for speed (tests); default true for a temporary data dir. */
  unsafeNoFsync?: boolean;
  /** Revision-mode auto compaction check interval in ms (etcd: 5 minutes). */
  revisionCompactionCheckMs?: number;
  /** Lease checkpoint interval in ms under `--experimental-enable-lease-checkpoint` (etcd: 5 minutes). */
  leaseCheckpointIntervalMs?: number;
  /**
   * `https` serves the client URL with TLS; pass the certificate flags (`--cert-file`, `--key-file`,
   * ... or `--auto-tls`) in `args`. Default `http`.
   */
  scheme?: 'http' | 'https';
  /** Test only: extra peers for the corruption checks (see {@link KvServerOptions.corruptCheckPeers}). */
  corruptCheckPeers?: CorruptCheckPeer[];
}

/** A server started by {@link startServer}. */
export interface StartedServer {
  /** `http://127.0.0.1:PORT` (or `https://`) — gRPC and HTTP on the same port. */
  endpoint: string;
  /** Host:port for gRPC clients. */
  address: string;
  dataDir: string;
  server: KvServer;
  close(): Promise<void>;
}

/**
 * Starts an in-process single-member server on a free loopback port.
 *
 * ```ts
 * import { startServer } from '@kv/server';
 * const { endpoint, close } = await startServer();
 * ```
 */
export async function startServer(opts: StartServerOptions = {}): Promise<StartedServer> {
  const temp = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kv-server-'));
  let server: KvServer;
  try {
    const scheme = opts.scheme ?? 'http';
    const parsed = parseArgs([
      '--name',
      'default',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      `${scheme}://127.0.0.1:0`,
      '--advertise-client-urls',
      `${scheme}://127.0.0.1:0`,
      '--listen-peer-urls',
      'http://127.0.0.1:0',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-cluster',
      'default=http://127.0.0.1:2380',
      '--backend',
      opts.backend ?? 'memory',
      ...(opts.args ?? []),
    ]);
    if (parsed.action !== 'run') throw new Error('startServer: unexpected help/version request');
    const logger = opts.logLevel ? new Logger(opts.logLevel) : Logger.silent();
    server = await KvServer.start(parsed.config, {
      logger,
      unsafeNoFsync: opts.unsafeNoFsync ?? temp,
      revisionCompactionCheckMs: opts.revisionCompactionCheckMs,
      leaseCheckpointIntervalMs: opts.leaseCheckpointIntervalMs,
      corruptCheckPeers: opts.corruptCheckPeers,
    });
  } catch (err) {
    // A start that fails (bad flags, a port in use) leaves nobody to remove the directory made for it.
    if (temp) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = server.clientUrls[0]!;
  return {
    endpoint,
    address: endpoint.replace(/^https?:\/\//, ''),
    dataDir,
    server,
    async close() {
      await server.close();
      if (temp) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
