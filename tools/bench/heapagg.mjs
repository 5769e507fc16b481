/**
 * Aggregates a V8 .heapsnapshot by constructor (self sizes): where a process's heap goes.
 * usage: node tools/bench/heapagg.mjs /tmp/kv.heapsnapshot   (top 25 rows: MiB, count, constructor)
 */
import { readFileSync } from 'node:fs';

const snap = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const m = snap.snapshot.meta;
const nf = m.node_fields;
const N = nf.length;
const iType = nf.indexOf('type'),
  iName = nf.indexOf('name'),
  iSize = nf.indexOf('self_size');
const types = m.node_types[0];
const strings = snap.strings;
const nodes = snap.nodes;
const agg = new Map();
for (let i = 0; i < nodes.length; i += N) {
  const t = types[nodes[i + iType]];
  const name = t === 'object' || t === 'native' ? strings[nodes[i + iName]] : `(${t})`;
  const a = agg.get(name) ?? [0, 0];
  a[0]++;
  a[1] += nodes[i + iSize];
  agg.set(name, a);
}
const rows = [...agg].sort((a, b) => b[1][1] - a[1][1]).slice(0, 25);
for (const [k, [c, s]] of rows)
  console.log(String((s / 1048576).toFixed(1)).padStart(7), 'MiB', String(c).padStart(9), k.slice(0, 80));
