/**
 * The backend space quota, after etcd 3.4's etcdserver/quota.go: a write may go ahead only while
 * `backend size + its estimated cost < quota`. A request that would cross the line is refused with
 * `etcdserver: mvcc: database space exceeded` and raises the NOSPACE alarm (the caller does that through
 * raft). Requests that cost nothing (reads, deletes, read-only txns) always pass.
 */

/** etcd's DefaultQuotaBytes: the quota when `--quota-backend-bytes` is 0 (2 GiB). */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
/** etcd's MaxQuotaBytes: larger quotas are accepted with a warning (8 GiB). */
export const MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024;

/** etcd's estimate of the cost of storing a lease. */
const LEASE_OVERHEAD = 64;
/** etcd's estimate of the cost of storing a key's metadata. */
const KV_OVERHEAD = 256;

/** The parts of a put the cost looks at. */
interface PutLike {
  key?: Uint8Array;
  value?: Uint8Array;
}

/** The parts of a txn the cost looks at (nested txns are not counted, like etcd 3.4). */
interface TxnLike {
  success?: ReadonlyArray<{ requestPut?: PutLike | undefined }>;
  failure?: ReadonlyArray<{ requestPut?: PutLike | undefined }>;
}

/** A request the quota is asked about: exactly one of the three (etcd's backendQuota.Cost cases). */
export type QuotaRequest = { put: PutLike } | { txn: TxnLike } | { leaseGrant: unknown };

const costPut = (p: PutLike): number => KV_OVERHEAD + (p.key?.length ?? 0) + (p.value?.length ?? 0);

const costBranch = (ops: TxnLike['success']): number =>
  (ops ?? []).reduce((sum, op) => sum + (op.requestPut ? costPut(op.requestPut) : 0), 0);

/** Estimated bytes a txn adds: the larger of its two branches' puts (0 for a txn without puts). */
export function txnCost(txn: TxnLike): number {
  return Math.max(costBranch(txn.success), costBranch(txn.failure));
}

/** Estimated bytes a request adds to the backend (etcd's backendQuota.Cost). */
export function quotaCost(req: QuotaRequest): number {
  if ('put' in req) return costPut(req.put);
  if ('txn' in req) return txnCost(req.txn);
  return LEASE_OVERHEAD;
}

/** Bytes as etcd's logs print them (go-humanize's SI form): `100 kB`, `2.1 GB`. */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];
  const e = Math.min(Math.floor(Math.log(n) / Math.log(1000)), units.length - 1);
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${units[e]}`;
}

/**
 * The quota in bytes for `--quota-backend-bytes`: 0 means etcd's default, a negative value disables the
 * quota (undefined).
 */
export function effectiveQuotaBytes(configured: number): number | undefined {
  if (configured < 0) return undefined;
  return configured === 0 ? DEFAULT_QUOTA_BYTES : configured;
}

/**
 * Answers "may a write of this cost go ahead?" against the backend size. Measuring the size can cost a
 * directory scan (level engine), so a measurement is reused for `maxAgeMs` with the cost of every write
 * admitted since added on top; a refusal is always confirmed with a fresh measurement, so space freed
 * by compaction + defragment is seen at once. While that estimate is below half the quota a measurement
 * is reused for `farAgeMs` instead: the scan (a `readdir` and one `stat` per file, each a thread-pool
 * hop) every 100 ms was 2–4 % of a member's main thread under a put load, and a backend cannot grow
 * from under half the quota past it within seconds by writes the estimate does not count.
 */
export class BackendQuota {
  private measured = 0;
  private measuredAt = -Infinity;
  /** Costs admitted since the last measurement. */
  private admitted = 0;
  private refreshing: Promise<void> | undefined;

  /**
   * @param limit quota in bytes; undefined disables the check
   * @param measure current backend size in bytes
   * @param maxAgeMs how long a measurement is reused
   * @param farAgeMs how long a measurement is reused while the estimate is under half the quota
   * @param now the clock (milliseconds)
   */
  constructor(
    readonly limit: number | undefined,
    private readonly measure: () => Promise<number>,
    private readonly maxAgeMs = 100,
    private readonly farAgeMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The synchronous answer when there is one: true if the write fits the current estimate (and is
   * admitted), undefined when only {@link available} can tell (no measurement yet, or the estimate says
   * no and must be confirmed). Lets the write path skip two promises per request in the common case.
   */
  admitNow(cost: number): true | undefined {
    if (cost === 0 || this.limit === undefined) return true;
    if (this.measuredAt === Number.NEGATIVE_INFINITY) return undefined;
    const far = this.measured + this.admitted < this.limit / 2;
    if (this.now() - this.measuredAt > (far ? this.farAgeMs : this.maxAgeMs)) {
      // Re-measure in the background: waiting here would stall every write behind a store flush and
      // a directory scan each interval (a latency spike at the tail). The admitted costs since the
      // last measurement keep the estimate from lagging behind the writes.
      void this.refresh().catch(() => undefined);
    }
    if (this.measured + this.admitted + cost < this.limit) {
      this.admitted += cost;
      return true;
    }
    return undefined;
  }

  /** Whether a write costing `cost` bytes fits (etcd: `size + cost < quota`; cost 0 always fits). */
  async available(cost: number): Promise<boolean> {
    if (cost === 0 || this.limit === undefined) return true;
    if (this.measuredAt === Number.NEGATIVE_INFINITY) {
      await this.refresh();
      if (this.measured + this.admitted + cost < this.limit) {
        this.admitted += cost;
        return true;
      }
    } else if (this.admitNow(cost)) return true;
    await this.refresh();
    if (this.measured + cost < this.limit) {
      this.admitted += cost;
      return true;
    }
    return false;
  }

  /** One measurement at a time: concurrent callers share it. */
  private refresh(): Promise<void> {
    // Writes admitted while measuring may not be in the measurement: keep counting them.
    const counted = this.admitted;
    this.refreshing ??= this.measure()
      .then((size) => {
        this.measured = size;
        this.measuredAt = this.now();
        this.admitted = Math.max(0, this.admitted - counted);
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
