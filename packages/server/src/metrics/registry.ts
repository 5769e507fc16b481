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

/**
 * A monotonically increasing counter (optionally labelled).
 *
 * @example
 * const c = registry.counter('etcd_mvcc_put_total', 'Total number of puts seen by this member.');
 * c.inc();
 */
export class Counter {
  readonly metric: client.Counter<string>;
  private readonly children = new WeakMap<Labels, client.Counter.Internal>();
  constructor(reg: client.Registry, name: string, help: string, labelNames: readonly string[] = []) {
    this.metric = new client.Counter({ name, help, labelNames, registers: [reg] });
  }
  get name(): string {
    return (this.metric as unknown as { name: string }).name;
  }
  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels?: Labels, by = 1): void {
    if (!labels) {
      this.metric.inc(by);
      return;
    }
    let child = this.children.get(labels);
    if (!child) {
      child = this.metric.labels(labels);
      this.children.set(labels, child);
    }
    child.inc(by);
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
