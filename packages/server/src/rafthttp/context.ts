/**
 * What every part of the peer transport shares: our identity, the sink into raft, logging and metrics,
 * the HTTP agents, and etcd's timing constants (overridable so tests do not wait seconds).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as tls from 'node:tls';
import type { Message } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import type { Logger } from '../log/logger.js';
import type { CounterSeries } from '../metrics/registry.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';

/**
 * The local raft node as the transport sees it (etcd's rafthttp.Raft plus snapshot persistence and
 * removal notice).
 */
export interface RaftSink {
  /** Steps a message into the local raft node. May throw; a {@link PeerHttpError} picks the answer. */
  process(msg: Message): void;
  /** Removed members are refused (410 on streams, 403 on pipeline/snapshot posts). */
  isIdRemoved(id: bigint): boolean;
  reportUnreachable(id: bigint): void;
  reportSnapshot(id: bigint, ok: boolean): void;
  /**
   * Persists an incoming snapshot's data (the bytes after the message) durably; resolves when saved.
   * The transport calls process(msg) only after this resolves.
   */
  receiveSnapshot(msg: Message, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** A peer answered that this member was removed (410/403); called once. */
  onRemoved(): void;
}

/** etcd's timing constants, in milliseconds. */
export interface PeerTiming {
  /** Stream read deadline; writers send link heartbeats every third of it (etcd: 5 s). */
  connReadTimeoutMs: number;
  /** How long a stream write may wait for the peer to read before the stream is dropped (etcd: 5 s). */
  connWriteTimeoutMs: number;
  /** Time to establish a TCP (+TLS) connection to a peer. */
  dialTimeoutMs: number;
  /** First wait between stream dials (etcd's DialRetryFrequency: one dial per 100 ms). */
  dialRetryMs: number;
  /** Consecutive failed dials double the wait up to this cap. */
  dialRetryMaxMs: number;
  /** /raft/probing period (etcd: ConnReadTimeout - 1 s = 4 s). */
  probeIntervalMs: number;
  /** RTT is recorded this often while the peer is healthy (etcd: 30 s) ... */
  probeMonitorHealthyMs: number;
  /** ... and this often while it is not (etcd: 5 s). */
  probeMonitorErrorMs: number;
  /** After a snapshot's response headers arrive, its body must be read within this (etcd: 5 s). */
  snapResponseReadTimeoutMs: number;
}

export const DEFAULT_TIMING: PeerTiming = {
  connReadTimeoutMs: 5000,
  connWriteTimeoutMs: 5000,
  dialTimeoutMs: 3000,
  dialRetryMs: 100,
  dialRetryMaxMs: 1600,
  probeIntervalMs: 4000,
  probeMonitorHealthyMs: 30_000,
  probeMonitorErrorMs: 5000,
  snapResponseReadTimeoutMs: 5000,
};

/** etcd's streamBufSize: messages queued per stream writer. */
export const STREAM_BUF_SIZE = 4096;
/** etcd's pipelineBufSize: messages queued per pipeline. */
export const PIPELINE_BUF_SIZE = 64;
/** etcd's connPerPipeline: concurrent POST /raft requests per peer. */
export const CONN_PER_PIPELINE = 4;

/** The two long-lived stream kinds. */
export type StreamType = 'msgappv2' | 'message';

/** etcd's streamType.endpoint(): note that msgappv2 is served under ".../msgapp". */
export const STREAM_ENDPOINT: Record<StreamType, string> = {
  msgappv2: '/raft/stream/msgapp',
  message: '/raft/stream/message',
};

/** etcd's streamType.String(), used in log fields. */
export const STREAM_NAME: Record<StreamType, string> = {
  msgappv2: 'stream MsgApp v2',
  message: 'stream Message',
};

/** Shared state of one transport. */
export class TransportContext {
  /** Keep-alive agents for pipeline, snapshot and probing requests (streams dial their own socket). */
  readonly httpAgent = new http.Agent({ keepAlive: true });
  readonly httpsAgent: https.Agent;
  private removedReported = false;
  private readonly fromLabels = new Map<bigint, Record<string, string>>();
  private readonly toLabels = new Map<bigint, Record<string, string>>();
  private readonly receivedBytes = new Map<bigint, CounterSeries>();
  private readonly sentBytes = new Map<bigint, CounterSeries>();

  constructor(
    readonly memberId: bigint,
    public clusterId: bigint,
    readonly peerUrls: readonly string[],
    readonly serverVersion: string,
    readonly minClusterVersion: string,
    readonly dialTls: tls.ConnectionOptions | undefined,
    readonly log: Logger,
    readonly metrics: ServerMetrics,
    readonly sink: RaftSink,
    readonly timing: PeerTiming,
  ) {
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(dialTls ?? {}) });
  }

  get idHex(): string {
    return idHex(this.memberId);
  }

  get clusterIdHex(): string {
    return idHex(this.clusterId);
  }

  /** Headers etcd's createPostRequest and streamReader.dial set on every request to a peer. */
  baseHeaders(): Record<string, string> {
    const h: Record<string, string> = {
      'X-Server-From': this.idHex,
      'X-Server-Version': this.serverVersion,
      'X-Min-Cluster-Version': this.minClusterVersion,
      'X-Etcd-Cluster-ID': this.clusterIdHex,
    };
    if (this.peerUrls.length > 0) h['X-PeerURLs'] = this.peerUrls.join(',');
    return h;
  }

  /**
   * Starts a request to `base` + `path` over http or https as the URL says. Establishing the
   * connection (TCP, and TLS for https) must finish within dialTimeoutMs; `idleTimeoutMs`, when given,
   * then bounds each wait for the peer (the socket's idle timeout), like etcd's timeout transports.
   */
  request(
    base: URL,
    path: string,
    options: http.RequestOptions,
    useAgent: boolean,
    idleTimeoutMs = 0,
  ): http.ClientRequest {
    const secure = base.protocol === 'https:';
    const opts: https.RequestOptions = {
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port,
      path,
      ...options,
      agent: useAgent ? (secure ? this.httpsAgent : this.httpAgent) : false,
      ...(secure ? (this.dialTls ?? {}) : {}),
    };
    const req = secure ? https.request(opts) : http.request(opts);
    req.on('socket', (socket) => {
      if (idleTimeoutMs > 0) req.setTimeout(idleTimeoutMs);
      if (!socket.connecting) return;
      const timer = setTimeout(
        () => req.destroy(new Error(`dial tcp ${base.host}: i/o timeout`)),
        this.timing.dialTimeoutMs,
      );
      socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.on('timeout', () => req.destroy(new Error(`read tcp ${base.host}: i/o timeout`)));
    return req;
  }

  /**
   * The `{From: <hex id>}` label set for an id, one object per id: the metrics registry caches a label
   * key per object, so hot paths must not build a new object per message.
   */
  fromLabel(id: bigint): Record<string, string> {
    let l = this.fromLabels.get(id);
    if (!l) this.fromLabels.set(id, (l = { From: idHex(id) }));
    return l;
  }

  /** `etcd_network_peer_received_bytes_total` of one peer, bound once per id (hot path: every frame). */
  receivedBytesFrom(id: bigint): CounterSeries {
    let c = this.receivedBytes.get(id);
    if (!c) this.receivedBytes.set(id, (c = this.metrics.peerReceivedBytes.series(this.fromLabel(id))));
    return c;
  }

  /** `etcd_network_peer_sent_bytes_total` of one peer, bound once per id (hot path: every write). */
  sentBytesTo(id: bigint): CounterSeries {
    let c = this.sentBytes.get(id);
    if (!c) this.sentBytes.set(id, (c = this.metrics.peerSentBytes.series(this.toLabel(id))));
    return c;
  }

  /** The `{To: <hex id>}` label set for an id (see {@link fromLabel}). */
  toLabel(id: bigint): Record<string, string> {
    let l = this.toLabels.get(id);
    if (!l) this.toLabels.set(id, (l = { To: idHex(id) }));
    return l;
  }

  /** Tells the sink once that a peer said we were removed. */
  reportRemoved(): void {
    if (this.removedReported) return;
    this.removedReported = true;
    this.log.warn('the member has been permanently removed from the cluster', {
      'local-member-id': this.idHex,
    });
    this.sink.onRemoved();
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
