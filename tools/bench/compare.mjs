#!/usr/bin/env node
// Side-by-side benchmark: starts Debian's etcd and our kv-server with the same flags on this machine, runs
// the same workloads from tools/bench/load.mjs against each (one server at a time), and prints a markdown
// table with kv/etcd ratios, plus RSS after loading keys and restart-to-serving time.
//
//   node tools/bench/compare.mjs [--total 20000] [--clients 100] [--conns 10] [--keys 200000] [--only put,range]
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
const results = {};
for (const t of targets) {
  results[t.name] = { startMs: await t.start() };
  for (const [op, extra] of workloads) results[t.name][op] = load(t.endpoint, op, extra);
  // Memory after loading many keys, then restart-to-serving time with that data on disk.
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
console.log(
  `clients=${o.clients} conns=${o.conns} total=${o.total} per workload; machine: ${execFileSync('nproc').toString().trim()} cores\n`,
);
console.log('| workload | etcd ops/s | kv ops/s | kv/etcd | etcd p50/p99 ms | kv p50/p99 ms | p99 kv/etcd |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [op] of workloads) {
  const a = e[op];
  const b = k[op];
  console.log(
    `| ${op} | ${a.opsPerSec} | ${b.opsPerSec} | ${r(b.opsPerSec, a.opsPerSec)} | ${a.p50Ms} / ${a.p99Ms} | ${b.p50Ms} / ${b.p99Ms} | ${r(b.p99Ms, a.p99Ms)} |` +
      (a.errors || b.errors ? ` errors etcd=${a.errors} kv=${b.errors}` : ''),
  );
}
if (Number(o.keys) > 0) {
  console.log(`\n| after ${o.keys} keys | etcd | kv | kv/etcd |\n| --- | ---: | ---: | ---: |`);
  console.log(`| RSS MiB | ${e.rssMiB} | ${k.rssMiB} | ${r(k.rssMiB, e.rssMiB)} |`);
  console.log(`| restart-to-serving ms | ${e.restartMs} | ${k.restartMs} | ${r(k.restartMs, e.restartMs)} |`);
}
