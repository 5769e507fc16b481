#!/usr/bin/env node
// Alternating comparison of transport-ceiling modes: for each round and mode, starts the server, runs
// tools/bench/load.mjs against it, and reports throughput/latency, server CPU µs per call (utime+stime
// from /proc, so other load on the machine skews it less than wall time), and, in a second run with
// --trace-gc-nvp, the mark-compact count, max mark-compact pause and promoted bytes per scavenge.
//
//   node tools/bench/transport-measure.mjs [--rounds 2] [--total 30000] [--modes grpcjs,raw,kv] [--op range-serializable]
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: o } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    total: { type: 'string', default: '30000' },
    modes: { type: 'string', default: 'grpcjs,raw,kv' },
    op: { type: 'string', default: 'range-serializable' },
  },
});
const bench = import.meta.dirname;
const tick = Number(execFileSync('getconf', ['CLK_TCK']).toString());

const cpuUs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) / tick) * 1e6; // utime, stime (fields 14, 15)
};
const freePort = () =>
  new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
const waitPort = async (port) => {
  for (;;) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => r(c.end() && true)).on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
};

async function run(mode, gc) {
  const port = await freePort();
  const flags = gc ? ['--trace-gc-nvp', '--max-semi-space-size=64'] : [];
  const srv = spawn(process.execPath, [...flags, join(bench, 'transport-ceiling.mjs'), mode, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let log = '';
  srv.stdout.on('data', (d) => (log += d));
  await waitPort(port);
  const before = cpuUs(srv.pid);
  const out = execFileSync(process.execPath, [
    join(bench, 'load.mjs'),
    ...['--endpoint', `http://127.0.0.1:${port}`, '--op', o.op, '--total', o.total, '--key-space', '1'],
  ]).toString();
  const cpu = cpuUs(srv.pid) - before;
  srv.kill();
  await new Promise((r) => srv.on('exit', r));
  const r = JSON.parse(out.trim().split('\n').pop());
  const row = {
    mode,
    gc,
    opsPerSec: r.opsPerSec,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuUsPerCall: Math.round(cpu / r.total),
    errors: r.errors,
  };
  if (gc) {
    const lines = log.split('\n').filter((l) => l.includes(' gc='));
    const field = (l, k) => Number(l.match(new RegExp(` ${k}=([0-9.]+)`))?.[1] ?? 0);
    const mc = lines.filter((l) => / gc=mc /.test(l));
    const sc = lines.filter((l) => / gc=s /.test(l));
    row.mc = mc.length;
    row.maxMcPauseMs = Math.max(0, ...mc.map((l) => field(l, 'pause')));
    row.scavenges = sc.length;
    // Mean includes start-up (module loading promotes ~1 MB in the first scavenges); the median is the
    // steady state under load.
    const promoted = sc.map((l) => field(l, 'promoted')).sort((a, b) => a - b);
    row.promotedPerScavenge = promoted.length
      ? Math.round(promoted.reduce((a, b) => a + b, 0) / promoted.length)
      : 0;
    row.promotedMedian = promoted[promoted.length >> 1] ?? 0;
    row.maxScavengeMs = Math.max(0, ...sc.map((l) => field(l, 'pause')));
  }
  return row;
}

const rows = [];
for (let round = 1; round <= Number(o.rounds); round++) {
  for (const gc of [false, true]) {
    for (const mode of o.modes.split(',')) {
      const row = { round, ...(await run(mode, gc)) };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
}
console.table(rows);
