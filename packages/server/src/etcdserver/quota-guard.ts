/**
 * The server's side of the backend quota (etcd's quotaAlarmer): etcd's startup lines and gauge, the
 * check before a Put, Txn or LeaseGrant is proposed, and the NOSPACE alarm raised through raft when a
 * request would cross the quota. The cost rules live in quota.ts.
 */
import { AlarmRequest_AlarmAction, AlarmType as PbAlarmType } from '@kv/client/api';
import type { Logger } from '../log/logger.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { InternalRequest } from './envelope.js';
import { Errors } from './errors.js';
import { idHex } from './ids.js';
import {
  BackendQuota,
  effectiveQuotaBytes,
  humanBytes,
  MAX_QUOTA_BYTES,
  type QuotaRequest,
  quotaCost,
} from './quota.js';

/** What the guard needs from the server. */
export interface QuotaHost {
  readonly memberId: bigint;
  /** `--quota-backend-bytes` as configured (0: etcd's default; < 0: disabled). */
  readonly configuredBytes: number;
  /** Flushes pending writes and measures the backend (the size must count them). */
  measure(): Promise<number>;
  /** A NOSPACE alarm is active. */
  noSpace(): boolean;
  propose(req: InternalRequest): Promise<unknown>;
}

/**
 * Admits writes while the backend has room for them.
 *
 * @example
 * ```ts
 * const guard = new QuotaGuard(host, log, metrics);
 * guard.announce();
 * await guard.check({ put: req }); // throws `etcdserver: mvcc: database space exceeded` past the quota
 * ```
 */
export class QuotaGuard {
  private readonly quota: BackendQuota;

  constructor(
    private readonly host: QuotaHost,
    private readonly log: Logger,
    private readonly metrics: ServerMetrics,
  ) {
    this.quota = new BackendQuota(effectiveQuotaBytes(host.configuredBytes), () => host.measure());
  }

  /** The quota in bytes (etcd's default 2 GiB when --quota-backend-bytes is 0; Infinity when < 0). */
  get bytes(): number {
    return effectiveQuotaBytes(this.host.configuredBytes) ?? Number.POSITIVE_INFINITY;
  }

  /** etcd's startup lines about the quota, and the `etcd_server_quota_backend_bytes` gauge. */
  announce(): void {
    const configured = this.host.configuredBytes;
    if (configured < 0) {
      this.log.info('disabled backend quota', { 'quota-name': 'v3-applier', 'quota-size-bytes': configured });
      return;
    }
    const bytes = this.bytes;
    const size = { 'quota-name': 'v3-applier', 'quota-size-bytes': bytes, 'quota-size': humanBytes(bytes) };
    if (configured === 0) this.log.info('enabled backend quota with default value', size);
    else {
      if (configured > MAX_QUOTA_BYTES) {
        this.log.warn('quota exceeds the maximum value', {
          ...size,
          'quota-maximum-size-bytes': MAX_QUOTA_BYTES,
          'quota-maximum-size': humanBytes(MAX_QUOTA_BYTES),
        });
      }
      this.log.info('enabled backend quota', size);
    }
    this.metrics.quotaBackendBytes.set(bytes);
  }

  /**
   * etcd's quotaAlarmer.check: when the request's estimated cost would take the backend to the quota,
   * the NOSPACE alarm is raised through raft (so every member refuses writes and the alarm survives
   * restarts) and the request fails. The common case (the estimate has room) answers without a promise.
   */
  check(req: QuotaRequest): Promise<void> | undefined {
    const cost = quotaCost(req);
    if (this.quota.admitNow(cost)) return undefined;
    return this.checkSlow(cost);
  }

  private async checkSlow(cost: number): Promise<void> {
    if (await this.quota.available(cost)) return;
    if (!this.host.noSpace()) {
      this.log.warn('backend quota exceeded; raising NOSPACE alarm', {
        quota: this.bytes,
        'local-member-id': idHex(this.host.memberId),
      });
    }
    // Like etcd, the request fails whether or not the alarm proposal succeeds.
    await this.host
      .propose({
        alarm: {
          action: AlarmRequest_AlarmAction.ACTIVATE,
          memberID: this.host.memberId,
          alarm: PbAlarmType.NOSPACE,
        },
      })
      .catch((err: unknown) => this.log.warn('failed to raise NOSPACE alarm', { error: err }));
    throw Errors.noSpace();
  }
}
