/**
 * Bytes allocated per request from a sampling heap profile (tools/bench/alloc-sample.cjs).
 * usage: node tools/bench/alloc-report.mjs PROFILE REQUESTS [FUNCTION...]
 * Prints the total per request, the top 25 functions by self bytes, and for each FUNCTION named the
 * inclusive bytes under its frames (counted once where it recurses).
 */
import { readFileSync } from 'node:fs';

const [file, requests, ...named] = process.argv.slice(2);
const n = Number(requests);
const root = JSON.parse(readFileSync(file, 'utf8')).head;
const self = new Map();
const inclusive = new Map(named.map((f) => [f, 0]));
let total = 0;
function walk(node, stack) {
  const cf = node.callFrame;
  const name = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
  total += node.selfSize;
  self.set(name, (self.get(name) ?? 0) + node.selfSize);
  const here = new Set(stack);
  if (inclusive.has(cf.functionName)) here.add(cf.functionName);
  for (const f of here) inclusive.set(f, inclusive.get(f) + node.selfSize);
  for (const c of node.children) walk(c, here);
}
walk(root, new Set());
const per = (b) => `${(b / n).toFixed(0).padStart(7)} B`;
console.log(`total ${per(total)} per request (${n} requests)`);
for (const [f, b] of inclusive) console.log(`inclusive ${per(b)}  ${f}`);
for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`self ${per(b)}  ${k}`);
