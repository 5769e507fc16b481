/**
 * The metric types kv-server's call sites use, on prom-client (the Node standard Prometheus client).
 * The thin wrappers keep one call shape across the server — `inc(labels?, by)`, `set(value, labels?)`,
 * `observe(value, labels?)` — and cache prom-client's per-label-set child per labels object, because
 * hot paths (peer bytes, gRPC counters) pass the same label objects every time.
 */
import client from 'prom-client';

/** A label set: label name to value. */
export type Labels = Record<string, string>;

/** Reads one series' value from a prom-client metric snapshot (0 when the series does not exist yet). */
function seriesValue(
  values: readonly client.MetricValue<string>[],
  labels: Labels | undefined,
  metricName?: string,
): number {
  const want = labels ?? {};
  const keys = Object.keys(want);
  for (const v of values) {
    if (metricName !== undefined && (v as { metricName?: string }).metricName !== metricName) continue;
    const have = v.labels as Record<string, string | number | undefined>;
    if (Object.keys(have).filter((k) => k !== 'le').length !== keys.length) continue;
    if (keys.every((k) => String(have[k]) === want[k])) return v.value;
  }
  return 0;
}

/** Increments of one label set not yet handed to prom-client. */
interface PendingSeries {
  labels: Labels | undefined;
  by: number;
  /** inc was called since the last hand-over (an inc by 0 still creates the series). */
  touched: boolean;
}

/** Label sets a counter buffers before it hands them over without waiting for a scrape. */
const MAX_PENDING_SERIES = 256;

/**
 * A monotonically increasing counter (optionally labelled).
 *
 * Increments are added to a plain number per label object and handed to prom-client when the metric
 * is read (a scrape, {@link Counter.get}): prom-client's own `inc` hashes the label set into a string
 * and allocates a result object on every call, about 0.5 KB per increment and 1.8 KB per gRPC put
 * with the four grpc_server_* counters (docs/benchmarks.md, "Synchronous apply path").
 *
 * @example
 * const c = registry.counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.');
 * c.inc();
 */
export class Counter {
  readonly metric: client.Counter<string>;
  /** The pending series of each label object passed to inc (hot paths reuse their objects). */
  private slots = new WeakMap<Labels, PendingSeries>();
  private pending: PendingSeries[] = [];
  private readonly unlabelled: PendingSeries = { labels: undefined, by: 0, touched: false };
  constructor(
    reg: client.Registry,
    name: string,
    help: string,
    private readonly labelNames: readonly string[] = [],
  ) {
    this.metric = new client.Counter({
      name,
      help,
      labelNames,
      registers: [reg],
      collect: () => this.handOver(),
    });
  }
  get name(): string {
    return (this.metric as unknown as { name: string }).name;
  }
  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels?: Labels, by = 1): void {
    if (!Number.isFinite(by) || by < 0) throw new Error(`counter ${this.name}: cannot add ${by}`);
    if (!labels) {
      this.unlabelled.by += by;
      this.unlabelled.touched = true;
      return;
    }
    let slot = this.slots.get(labels);
    if (!slot) {
      // Checked here, as prom-client's inc would, so a bad label fails at its call site.
      for (const name in labels) {
        if (!this.labelNames.includes(name))
          throw new Error(`counter ${this.name}: label "${name}" is not one of its labels`);
      }
      if (this.pending.length >= MAX_PENDING_SERIES) this.handOver();
      slot = { labels, by: 0, touched: false };
      this.slots.set(labels, slot);
      this.pending.push(slot);
    }
    slot.by += by;
    slot.touched = true;
  }
  /** Adds the buffered increments to prom-client's series. */
  private handOver(): void {
    const u = this.unlabelled;
    if (u.touched) this.metric.inc(u.by);
    u.by = 0;
    u.touched = false;
    for (const slot of this.pending) {
      if (slot.touched) this.metric.inc(slot.labels!, slot.by);
      slot.by = 0;
      slot.touched = false;
    }
    if (this.pending.length >= MAX_PENDING_SERIES) {
      // Many label objects (callers building one per call): start over rather than keep them all.
      this.pending = [];
      this.slots = new WeakMap();
    }
  }
  /** The current value of one series (tests, health checks). */
  async get(labels?: Labels): Promise<number> {
    return seriesValue((await this.metric.get()).values, labels);
  }
}

/**
 * A gauge: set directly, or computed on scrape by `collect`.
 *
 * @example
 * const g = registry.gauge('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.');
 * g.set(1);
 */
export class Gauge {
  readonly metric: client.Gauge<string>;
  constructor(
    reg: client.Registry,
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    collect?: () => number | Promise<number>,
  ) {
    const collector = collect
      ? async function (this: client.Gauge<string>) {
          this.set(await collect());
        }
      : undefined;
    this.metric = new client.Gauge({ name, help, labelNames, registers: [reg], collect: collector });
  }
  get name(): string {
    return (this.metric as unknown as { name: string }).name;
  }
  set(value: number, labels?: Labels): void {
    if (labels) this.metric.set(labels, value);
    else this.metric.set(value);
  }
  inc(labels?: Labels, by = 1): void {
    if (labels) this.metric.inc(labels, by);
    else this.metric.inc(by);
  }
  dec(labels?: Labels, by = 1): void {
    if (labels) this.metric.dec(labels, by);
    else this.metric.dec(by);
  }
  /** The current value of one series (runs `collect` first, as a scrape would). */
  async get(labels?: Labels): Promise<number> {
    return seriesValue((await this.metric.get()).values, labels);
  }
}

/**
 * A cumulative histogram with fixed upper bounds.
 *
 * @example
 * const h = registry.histogram('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', exponentialBuckets(0.001, 2, 14));
 * h.observe(0.003);
 */
export class Histogram {
  readonly metric: client.Histogram<string>;
  constructor(
    reg: client.Registry,
    name: string,
    help: string,
    readonly buckets: readonly number[],
    labelNames: readonly string[] = [],
  ) {
    this.metric = new client.Histogram({ name, help, labelNames, buckets: [...buckets], registers: [reg] });
  }
  get name(): string {
    return (this.metric as unknown as { name: string }).name;
  }
  observe(value: number, labels?: Labels): void {
    if (labels) this.metric.observe(labels, value);
    else this.metric.observe(value);
  }
  /** The number of observations of one series. */
  async count(labels?: Labels): Promise<number> {
    const values = (await this.metric.get()).values;
    return seriesValue(values, labels, `${this.name}_count`);
  }
}

/** Exponential bucket bounds like Prometheus' ExponentialBuckets(start, factor, count). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return client.exponentialBuckets(start, factor, count);
}

/**
 * One server's metric families (a prom-client Registry of its own, so several servers in one process —
 * tests, embedded use — do not share series).
 *
 * @example
 * const reg = new Registry();
 * reg.counter('etcd_server_health_success', 'The total number of successful health checks').inc();
 * const text = await reg.render();
 */
export class Registry {
  /** The prom-client registry (for default metrics and custom collectors). */
  readonly prom = new client.Registry();

  counter(name: string, help: string, labelNames?: readonly string[]): Counter {
    return new Counter(this.prom, name, help, labelNames);
  }
  gauge(
    name: string,
    help: string,
    collect?: () => number | Promise<number>,
    labelNames?: readonly string[],
  ): Gauge {
    return new Gauge(this.prom, name, help, labelNames, collect);
  }
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames?: readonly string[],
  ): Histogram {
    return new Histogram(this.prom, name, help, buckets, labelNames);
  }

  /** The content type of `render()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.prom.contentType;
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    return this.prom.metrics();
  }
}
