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
function seriesValue(values: readonly client.MetricValue<string>[], labels: Labels | undefined): number {
  const want = labels ?? {};
  const keys = Object.keys(want);
  for (const v of values) {
    const have = v.labels as Record<string, string | number | undefined>;
    if (Object.keys(have).length !== keys.length) continue;
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

/** One counter series bound to its labels (see {@link Counter.series}). */
export interface CounterSeries {
  /** Adds `by` (default 1). */
  inc(by?: number): void;
}

function checkIncrement(name: string, by: number): void {
  if (!Number.isFinite(by) || by < 0) throw new Error(`counter ${name}: cannot add ${by}`);
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
  /** The series handed out by {@link Counter.series}, kept for the counter's life. */
  private readonly bound: PendingSeries[] = [];
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
    checkIncrement(this.name, by);
    if (!labels) {
      this.unlabelled.by += by;
      this.unlabelled.touched = true;
      return;
    }
    let slot = this.slots.get(labels);
    if (!slot) {
      this.checkLabels(labels);
      if (this.pending.length >= MAX_PENDING_SERIES) this.handOver();
      slot = { labels, by: 0, touched: false };
      this.slots.set(labels, slot);
      this.pending.push(slot);
    }
    slot.by += by;
    slot.touched = true;
  }
  /**
   * The series of one label set as a handle whose `inc` is a plain addition: for hot paths that
   * know their labels up front (no per-call lookup of the label object). The handle stays valid
   * for the counter's life.
   *
   * @example
   * const sent = registry.counter('etcd_network_peer_sent_bytes_total', 'h', ['To']).series({ To: '2' });
   * sent.inc(512);
   */
  series(labels: Labels): CounterSeries {
    this.checkLabels(labels);
    const slot: PendingSeries = { labels, by: 0, touched: false };
    this.bound.push(slot);
    return {
      inc: (by = 1) => {
        checkIncrement(this.name, by);
        slot.by += by;
        slot.touched = true;
      },
    };
  }
  /** Checked as prom-client's inc would, so a bad label fails at its call site. */
  private checkLabels(labels: Labels): void {
    for (const name in labels) {
      if (!this.labelNames.includes(name))
        throw new Error(`counter ${this.name}: label "${name}" is not one of its labels`);
    }
  }
  /** Adds the buffered increments to prom-client's series. */
  private handOver(): void {
    const u = this.unlabelled;
    if (u.touched) this.metric.inc(u.by);
    u.by = 0;
    u.touched = false;
    for (const slot of this.bound) {
      if (slot.touched) this.metric.inc(slot.labels!, slot.by);
      slot.by = 0;
      slot.touched = false;
    }
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
  /** The unlabelled value set since the last hand-over to prom-client, if any. */
  private pendingValue: number | undefined;
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
      : () => this.handOver();
    this.metric = new client.Gauge({ name, help, labelNames, registers: [reg], collect: collector });
  }
  get name(): string {
    return (this.metric as unknown as { name: string }).name;
  }
  /**
   * Sets the series of `labels`. The unlabelled series keeps its newest value in a plain field until
   * the metric is read: the raft loop sets three gauges per Ready, and prom-client's `set` hashes the
   * (empty) label set and allocates a record each time.
   */
  set(value: number, labels?: Labels): void {
    if (typeof value !== 'number') throw new TypeError(`gauge ${this.name}: value is not a number: ${value}`);
    if (labels) this.metric.set(labels, value);
    else this.pendingValue = value;
  }
  inc(labels?: Labels, by = 1): void {
    if (labels) this.metric.inc(labels, by);
    else {
      this.handOver();
      this.metric.inc(by);
    }
  }
  dec(labels?: Labels, by = 1): void {
    if (labels) this.metric.dec(labels, by);
    else {
      this.handOver();
      this.metric.dec(by);
    }
  }
  private handOver(): void {
    if (this.pendingValue === undefined) return;
    this.metric.set(this.pendingValue);
    this.pendingValue = undefined;
  }
  /** The current value of one series (runs `collect` first, as a scrape would). */
  async get(labels?: Labels): Promise<number> {
    return seriesValue((await this.metric.get()).values, labels);
  }
}

/** The observations of one label set: a count per bucket (not cumulative), their sum and number. */
interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's Registry reads from a histogram (the shape of its own Histogram's export). */
interface HistogramExport {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  /** Bucket lines carry `le` in labels and the series' labels in sharedLabels, as prom-client's do. */
  values: { labels: Labels | { le: number }; value: number; metricName: string; sharedLabels: Labels }[];
}

/** One line of {@link Histogram.get}: bucket bound and series labels in one label set. */
type JsonValue = { value: number; metricName: string; labels: Labels | { le: number | string } };

/**
 * A cumulative histogram with fixed upper bounds.
 *
 * Observations go into a Float64Array per label set; the metric is registered with prom-client as a
 * collector object that renders the same exposition as prom-client's own Histogram. prom-client's
 * `observe` stores bucket counts in an object keyed by the bounds, so every observation turned a float
 * such as 0.001 into a property name (a double-to-string conversion and a string-table lookup), which made
 * the WAL's fsync histogram, observed once per raft Ready, about 1 % of a busy member's main thread
 * (docs/benchmarks.md, "Session 14").
 *
 * @example
 * const h = registry.histogram('etcd_disk_wal_fsync_duration_seconds', 'The latency distributions of fsync called by WAL.', exponentialBuckets(0.001, 2, 14));
 * h.observe(0.003);
 */
export class Histogram {
  readonly buckets: readonly number[];
  /** The unlabelled series (a histogram without label names always exports one, even when empty). */
  private readonly plain: HistogramSeries | undefined;
  /** Labelled series by their label values joined in label-name order. */
  private readonly byKey = new Map<string, HistogramSeries>();
  /** The series of each label object passed to observe (hot paths reuse their objects). */
  private bySlot = new WeakMap<Labels, HistogramSeries>();
  constructor(
    reg: client.Registry,
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    private readonly labelNames: readonly string[] = [],
  ) {
    if (labelNames.includes('le')) throw new Error('le is a reserved label keyword');
    this.buckets = [...buckets].sort((a, b) => a - b);
    if (labelNames.length === 0) this.plain = this.newSeries({});
    reg.registerMetric(this as unknown as client.Metric<string>);
  }

  /** Records one observation of `value` in the series of `labels`. */
  observe(value: number, labels?: Labels): void {
    if (!Number.isFinite(value))
      throw new TypeError(`histogram ${this.name}: value is not a valid number: ${value}`);
    const series = labels ? this.seriesOf(labels) : this.plain;
    if (!series)
      throw new Error(`histogram ${this.name}: observe needs labels ${this.labelNames.join(', ')}`);
    const bounds = this.buckets;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) series.counts[i]! += 1;
    series.sum += value;
    series.count += 1;
  }

  /** The number of observations of one series. */
  async count(labels?: Labels): Promise<number> {
    if (!labels || this.labelNames.length === 0) return this.plain?.count ?? 0;
    return this.byKey.get(this.keyOf(labels))?.count ?? 0;
  }

  /** prom-client's collector interface: the series in the shape its Registry renders. */
  async getForPromString(): Promise<HistogramExport> {
    const values: HistogramExport['values'] = [];
    const push = (labels: Labels | { le: number }, value: number, metricName: string, sharedLabels: Labels) =>
      values.push({ labels, value, metricName, sharedLabels });
    const all = this.plain ? [this.plain, ...this.byKey.values()] : this.byKey.values();
    for (const s of all) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i]!;
        push({ le: this.buckets[i]! }, acc, `${this.name}_bucket`, s.labels);
      }
      push({ le: '+Inf' }, s.count, `${this.name}_bucket`, s.labels);
      push({}, s.sum, `${this.name}_sum`, s.labels);
      push({}, s.count, `${this.name}_count`, s.labels);
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }

  /** prom-client's collector interface (JSON form): labels and series labels merged. */
  async get(): Promise<Omit<HistogramExport, 'values'> & { values: JsonValue[] }> {
    const m = await this.getForPromString();
    const values = m.values.map(({ value, metricName, labels, sharedLabels }) => ({
      value,
      metricName,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...m, values };
  }

  /** prom-client's collector interface: forgets every observation. */
  reset(): void {
    if (this.plain) {
      this.plain.counts.fill(0);
      this.plain.sum = 0;
      this.plain.count = 0;
    }
    this.byKey.clear();
    this.bySlot = new WeakMap();
  }

  private newSeries(labels: Labels): HistogramSeries {
    return { labels, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
  }

  private keyOf(labels: Labels): string {
    return this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
  }

  private seriesOf(labels: Labels): HistogramSeries {
    let s = this.bySlot.get(labels);
    if (s) return s;
    for (const n in labels) {
      if (!this.labelNames.includes(n))
        throw new Error(`histogram ${this.name}: label "${n}" is not one of its labels`);
    }
    const key = this.keyOf(labels);
    s = this.byKey.get(key);
    if (!s) {
      s = this.newSeries({ ...labels });
      this.byKey.set(key, s);
    }
    this.bySlot.set(labels, s);
    return s;
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
