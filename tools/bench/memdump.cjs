/**
 * Memory probes for a running kv-server; preload with
 * `KV_NODE_FLAGS="--expose-gc --require tools/bench/memdump.cjs" bin/kv-server ...`.
 * SIGUSR2: prints memoryUsage and V8 heap spaces (MiB, committed/used) to stderr, then (with
 * --expose-gc) runs a full GC and prints memoryUsage again. SIGUSR1: full GC and a heap snapshot in
 * /tmp/kv.heapsnapshot (aggregate it with tools/bench/heapagg.mjs).
 */
const v8 = require('node:v8');
process.on('SIGUSR2', () => {
  const mu = process.memoryUsage();
  const f = (n) => Math.round(n / 1048576);
  const spaces = v8
    .getHeapSpaceStatistics()
    .map((s) => `${s.space_name}=${f(s.space_size)}/${f(s.space_used_size)}`)
    .join(' ');
  process.stderr.write(
    `MEMDUMP rss=${f(mu.rss)} heapTotal=${f(mu.heapTotal)} heapUsed=${f(mu.heapUsed)} external=${f(mu.external)} arrayBuffers=${f(mu.arrayBuffers)} ${spaces}\n`,
  );
  if (global.gc) {
    global.gc();
    const m2 = process.memoryUsage();
    process.stderr.write(
      `MEMDUMP-after-gc rss=${f(m2.rss)} heapTotal=${f(m2.heapTotal)} heapUsed=${f(m2.heapUsed)} external=${f(m2.external)}\n`,
    );
  }
});
process.on('SIGUSR1', () => {
  global.gc?.();
  const f = v8.writeHeapSnapshot('/tmp/kv.heapsnapshot');
  process.stderr.write(`SNAPSHOT ${f}\n`);
});
