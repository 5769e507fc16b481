/**
 * kv-server's peer transport: etcd 3.4's rafthttp on node:http/https. See README "Peer transport".
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as tls from 'node:tls';
import type { Message } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { DEFAULT_TIMING, type PeerTiming, type RaftSink, TransportContext } from './context.js';
import { TransportStoppedError } from './errors.js';
import { PeerHandler } from './handler.js';
import { Peer, type PeerBufferStats } from './peer.js';
import { Remote } from './remote.js';
import { parseUrls } from './url-picker.js';
import { parseSemVer } from './version-check.js';

/** Options of a {@link PeerTransport}. */
export interface PeerTransportOptions {
  memberId: bigint;
  clusterId: bigint;
  /** Our advertised peer URLs (X-PeerURLs). */
  peerUrls: string[];
  /** Sent as X-Server-Version, e.g. '3.4.23'. */
  serverVersion: string;
  /** Sent as X-Min-Cluster-Version; etcd 3.4 sends '3.0.0'. */
  minClusterVersion: string;
  /** Client side of peer TLS (PeerTlsConfig.dial), used for https:// peer URLs. */
  dialTls?: tls.ConnectionOptions;
  logger: Logger;
  metrics: ServerMetrics;
  sink: RaftSink;
  /** etcd's timing constants; tests shorten them. */
  timing?: Partial<PeerTiming>;
}

/**
 * Sends raft messages to the other members and receives theirs, speaking etcd 3.4's peer protocol so
 * that etcd members and kv members can talk to each other.
 * @example
 * ```ts
 * const tr = new PeerTransport({ memberId, clusterId, peerUrls: ['http://127.0.0.1:2380'],
 *   serverVersion: '3.4.23', minClusterVersion: '3.0.0', logger, metrics, sink });
 * const server = http.createServer((req, res) => { if (!tr.handle(req, res)) serveOther(req, res); });
 * tr.addPeer(otherId, ['http://127.0.0.1:12380']);
 * tr.send(rd.messages);
 * ```
 */
export class PeerTransport {
  private readonly ctx: TransportContext;
  private readonly handler: PeerHandler;
  private peers = new Map<bigint, Peer>();
  private remotes = new Map<bigint, Remote>();
  private stopped = false;

  /** Throws TypeError when a version is not `x.y.z` or an id is not a positive safe integer. */
  constructor(opts: PeerTransportOptions) {
    for (const [name, v] of [
      ['serverVersion', opts.serverVersion],
      ['minClusterVersion', opts.minClusterVersion],
    ] as const) {
      if (!parseSemVer(v))
        throw new TypeError(`${name} must be a semantic version (x.y.z), got ${JSON.stringify(v)}`);
    }
    const isUint64 = (v: unknown) => typeof v === 'bigint' && v >= 0n && v < 1n << 64n;
    if (!isUint64(opts.memberId) || opts.memberId === 0n) {
      throw new TypeError(`memberId must be a non-zero uint64 bigint, got ${String(opts.memberId)}`);
    }
    if (!isUint64(opts.clusterId)) {
      throw new TypeError(`clusterId must be a uint64 bigint, got ${String(opts.clusterId)}`);
    }
    this.ctx = new TransportContext(
      opts.memberId,
      opts.clusterId,
      opts.peerUrls,
      opts.serverVersion,
      opts.minClusterVersion,
      opts.dialTls,
      opts.logger,
      opts.metrics,
      opts.sink,
      { ...DEFAULT_TIMING, ...opts.timing },
    );
    this.handler = new PeerHandler(this.ctx, {
      peer: (id) => this.peers.get(id),
      addRemote: (id, urls) => this.addRemote(id, urls),
    });
  }

  /**
   * Serves /raft, /raft/stream/*, /raft/snapshot, /raft/probing. Returns false (and does not touch
   * res) when the path is not one of them, so the caller serves /members, /version, /leases, ...
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    return this.handler.handle(req, res);
  }

  /**
   * Starts talking to a member (idempotent). Throws TypeError on malformed URLs and
   * TransportStoppedError after stop().
   */
  addPeer(id: bigint, urls: string[]): void {
    if (this.stopped) throw new TransportStoppedError();
    if (this.peers.has(id)) return;
    parseUrls(urls);
    this.peers.set(id, new Peer(this.ctx, id, urls));
    this.ctx.log.info('added remote peer', {
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(id),
      'remote-peer-urls': urls,
    });
  }

  /**
   * etcd's AddRemote: a member known only from a request's headers gets a pipeline so raft's answers
   * reach it; ignored when it is a peer already.
   */
  addRemote(id: bigint, urls: string[]): void {
    if (this.stopped || this.peers.has(id) || this.remotes.has(id) || id === this.ctx.memberId) return;
    try {
      parseUrls(urls);
    } catch (err) {
      this.ctx.log.warn('ignored remote peer with malformed URLs', {
        'remote-peer-id': idHex(id),
        urls,
        error: err as Error,
      });
      return;
    }
    this.remotes.set(id, new Remote(this.ctx, id, urls));
    this.ctx.log.info('added new remote peer', {
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(id),
      'remote-peer-urls': urls,
    });
  }

  updatePeer(id: bigint, urls: string[]): void {
    const p = this.peers.get(id);
    if (!p) return;
    parseUrls(urls);
    p.update(urls);
    this.ctx.log.info('updated remote peer', {
      'local-member-id': this.ctx.idHex,
      'updated-remote-peer-id': idHex(id),
      'updated-remote-peer-urls': urls,
    });
  }

  /** Stops talking to a member (its streams close, queued messages are dropped). */
  removePeer(id: bigint): void {
    const p = this.peers.get(id);
    if (!p) return;
    this.peers.delete(id);
    void p.stop();
    this.ctx.log.info('removed remote peer', {
      'local-member-id': this.ctx.idHex,
      'removed-remote-peer-id': idHex(id),
    });
  }

  removeAllPeers(): void {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  /** Sends raft's messages; never blocks. Full buffers drop and report the peer unreachable. */
  send(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (m.to === 0n) continue;
      const p = this.peers.get(m.to);
      if (p) {
        p.send(m);
        continue;
      }
      const r = this.remotes.get(m.to);
      if (r) {
        r.send(m);
        continue;
      }
      this.ctx.log.debug('ignored message send request; unknown remote peer target', {
        type: m.type,
        'unknown-target-peer-id': idHex(m.to),
      });
    }
  }

  /**
   * Sends a MsgSnap followed by `data` (streamed, not buffered whole) as POST /raft/snapshot; reports
   * via sink.reportSnapshot (and reportUnreachable on failure).
   */
  sendSnapshot(msg: Message, data: () => AsyncIterable<Uint8Array>): void {
    const p = this.peers.get(msg.to);
    if (!p) {
      this.ctx.sink.reportSnapshot(msg.to, false);
      return;
    }
    p.sendSnapshot(msg, data);
  }

  /** A joining member learns the cluster id from its peers; later requests carry the new id. */
  setClusterId(id: bigint): void {
    this.ctx.clusterId = id;
  }

  /** ms since epoch the peer has been active, 0 if not connected (etcd's ActiveSince). */
  activeSince(id: bigint): number {
    return this.peers.get(id)?.activeSince() ?? 0;
  }

  /** Number of peers currently active (etcd's ActivePeers). */
  activePeers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.activeSince() !== 0) n++;
    return n;
  }

  /** A peer's outgoing buffer counters (for tests and diagnostics); undefined for unknown ids. */
  bufferStats(id: bigint): PeerBufferStats | undefined {
    return this.peers.get(id)?.stats();
  }

  /** Closes every stream, aborts requests in flight and stops dialing; resolves when done. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const r of this.remotes.values()) r.stop();
    this.remotes.clear();
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((p) => p.stop()));
    this.ctx.destroy();
  }
}
