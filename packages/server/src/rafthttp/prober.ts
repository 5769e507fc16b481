/**
 * etcd's peer prober (github.com/xiang90/probing as rafthttp uses it): GET <peer>/raft/probing every
 * probeInterval, keep a smoothed RTT (EWMA, alpha 1/8) and the clock difference, and every
 * probeMonitorHealthy (probeMonitorError while unhealthy) log problems and observe the smoothed RTT
 * into etcd_network_peer_round_trip_time_seconds{To}. etcd runs two probers per peer (one per round
 * tripper) into the same histogram; so does this transport.
 */
import type { ClientRequest } from 'node:http';
import { idHex } from '../etcdserver/ids.js';
import type { TransportContext } from './context.js';
import { parseUrls } from './url-picker.js';

/** etcd's round-tripper names, used in the prober's log lines. */
export type RoundTripperName = 'ROUND_TRIPPER_RAFT_MESSAGE' | 'ROUND_TRIPPER_SNAPSHOT';

const ALPHA = 0.125;

/** The probing answer (etcd's probing.Health): {"OK":true,"Now":"<RFC 3339 time>"}. */
export interface ProbeHealth {
  OK: boolean;
  Now: string;
}

export class Prober {
  private urls: URL[];
  private pinned = 0;
  private srttMs = 0;
  private clockDiffMs = 0;
  private healthy = false;
  private lastError: string | undefined;
  private total = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private monitorTimer: NodeJS.Timeout | undefined;
  private req: ClientRequest | undefined;
  private stopped = false;
  private readonly label: Record<string, string>;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    urls: readonly string[],
    private readonly name: RoundTripperName,
  ) {
    this.urls = parseUrls(urls);
    this.label = ctx.toLabel(peerId);
    this.probeTimer = setInterval(() => this.probe(), ctx.timing.probeIntervalMs);
    this.probeTimer.unref();
    this.scheduleMonitor(ctx.timing.probeMonitorErrorMs);
  }

  /** Smoothed round-trip time in ms (0 before the first answer). */
  get srtt(): number {
    return this.srttMs;
  }

  /** Probes answered or failed so far. */
  get probes(): number {
    return this.total;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.probeTimer);
    clearTimeout(this.monitorTimer);
    this.req?.destroy();
  }

  private probe(): void {
    if (this.req || this.stopped) return;
    const u = this.urls[this.pinned]!;
    const start = performance.now();
    const req = this.ctx.request(
      u,
      '/raft/probing',
      { method: 'GET' },
      true,
      this.ctx.timing.connReadTimeoutMs,
    );
    this.req = req;
    const fail = (err: Error) => {
      this.req = undefined;
      this.total++;
      this.healthy = false;
      this.lastError = err.message;
      this.pinned = (this.pinned + 1) % this.urls.length;
    };
    req.on('error', fail);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(new Error(`got unexpected HTTP status code ${res.statusCode} from ${u.origin}/raft/probing`));
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('error', fail);
      res.on('end', () => {
        let h: ProbeHealth | undefined;
        try {
          h = JSON.parse(body) as ProbeHealth;
        } catch (err) {
          fail(err as Error);
          return;
        }
        if (!h?.OK) {
          fail(new Error('probe answered not OK'));
          return;
        }
        this.req = undefined;
        const rtt = performance.now() - start;
        this.total++;
        this.healthy = true;
        this.lastError = undefined;
        this.srttMs = (1 - ALPHA) * this.srttMs + ALPHA * rtt;
        const when = Date.parse(h.Now);
        this.clockDiffMs = Number.isNaN(when) ? 0 : Date.now() - when - this.srttMs / 2;
      });
    });
    req.end();
  }

  private scheduleMonitor(ms: number): void {
    if (this.stopped) return;
    this.monitorTimer = setTimeout(() => this.monitor(), ms);
    this.monitorTimer.unref();
  }

  private monitor(): void {
    const peer = idHex(this.peerId);
    let next = this.ctx.timing.probeMonitorHealthyMs;
    if (!this.healthy) {
      this.ctx.log.warn('prober detected unhealthy status', {
        'round-tripper-name': this.name,
        'remote-peer-id': peer,
        rtt: `${this.srttMs}ms`,
        error: this.lastError ?? null,
      });
      next = this.ctx.timing.probeMonitorErrorMs;
    }
    if (this.clockDiffMs > 1000) {
      this.ctx.log.warn('prober found high clock drift', {
        'round-tripper-name': this.name,
        'remote-peer-id': peer,
        'clock-drift': `${this.clockDiffMs}ms`,
        rtt: `${this.srttMs}ms`,
      });
    }
    this.ctx.metrics.peerRoundTripTime.observe(this.srttMs / 1000, this.label);
    this.scheduleMonitor(next);
  }
}

/** The probing handler's answer body (Go's json.Encoder output: JSON plus a newline). */
export function probingBody(now = new Date()): string {
  return `${JSON.stringify({ OK: true, Now: now.toISOString() })}\n`;
}
