/**
 * The ports a member binds at startup: its peer URLs, client URLs and metrics URLs, all bound before
 * the member starts, as etcd binds its peer and client listeners before it starts its server. From
 * then on the member and its peers dial each other from ephemeral ports, and one of those could take
 * a port still to be bound: three members started at once on one machine have failed that way
 * (`listen EADDRINUSE` on a client port, the member exits). What the ports serve is attached later,
 * once the server exists; client connections accepted before the member is ready wait unserved (see
 * {@link ClientListener.hold}), peer requests wait for the peer handler.
 */
import * as http from 'node:http';
import type { ServerConfig } from './config/parse.js';
import type { Logger } from './log/logger.js';
import { createPeerListener, type PeerListener } from './rafthttp/index.js';
import { rejectGatewayCommonName } from './tls/gateway-cn-guard.js';
import type { ResolvedTls } from './tls/setup.js';
import { describeTlsInfo, tlsReloader } from './tls/tls-info.js';
import { ClientListener, type TlsListenerOptions } from './transport/cmux.js';
import type { GrpcServer } from './transport/grpc/server.js';

/** What the bound ports serve, attached once the server exists. */
export interface PortServices {
  /** The client URLs' HTTP side (gateway, /health, /version, /metrics). */
  http: http.RequestListener;
  /** The metrics URLs' HTTP side (no gateway). */
  metricsHttp: http.RequestListener;
  /** The client URLs' gRPC side. */
  grpc: GrpcServer;
  /** The peer URLs' routes (raft transport, members, leases, version). */
  peer: http.RequestListener;
  /** Whether etcd's auth is on (under --client-cert-auth the gateway refuses certificates with a CN). */
  authEnabled: () => boolean;
}

/** The listeners bound by {@link bindStartupPorts}. */
export class StartupPorts {
  /** Client URLs as bound (ports resolved when 0 was asked for). */
  readonly clientUrls: string[] = [];
  readonly metricsUrls: string[] = [];
  readonly peerUrls: string[] = [];
  /** Client and metrics listeners. */
  readonly listeners: ClientListener[] = [];
  peerListener: PeerListener | undefined;
  private services: PortServices | undefined;
  private readonly servicesSet: Promise<void>;
  private setServices!: () => void;
  /** Log lines for when clients are served (etcd logs them once the member has published itself). */
  private readonly readyLogs: Array<() => void> = [];

  constructor(private readonly log: Logger) {
    this.servicesSet = new Promise((resolve) => {
      this.setServices = resolve;
    });
  }

  /** Attaches what the ports serve; peer requests that arrived before are handled now. */
  attach(services: PortServices): void {
    this.services = services;
    this.setServices();
  }

  /** Starts serving clients (and metrics): connections that waited are served now. */
  serveClients(): void {
    if (!this.services) throw new Error('startup ports: serveClients() before attach()');
    for (const l of this.listeners) l.serve();
    for (const f of this.readyLogs.splice(0)) f();
  }

  /** Closes every listener (a startup that failed before the server took them over). */
  async close(): Promise<void> {
    for (const l of this.listeners) l.destroyAll();
    await Promise.all(this.listeners.map((l) => l.close()));
    await this.peerListener?.close();
  }

  /** The peer handler, or a wait for it. */
  readonly peerHandler: http.RequestListener = (req, res) => {
    if (this.services) this.services.peer(req, res);
    else void this.servicesSet.then(() => this.services!.peer(req, res));
  };

  /** Binds the client and metrics URLs, held until {@link StartupPorts.serveClients}. */
  async bindClients(config: ServerConfig, tls: ResolvedTls): Promise<void> {
    const clientTls = tls.client;
    const isSecure = (url: URL) => url.protocol === 'https:' || url.protocol === 'unixs:';
    // Each TLS listener gets its own reloader: it swaps that listener's context when files change.
    const tlsFor = (url: URL): TlsListenerOptions | undefined =>
      clientTls && isSecure(url)
        ? {
            options: clientTls.serverOptions,
            allowedHostname: clientTls.info.allowedHostname,
            log: this.log,
            refresh: tlsReloader(clientTls.info, (err) =>
              this.log.warn('failed to reload client TLS files; keeping the previous ones', {
                error: err.message,
              }),
            ),
          }
        : undefined;
    if (clientTls && config.listenClientUrls.some(isSecure)) {
      this.log.info('starting with client TLS', {
        'tls-info': describeTlsInfo(clientTls.info),
        'cipher-suites': clientTls.info.cipherSuites,
      });
    }
    // Routed only after attach() (the listeners are held until serveClients()).
    const services = () => this.services!;
    const grpc = {
      injectConnection: (...a: Parameters<GrpcServer['injectConnection']>) =>
        services().grpc.injectConnection(...a),
    };
    for (const url of config.listenClientUrls) {
      const secure = tlsFor(url);
      const handler: http.RequestListener = (req, res) => services().http(req, res);
      // Under --client-cert-auth etcd's gateway refuses callers whose certificate has a CN (see guard).
      const guarded =
        secure && clientTls?.info.clientCertAuth
          ? rejectGatewayCommonName(handler, () => services().authEnabled())
          : handler;
      const httpServer = http.createServer(guarded);
      httpServer.keepAliveTimeout = 30_000;
      const listener = new ClientListener({ grpc, http: httpServer, tls: secure });
      listener.hold();
      this.listeners.push(listener);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = await listener.listen(Number(url.port), host === 'localhost' ? '127.0.0.1' : host);
      this.clientUrls.push(`${url.protocol}//${url.hostname}:${port}`);
      this.readyLogs.push(() => {
        this.log.info('ready to serve client requests');
        if (secure) {
          this.log.info('serving client traffic securely', { address: `${url.hostname}:${port}` });
        } else {
          this.log.info('serving client traffic insecurely; this is strongly discouraged!', {
            address: `${url.hostname}:${port}`,
          });
        }
      });
    }
    for (const url of config.listenMetricsUrls) {
      const httpServer = http.createServer((req, res) => services().metricsHttp(req, res));
      // etcd serves https:// metrics URLs with the client TLS settings.
      const listener = new ClientListener({ http: httpServer, tls: tlsFor(url) });
      listener.hold();
      this.listeners.push(listener);
      const port = await listener.listen(
        Number(url.port),
        url.hostname === 'localhost' ? '127.0.0.1' : url.hostname,
      );
      const bound = `${url.protocol}//${url.hostname}:${port}`;
      this.metricsUrls.push(bound);
      this.readyLogs.push(() => this.log.info('serving metrics', { address: `${bound}/metrics` }));
    }
  }

  /** Binds the peer URLs; requests wait for the peer handler (see {@link StartupPorts.attach}). */
  async bindPeers(config: ServerConfig, tls: ResolvedTls): Promise<void> {
    const peerTls = tls.peer;
    this.peerListener = await createPeerListener(config.listenPeerUrls, peerTls.server, this.peerHandler, {
      allowedCn: peerTls.allowedCn,
      allowedHostname: peerTls.allowedHostname,
      logger: this.log,
    });
    this.peerUrls.push(...this.peerListener.urls);
  }

  /** Logs the peer URLs being served (etcd logs it once its server has started). */
  logPeers(): void {
    for (const url of this.peerUrls) {
      this.log.info('serving peer traffic', { address: url, secure: url.startsWith('https:') });
    }
  }
}
