/**
 * Event-loop lateness and GC pauses of a running kv-server, with wall-clock times, for
 * tools/bench/loop-lag.sh. Preload with `KV_NODE_FLAGS="--require tools/bench/loop-lag.cjs"`.
 * A 1 ms interval timer records every turn that held it up by more than $KV_LAG_MS (default 3 ms);
 * a PerformanceObserver records GC pauses (kind as in perf_hooks.constants: 1 minor, 4 major,
 * 8 incremental, 16 weak callbacks). On SIGTERM or exit both go to $KV_LAG_OUT (default
 * /tmp/kv-loop-lag.json; `%p` in it becomes the process id, for several members sharing one
 * environment) as [type, epoch ms, duration ms, kind?] rows. The timer itself adds a little work per
 * millisecond.
 */
const { PerformanceObserver, performance } = require('node:perf_hooks');
const { writeFileSync } = require('node:fs');

const out = (process.env.KV_LAG_OUT || '/tmp/kv-loop-lag.json').replace('%p', String(process.pid));
const minLag = Number(process.env.KV_LAG_MS || 3);
const rows = [];
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - last - 1;
  if (late > minLag) rows.push(['lag', last + performance.timeOrigin, late]);
  last = now;
}, 1).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    rows.push(['gc', e.startTime + performance.timeOrigin, e.duration, e.detail?.kind]);
}).observe({ entryTypes: ['gc'] });
let written = false;
const write = () => {
  if (written) return;
  written = true;
  writeFileSync(out, JSON.stringify(rows));
};
process.on('exit', write);
// Before the server's own handler (which exits once it has stopped).
process.prependListener('SIGTERM', write);
