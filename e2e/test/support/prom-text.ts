// Parses the Prometheus text exposition format (0.0.4) into metric families: enough to compare two
// servers' /metrics (names, types, help texts, label names and histogram buckets).

/** One metric family as a scrape shows it. */
export interface Family {
  name: string;
  type: string;
  help: string;
  /** Label names of its series (without `le` and `quantile`), sorted. */
  labels: string[];
  /** Histogram upper bounds (without +Inf). */
  buckets?: number[];
}

const unescapeHelp = (s: string) => s.replace(/\\(n|\\)/g, (_, c) => (c === 'n' ? '\n' : '\\'));

/** The families of a scrape, keyed by name. */
export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family & { labelSet: Set<string>; bucketSet: Set<number> }>();
  let current: (Family & { labelSet: Set<string>; bucketSet: Set<number> }) | undefined;
  for (const line of text.split('\n')) {
    const help = line.match(/^# HELP (\S+) ?(.*)$/);
    if (help) {
      current = {
        name: help[1]!,
        type: '',
        help: unescapeHelp(help[2] ?? ''),
        labels: [],
        labelSet: new Set(),
        bucketSet: new Set(),
      };
      families.set(current.name, current);
      continue;
    }
    const type = line.match(/^# TYPE (\S+) (\S+)$/);
    if (type) {
      const f = families.get(type[1]!);
      if (f) f.type = type[2]!;
      continue;
    }
    if (!line || line.startsWith('#') || !current) continue;
    const sample = line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(.*)\})? \S+/);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    for (const kv of (sample[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (kv[1] === 'le') {
        if (kv[2] !== '+Inf') current.bucketSet.add(Number(kv[2]));
      } else if (kv[1] !== 'quantile') current.labelSet.add(kv[1]!);
    }
  }
  const out = new Map<string, Family>();
  for (const [name, f] of families) {
    const family: Family = { name, type: f.type, help: f.help, labels: [...f.labelSet].sort() };
    if (f.type === 'histogram') family.buckets = [...f.bucketSet].sort((a, b) => a - b);
    out.set(name, family);
  }
  return out;
}

/** The family a series name belongs to (`x_bucket` → `x` when `x` is a histogram in `families`). */
export function familyOf(series: string, families: Map<string, Family>): string | undefined {
  if (families.has(series)) return series;
  const m = series.match(/^(.*)_(bucket|sum|count)$/);
  if (m && families.get(m[1]!)?.type === 'histogram') return m[1];
  return undefined;
}
