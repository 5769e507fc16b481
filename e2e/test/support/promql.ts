// The metric names a PromQL expression reads, found with Prometheus' own PromQL grammar
// (@prometheus-io/lezer-promql): the Identifier of every VectorSelector. Syntax errors are reported.
import { parser } from '@prometheus-io/lezer-promql';

/** Metric names selected by `expr`; throws on a syntax error (the grammar marks error nodes). */
export function promqlMetricNames(expr: string): string[] {
  const names = new Set<string>();
  const errors: string[] = [];
  let inSelector = 0;
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
      if (node.name === 'VectorSelector') inSelector++;
      else if (node.name === 'Identifier' && inSelector > 0) names.add(expr.slice(node.from, node.to));
    },
    leave(node) {
      if (node.name === 'VectorSelector') inSelector--;
    },
  });
  if (errors.length > 0)
    throw new Error(`PromQL syntax error in ${JSON.stringify(expr)}: ${errors.join('; ')}`);
  return [...names];
}

/** Grafana's `label_values(<selector>, <label>)` template query: the metric names of its selector. */
export function grafanaTemplateMetricNames(query: string): string[] {
  const m = query.match(/^label_values\((.*),\s*\w+\)$/s);
  return m ? promqlMetricNames(m[1]!) : [];
}
