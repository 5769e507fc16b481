/**
 * A small Prometheus text-format (0.0.4) registry: counters, gauges and histograms with labels.
 * Metric names follow etcd's so existing dashboards work.
 */

type Labels = Record<string, string>;

const keyCache = new WeakMap<Labels, string>();

/** The rendered label set; cached per labels object (hot paths pass the same objects). */
const labelKey = (labels: Labels | undefined): string => {
  if (!labels) return '';
  const cached = keyCache.get(labels);
  if (cached !== undefined) return cached;
  const keys = Object.keys(labels).sort();
  const key = keys
    .map(
      (k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    )
    .join(',');
  keyCache.set(labels, key);
  return key;
};

const fmt = (n: number): string => {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
};

/** Something the registry can render. */
interface Collector {
  readonly name: string;
  render(out: string[]): void;
}

/** A monotonically increasing counter (optionally labelled). */
export class Counter implements Collector {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

/** A gauge; either set directly or computed on scrape by a callback. */
export class Gauge implements Collector {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: () => number,
  ) {}
  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), value);
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels?: Labels): number {
    if (this.collect && !labels) return this.collect();
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    if (this.collect) {
      out.push(`${this.name} ${fmt(this.collect())}`);
      return;
    }
    if (this.values.size === 0) out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${fmt(v)}`);
  }
}

/** A cumulative histogram with fixed upper bounds. */
export class Histogram implements Collector {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  count(labels?: Labels): number {
    return this.series.get(labelKey(labels))?.count ?? 0;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    const series =
      this.series.size === 0
        ? new Map([['', { counts: this.buckets.map(() => 0), sum: 0, count: 0 }]])
        : this.series;
    for (const [k, s] of series) {
      const pre = k ? `${k},` : '';
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket{${pre}le="${fmt(b)}"} ${s.counts[i]}`);
      });
      out.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
  }
}

/** Exponential bucket bounds like Prometheus' ExponentialBuckets(start, factor, count). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(start * factor ** i);
  return out;
}

/** Holds collectors and renders them in the Prometheus text exposition format. */
export class Registry {
  private readonly collectors: Collector[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string, collect?: () => number): Gauge {
    return this.add(new Gauge(name, help, collect));
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** The exposition text (content type `text/plain; version=0.0.4`). */
  render(): string {
    const out: string[] = [];
    for (const c of [...this.collectors].sort((a, b) => (a.name < b.name ? -1 : 1))) c.render(out);
    return `${out.join('\n')}\n`;
  }

  private add<T extends Collector>(c: T): T {
    this.collectors.push(c);
    return c;
  }
}
