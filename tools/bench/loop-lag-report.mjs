/**
 * Report of tools/bench/loop-lag.sh: between the load's start and end (T0, T1 in epoch ms), the
 * event-loop lateness and GC totals, CPU per thread, and for every late turn above LONG ms (default 8)
 * the GC pauses inside it and what each thread ran meanwhile.
 * Usage: node tools/bench/loop-lag-report.mjs LAG.json THREADS.json T0 T1 [LONG]
 */
import { readFileSync } from 'node:fs';

const [lagFile, threadFile, t0s, t1s, longS] = process.argv.slice(2);
const t0 = Number(t0s);
const t1 = Number(t1s);
const long = Number(longS ?? 8);
const ev = JSON.parse(readFileSync(lagFile, 'utf8')).filter((e) => e[1] >= t0 && e[1] <= t1);
const th = JSON.parse(readFileSync(threadFile, 'utf8')).filter((r) => r[0] >= t0 && r[0] <= t1 + 10);
const lags = ev.filter((e) => e[0] === 'lag');
const gcs = ev.filter((e) => e[0] === 'gc');
const sum = (xs) => xs.reduce((s, e) => s + e[2], 0).toFixed(0);
console.log(
  `window ${t1 - t0} ms; late turns ${lags.length} (${sum(lags)} ms late in all); GC pauses ${gcs.length} (${sum(gcs)} ms)`,
);
const per = new Map();
for (const r of th) per.set(r[1], (per.get(r[1]) ?? 0) + r[2]);
console.log(`CPU by thread (ms): ${[...per].map(([k, v]) => `${k}=${v.toFixed(0)}`).join(' ')}`);
for (const l of lags.filter((e) => e[2] > long)) {
  const s = l[1];
  const e = s + l[2];
  const c = new Map();
  for (const r of th) if (r[0] > s && r[0] <= e + 5) c.set(r[1], (c.get(r[1]) ?? 0) + r[2]);
  const g = gcs
    .filter((x) => x[1] + x[2] >= s && x[1] <= e)
    .map((x) => `gc(kind ${x[3]}) ${x[2].toFixed(1)} ms`)
    .join(', ');
  const threads = [...c].map(([k, v]) => `${k}=${v.toFixed(1)}`).join(' ');
  console.log(
    `+${(s - t0).toFixed(0)} ms: late ${l[2].toFixed(1)} ms ${g ? `[${g}] ` : ''}threads ${threads}`,
  );
}
