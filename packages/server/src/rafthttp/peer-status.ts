/**
 * Whether a peer is reachable, as etcd's peerStatus: it becomes active when a stream connects or a
 * request succeeds, inactive on the first failure; `since` is etcd's ActiveSince. Transitions are logged
 * with etcd's lines and counted in etcd_network_active_peers / etcd_network_disconnected_peers_total.
 */
import { idHex } from '../etcdserver/ids.js';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';

/** Where a failure happened: etcd's failureType (source = stream/pipeline name, action = verb). */
export interface FailureType {
  source: string;
  action: string;
}

export class PeerStatus {
  private active = false;
  private sinceMs = 0;
  private readonly labels: Record<string, string>;

  constructor(
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
    local: bigint,
    private readonly id: bigint,
  ) {
    this.labels = { Local: idHex(local), Remote: idHex(id) };
  }

  activate(): void {
    if (this.active) return;
    this.log.info('peer became active', { 'peer-id': idHex(this.id) });
    this.active = true;
    this.sinceMs = Date.now();
    this.metrics.peerActive.inc(this.labels);
  }

  deactivate(failure: FailureType, reason: string): void {
    const msg = `failed to ${failure.action} ${idHex(this.id)} on ${failure.source} (${reason})`;
    if (this.active) {
      this.log.warn('peer became inactive (message send to peer failed)', {
        'peer-id': idHex(this.id),
        error: msg,
      });
      this.active = false;
      this.sinceMs = 0;
      this.metrics.peerActive.dec(this.labels);
      this.metrics.peerDisconnected.inc(this.labels);
      return;
    }
    this.log.debug('peer deactivated again', { 'peer-id': idHex(this.id), error: msg });
  }

  isActive(): boolean {
    return this.active;
  }

  /** ms since epoch the peer became active; 0 when inactive. */
  activeSince(): number {
    return this.sinceMs;
  }

  /** Drops this peer's active-peers series contribution (the peer is being removed). */
  release(): void {
    if (this.active) this.metrics.peerActive.dec(this.labels);
    this.active = false;
    this.sinceMs = 0;
  }
}
