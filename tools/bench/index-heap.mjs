#!/usr/bin/env node --expose-gc
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
/**
 * Heap bytes per key of the mvcc key index (issue 15, docs/benchmarks.md "Memory and restart").
 * usage: node --expose-gc tools/bench/index-heap.mjs [--keys 200000] [--updates 0] [--module path/to/key-index.js]
 * Fills a TreeIndex with 16-byte keys put once each (plus --updates extra puts spread over the keys), the
 * way the store's apply path does, and prints the V8 heap growth after full collections. --module
 * measures another build of key-index.js (e.g. an older commit's, compiled to a temp dir).
 */
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    keys: { type: 'string', default: '200000' },
    updates: { type: 'string', default: '0' },
    module: {
      type: 'string',
      default: new URL('../../packages/mvcc/dist/key-index.js', import.meta.url).pathname,
    },
  },
});
if (!global.gc) throw new Error('run with node --expose-gc');
const { TreeIndex } = await import(pathToFileURL(resolve(o.module)).href);
const n = Number(o.keys);
const updates = Number(o.updates);
const keys = Array.from({ length: n }, (_, i) => new Uint8Array(Buffer.from(String(i).padStart(16, '0'))));
const heap = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
};
const before = heap();
const idx = new TreeIndex();
let rev = 1;
for (const k of keys) {
  rev++;
  if (idx.put) idx.put(k, rev, 0);
  else idx.ensure(k).put(rev, 0); // the object-graph index before this change
}
for (let i = 0; i < updates; i++) {
  rev++;
  const k = keys[(i * 7919) % n];
  if (idx.put) idx.put(k, rev, 0);
  else idx.ensure(k).put(rev, 0);
}
const after = heap();
if (keys.length !== n) throw new Error('unreachable'); // keeps the input keys alive through the measurement
console.log(
  JSON.stringify({
    keys: n,
    updates,
    heapMiB: +((after - before) / 1048576).toFixed(1),
    bytesPerKey: Math.round((after - before) / n),
    keyCount: idx.keyCount,
  }),
);
