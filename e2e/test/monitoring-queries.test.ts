// tools/monitoring's Grafana dashboard and Prometheus alert rules query only what kv-server exports:
// every PromQL expression in both files (and the dashboard's template queries) is parsed with
// Prometheus' PromQL grammar, and each metric it selects must resolve to a family of a live scrape of
// a 2-member kv cluster (a histogram's _bucket/_sum/_count series to its histogram).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Cluster } from './support/cluster.js';
import { type Family, familyOf, parsePromText } from './support/prom-text.js';
import { grafanaTemplateMetricNames, promqlMetricNames } from './support/promql.js';
import { etcdctl, REPO_ROOT, run } from './support/server.js';

const DIR = join(REPO_ROOT, 'tools', 'monitoring');

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every target expression of the dashboard (rows may nest panels). */
function dashboardExprs(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: string | { query: string } }[] };
  };
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q?.startsWith('label_values(')) out.push({ where: `template $${v.name}`, expr: q });
  }
  return out;
}

/** Every alert's expression. */
function alertExprs(): { where: string; expr: string }[] {
  const rules = parseYaml(readFileSync(join(DIR, 'kv-alerts.rules.yml'), 'utf8')) as {
    groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: String(r.expr) })),
  );
}

const namesOf = (expr: string) =>
  expr.startsWith('label_values(') ? grafanaTemplateMetricNames(expr) : promqlMetricNames(expr);

let cluster: Cluster;
let families: Map<string, Family>;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 2 });
  const endpoint = cluster.member(0).endpoint;
  expect((await etcdctl(endpoint, ['put', 'k', 'v'])).code).toBe(0);
  families = parsePromText((await run('curl', ['-s', `${endpoint}/metrics`])).stdout);
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

describe('tools/monitoring queries against a live kv-server', () => {
  it('the dashboard and the rules hold the panels and alerts the issue asks for', () => {
    const dash = dashboardExprs();
    const rules = alertExprs();
    expect(dash.length).toBeGreaterThanOrEqual(30);
    expect(rules.length).toBeGreaterThanOrEqual(12);
    const all = [...dash, ...rules].map((e) => e.expr).join('\n');
    for (const needed of [
      'etcd_server_has_leader',
      'etcd_server_leader_changes_seen_total',
      'etcd_server_proposals_failed_total',
      'etcd_disk_wal_fsync_duration_seconds_bucket',
      'etcd_disk_backend_commit_duration_seconds_bucket',
      'etcd_server_quota_backend_bytes',
      'grpc_server_handled_total',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_gc_duration_seconds_sum',
    ]) {
      expect(all, needed).toContain(needed);
    }
  });

  it('every expression parses and every metric it selects is exported by kv-server', () => {
    const unresolved: string[] = [];
    let checked = 0;
    for (const { where, expr } of [...dashboardExprs(), ...alertExprs()]) {
      const names = namesOf(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        checked++;
        if (familyOf(name, families) === undefined) unresolved.push(`${where}: ${name}`);
      }
    }
    expect(unresolved).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('the extraction finds names as Prometheus parses them, and rejects broken PromQL', () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (instance, le) (rate(a_bucket{job="x"}[5m]))) > 0.5 and on (instance) b_total offset 5m',
      ).sort(),
    ).toEqual(['a_bucket', 'b_total']);
    expect(() => promqlMetricNames('rate(a_total[5m]')).toThrow(/syntax error/);
    expect(familyOf('etcd_disk_wal_fsync_duration_seconds_bucket', families)).toBe(
      'etcd_disk_wal_fsync_duration_seconds',
    );
    expect(familyOf('no_such_metric_total', families)).toBeUndefined();
  });
});
