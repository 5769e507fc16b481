/**
 * What a load leaves alive: objects in the second of two heap snapshots of one process that the first
 * did not have (V8 keeps node ids stable across snapshots), per request, by type and constructor, and
 * the edges from older objects that hold them. A snapshot collects garbage first, so this is what
 * outlives the load: what V8's young-generation collector copies twice and promotes.
 *
 * usage: node --max-old-space-size=8000 tools/bench/heap-growth.mjs BEFORE.heapsnapshot AFTER.heapsnapshot REQUESTS
 * (tools/bench/heap-growth.sh takes the snapshots around a kvbench load)
 */
import { readFileSync } from 'node:fs';

function load(file) {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const m = s.snapshot.meta;
  const at = (name) => m.node_fields.indexOf(name);
  return {
    nodes: s.nodes,
    edges: s.edges,
    strings: s.strings,
    nf: m.node_fields.length,
    ef: m.edge_fields.length,
    types: m.node_types[0],
    edgeTypes: m.edge_types[0],
    iType: at('type'),
    iName: at('name'),
    iId: at('id'),
    iSize: at('self_size'),
    iEdges: at('edge_count'),
    eType: m.edge_fields.indexOf('type'),
    eName: m.edge_fields.indexOf('name_or_index'),
    eTo: m.edge_fields.indexOf('to_node'),
  };
}

const [beforeFile, afterFile, requestsArg] = process.argv.slice(2);
if (!afterFile) {
  console.error('usage: heap-growth.mjs BEFORE.heapsnapshot AFTER.heapsnapshot REQUESTS');
  process.exit(2);
}
const requests = Number(requestsArg || 1);
const a = load(beforeFile);
const b = load(afterFile);
const oldIds = new Set();
for (let i = 0; i < a.nodes.length; i += a.nf) oldIds.add(a.nodes[i + a.iId]);

const count = b.nodes.length / b.nf;
const label = (n) => {
  const t = b.types[b.nodes[n * b.nf + b.iType]];
  if (t.includes('string')) return t;
  return `${t}:${b.strings[b.nodes[n * b.nf + b.iName]].slice(0, 60)}`;
};
const isNew = new Uint8Array(count);
const byLabel = new Map();
let bytes = 0;
let objects = 0;
for (let n = 0; n < count; n++) {
  if (oldIds.has(b.nodes[n * b.nf + b.iId])) continue;
  isNew[n] = 1;
  const size = b.nodes[n * b.nf + b.iSize];
  const row = byLabel.get(label(n)) ?? [0, 0];
  row[0]++;
  row[1] += size;
  byLabel.set(label(n), row);
  bytes += size;
  objects++;
}
const per = (x) => (x / requests).toFixed(2);
console.log(
  `new live objects: ${objects} (${per(objects)} per request), ${(bytes / requests).toFixed(0)} B per request`,
);
for (const [l, [c, s]] of [...byLabel].sort((x, y) => y[1][1] - x[1][1]).slice(0, 15))
  console.log(`${(s / requests).toFixed(0).padStart(7)} B ${per(c).padStart(7)}/req  ${l}`);

// Old objects pointing at new ones: where the growth hangs.
const anchors = new Map();
let e = 0;
for (let n = 0; n < count; n++) {
  const edges = b.nodes[n * b.nf + b.iEdges];
  for (let k = 0; k < edges; k++, e += b.ef) {
    const to = b.edges[e + b.eTo] / b.nf;
    const type = b.edgeTypes[b.edges[e + b.eType]];
    if (!isNew[to] || isNew[n] || type === 'weak') continue;
    const name = type === 'element' || type === 'hidden' ? `[${type}]` : b.strings[b.edges[e + b.eName]];
    const key = `${label(n)} --${name}--> ${label(to)}`;
    anchors.set(key, (anchors.get(key) ?? 0) + 1);
  }
}
console.log('held from older objects:');
for (const [k, c] of [...anchors].sort((x, y) => y[1] - x[1]).slice(0, 10))
  console.log(`${per(c).padStart(7)}/req  ${k}`);
