// Random reads over a large data dir: what a small LevelDB table cache costs (a read whose table is not
// cached reopens and maps it). Starts bin/kv-server on an existing data dir (made with
// tools/bench/fill-backend.mjs), reports the time from spawn to a healthy endpoint (the start rebuilds
// the key index by scanning every revision), then runs `--seconds` of random single-key gets and
// `--seconds` of random 10-key prefix ranges (`<prefix>NNNNNNNN`, i.e. keys NNNNNNNN0..9) with the etcd3
// client, `--concurrency` requests in flight, serializable so raft is not measured. Prints one JSON
// line with throughput and latency percentiles, and the server's RSS afterwards.
// Usage:
//   node tools/bench/random-reads.mjs --dir DATA_DIR --keys N [--prefix big/] [--seconds 20]
//     [--concurrency 32] [--flag --server-flag=value ...]
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const dataDir = arg('dir', undefined);
const keys = Number(arg('keys', '0'));
if (!dataDir || !keys) throw new Error('--dir and --keys are required');
const prefix = arg('prefix', 'big/');
const seconds = Number(arg('seconds', '20'));
const concurrency = Number(arg('concurrency', '32'));
const extraFlags = process.argv.flatMap((a, i) => (a === '--flag' ? [process.argv[i + 1]] : []));
const mb = (n) => Math.round((n / 1024 / 1024) * 10) / 10;

async function freePort() {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const ok = await new Promise((r) => {
      const s = createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    if (ok) return port;
  }
}

const endpoint = `http://127.0.0.1:${await freePort()}`;
const peer = `http://127.0.0.1:${await freePort()}`;
const t0 = Date.now();
const server = spawn(
  join(ROOT, 'bin', 'kv-server'),
  [
    '--name',
    'reads',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    endpoint,
    '--advertise-client-urls',
    endpoint,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `reads=${peer}`,
    '--quota-backend-bytes',
    String(8 * 1024 ** 3),
    '--log-level',
    'warn',
    ...extraFlags,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
process.on('exit', () => server.exitCode === null && server.kill('SIGKILL'));
for (;;) {
  if (server.exitCode !== null) throw new Error(`kv-server exited with ${server.exitCode}`);
  const ok = await execFileAsync(
    'etcdctl',
    [`--endpoints=${endpoint}`, 'endpoint', 'health', '--command-timeout=1s'],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  ).then(
    () => true,
    () => false,
  );
  if (ok) break;
  await new Promise((r) => setTimeout(r, 100));
}
const startSeconds = (Date.now() - t0) / 1000;

const client = new Etcd3({ hosts: endpoint });
const key = (i) => `${prefix}${String(i).padStart(9, '0')}`;

/** CPU seconds (user + system) the server has used: less sensitive to a loaded machine than qps. */
function serverCpu() {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * Runs `op` from `concurrency` workers for `seconds`; returns throughput, latency percentiles and the
 * server's CPU time per request.
 */
async function run(op) {
  const cpu0 = serverCpu();
  const lat = [];
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const s = performance.now();
      await op();
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  lat.sort((a, b) => a - b);
  const pct = (p) => Math.round(lat[Math.floor(p * (lat.length - 1))] * 100) / 100;
  const cpuUsPerReq = Math.round(((serverCpu() - cpu0) / lat.length) * 1e6);
  return { qps: Math.round(lat.length / seconds), p50ms: pct(0.5), p99ms: pct(0.99), cpuUsPerReq };
}

const rand = (n) => Math.floor(Math.random() * n);
// Warm-up: connections and JIT, not the cache (random keys keep missing a small cache anyway).
for (let i = 0; i < 200; i++)
  await client
    .get(key(rand(keys)))
    .options({ serializable: true })
    .buffer();
const single = await run(async () => {
  const v = await client
    .get(key(rand(keys)))
    .options({ serializable: true })
    .buffer();
  if (!v) throw new Error('missing key');
});
const prefixed = await run(async () => {
  const n = await client
    .getAll()
    .prefix(key(rand(Math.floor(keys / 10)) * 10).slice(0, -1))
    .options({ serializable: true })
    .buffers();
  if (Object.keys(n).length === 0) throw new Error('empty prefix');
});
client.close();
const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
const kb = (f) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
server.kill('SIGTERM');
console.log(
  JSON.stringify({
    flags: extraFlags.join(' '),
    keys,
    startSeconds,
    single,
    prefix10: prefixed,
    rssMiB: mb(kb('VmRSS')),
    rssFileMiB: mb(kb('RssFile')),
    rssAnonMiB: mb(kb('RssAnon')),
  }),
);
