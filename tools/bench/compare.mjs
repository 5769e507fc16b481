#!/usr/bin/env node
// Side-by-side benchmark: starts Debian's etcd and our kv-server with the same flags on this machine, runs
// the same workloads from tools/bench/load.mjs against each (one server at a time), and prints a markdown
// table with kv/etcd ratios, plus RSS after loading keys and restart-to-serving time.
//
//   node tools/bench/compare.mjs [--total 20000] [--clients 100] [--conns 10] [--keys 200000] [--only put,range]
//                                [--rounds 3]
//
// Both servers run side by side; each workload runs `--rounds` times, alternating which server goes
// first, and each round's kv/etcd ratio compares two runs made seconds apart. (Running all of etcd's
// workloads and then all of kv's, minutes apart, let this VM's speed drift of 30 % and more decide the
// ratios.) The table shows medians over the rounds and the range of the per-round ratios. Before
// measuring, each server gets `--warmup` unmeasured puts (kv's JIT and both servers' caches warm up;
// a cold first workload otherwise measures start-up, not steady state).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..', '..');
const { values: o } = parseArgs({
  options: {
    total: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '100' },
    conns: { type: 'string', default: '10' },
    keys: { type: 'string', default: '200000' },
    only: { type: 'string', default: '' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '5000' },
    'kv-flags': { type: 'string', default: '' },
  },
});

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** A server under test: etcd or kv-server started with etcd's single-member flags. */
class Target {
  constructor(name, cmd, extra = []) {
    Object.assign(this, { name, cmd, extra, dir: mkdtempSync(join(tmpdir(), `bench-${name}-`)) });
  }
  async start() {
    this.client ??= await freePort();
    this.peer ??= await freePort();
    this.endpoint = `http://127.0.0.1:${this.client}`;
    const peer = `http://127.0.0.1:${this.peer}`;
    const flags = [
      '--name',
      'b',
      '--data-dir',
      join(this.dir, 'data'),
      '--listen-client-urls',
      this.endpoint,
      '--advertise-client-urls',
      this.endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `b=${peer}`,
      '--initial-cluster-state',
      'new',
      ...this.extra,
    ];
    const t0 = Date.now();
    this.proc = spawn(this.cmd, flags, { stdio: 'ignore' });
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`${this.name} exited early`);
      try {
        execFileSync(
          'etcdctl',
          [`--endpoints=${this.endpoint}`, '--command-timeout=1s', 'endpoint', 'health'],
          { stdio: 'ignore', env: { ...process.env, ETCDCTL_API: '3' } },
        );
        return Date.now() - t0;
      } catch {
        await sleep(50);
      }
    }
  }
  rssMiB() {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'));
    return Math.round(Number(m[1]) / 1024);
  }
  async stop() {
    const done = new Promise((ok) => this.proc.once('exit', ok));
    this.proc.kill('SIGTERM');
    await done;
  }
  destroy() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function load(endpoint, op, extra = []) {
  const out = execFileSync(
    process.execPath,
    [
      join(root, 'tools/bench/load.mjs'),
      '--endpoint',
      endpoint,
      '--op',
      op,
      '--clients',
      o.clients,
      '--conns',
      o.conns,
      '--total',
      o.total,
      ...extra,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const workloads = [
  ['put', []],
  ['range', []],
  ['range-serializable', []],
  ['txn', []],
  ['watch', ['--clients', '10', '--total', '2000']],
  ['keepalive', []],
].filter(([op]) => !o.only || o.only.split(',').includes(op));

const targets = [
  new Target('etcd', 'etcd'),
  new Target('kv', join(root, 'bin/kv-server'), o['kv-flags'].split(' ').filter(Boolean)),
];
const results = { etcd: {}, kv: {} };
for (const t of targets) results[t.name].startMs = await t.start();
if (Number(o.warmup) > 0) {
  for (const t of targets) load(t.endpoint, 'put', ['--total', o.warmup, '--key-space', o.warmup]);
}
const rounds = Number(o.rounds);
for (const [op, extra] of workloads) {
  for (const t of targets) results[t.name][op] = [];
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) results[t.name][op].push(load(t.endpoint, op, extra));
  }
}
// Memory after loading many keys, then restart-to-serving time with that data on disk.
for (const t of targets) {
  const keys = Number(o.keys);
  if (keys > 0) {
    load(t.endpoint, 'put', [
      '--total',
      String(keys),
      '--key-space',
      String(keys),
      '--key-size',
      '16',
      '--max-seconds',
      '600',
    ]);
    results[t.name].rssMiB = t.rssMiB();
    await t.stop();
    results[t.name].restartMs = await t.start();
  }
  await t.stop();
  t.destroy();
}

const e = results.etcd;
const k = results.kv;
const r = (a, b) => (b ? (a / b).toFixed(2) : 'n/a');
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const med = (runs, field) => Math.round(median(runs.map((x) => x[field])) * 100) / 100;
const ratios = (op, field) => e[op].map((a, i) => k[op][i][field] / a[field]);
const span = (xs) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;
console.log(
  `clients=${o.clients} conns=${o.conns} total=${o.total} per workload, ${rounds} alternating rounds (medians; ratio = median of per-round ratios, range in brackets); machine: ${execFileSync('nproc').toString().trim()} cores\n`,
);
console.log(
  '| workload | etcd ops/s | kv ops/s | kv/etcd [range] | etcd p50/p99 ms | kv p50/p99 ms | p99 kv/etcd [range] |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [op] of workloads) {
  const tput = ratios(op, 'opsPerSec');
  const p99 = ratios(op, 'p99Ms');
  const errors = [...e[op], ...k[op]].reduce((n, x) => n + x.errors, 0);
  console.log(
    `| ${op} | ${med(e[op], 'opsPerSec')} | ${med(k[op], 'opsPerSec')} | ${median(tput).toFixed(2)} [${span(tput)}] | ${med(e[op], 'p50Ms')} / ${med(e[op], 'p99Ms')} | ${med(k[op], 'p50Ms')} / ${med(k[op], 'p99Ms')} | ${median(p99).toFixed(2)} [${span(p99)}] |` +
      (errors ? ` errors=${errors}` : ''),
  );
}
if (Number(o.keys) > 0) {
  console.log(`\n| after ${o.keys} keys | etcd | kv | kv/etcd |\n| --- | ---: | ---: | ---: |`);
  console.log(`| RSS MiB | ${e.rssMiB} | ${k.rssMiB} | ${r(k.rssMiB, e.rssMiB)} |`);
  console.log(`| restart-to-serving ms | ${e.restartMs} | ${k.restartMs} | ${r(k.restartMs, e.restartMs)} |`);
}
