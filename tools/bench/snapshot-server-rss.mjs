// Measures a real kv-server's memory while `etcdctl snapshot save` streams its database: starts
// bin/kv-server (default engine) on free ports, fills it through the etcd3 client with `--mib` MiB of
// key/value data (random, incompressible `--value`-byte values), then samples the server's RSS from
// /proc/<pid>/status every 20 ms before and during the save and reports the growth over the idle
// baseline. The saved file is checked with `etcdctl snapshot status`. Too slow for CI (a 1 GiB fill
// takes minutes); the CI test (packages/server/test/snapshot-stream.test.ts) checks the chunking.
// Usage:
//   node tools/bench/snapshot-server-rss.mjs [--mib 1024] [--value 4096] [--dir data-dir-to-reuse]
//     [--concurrency 64] [--settle 5] [--server kv|etcd] [--flag --some-server-flag=value ...]
// `--server etcd` runs the installed etcd 3.4 the same way instead (the oracle: etcd streams its bbolt
// file with a plain read, tx.WriteTo). Each `--flag` is passed to the server as is.
// `--state` makes a fresh 1 GiB data dir in one of the states of docs/operations.md "Snapshot memory"
// (one start makes the member, tools/bench/fill-backend.mjs fills its stopped backend, then the
// measured start): `restarted` (16 384 × 64 KiB, measured right after the start, as the e2e test does),
// `compacted` (same, `fill-backend.mjs --compact` first), `idle` (same as restarted, then 30 s idle;
// `--settle` overrides), `small` (1 M × 1 KiB values) and `reads` (compacted, then 20 s of random
// single-key gets, 32 in flight, before the baseline: the table cache holds partly read tables).
// Also reports the LevelDB table mappings (`.ldb` lines of /proc/PID/smaps) at the baseline and at
// the end of the save.
// Build first (bin/setup). Needs etcdctl 3.4 on PATH. Prints progress on stderr, one JSON line on stdout.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { freePort } from '../test-ports.mjs';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const STATES = {
  restarted: { value: 65536, compact: false, settle: 0 },
  compacted: { value: 65536, compact: true, settle: 0 },
  idle: { value: 65536, compact: false, settle: 30 },
  small: { value: 1024, compact: false, settle: 0 },
  reads: { value: 65536, compact: true, settle: 0, readSeconds: 20 },
};
const stateName = arg('state', undefined);
const state = stateName === undefined ? undefined : STATES[stateName];
if (stateName !== undefined && !state) throw new Error(`--state: one of ${Object.keys(STATES).join(', ')}`);
const mib = Number(arg('mib', '1024'));
const valueBytes = Number(arg('value', String(state?.value ?? 4096)));
const concurrency = Number(arg('concurrency', '64'));
const reuse = arg('dir', undefined);
const target = arg('server', 'kv');
if (state && (reuse || target !== 'kv')) throw new Error('--state makes its own kv data dir');
// Idle time before the baseline: kv-server gives unused heap back after 2 s idle (idle-heap-trim).
const settleSeconds = Number(arg('settle', String(state?.settle ?? 5)));
const extraFlags = process.argv.flatMap((a, i) => (a === '--flag' ? [process.argv[i + 1]] : []));
const work = mkdtempSync(join(tmpdir(), 'kv-snap-server-'));
const dataDir = reuse ?? join(work, 'data');
const count = Math.ceil((mib * 1024 * 1024) / (valueBytes + 16));
const log = (msg) => process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
const mb = (n) => Math.round((n / 1024 / 1024) * 10) / 10;

/** VmRSS, RssAnon and RssFile of `pid` in bytes. */
function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

const etcdctl = (endpoint, args) =>
  execFileAsync('etcdctl', [`--endpoints=${endpoint}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    maxBuffer: 16 << 20,
  });

/** LevelDB table files mapped into `pid`: how many, and their resident bytes. */
function ldbMappings(pid) {
  let count = 0;
  let rss = 0;
  let inLdb = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inLdb = line.endsWith('.ldb');
      if (inLdb) count++;
    } else if (inLdb && line.startsWith('Rss:')) rss += Number(/(\d+)/.exec(line)[1]) * 1024;
  }
  return { count, rss };
}

const clientPort = await freePort();
const peerPort = await freePort();
const endpoint = `http://127.0.0.1:${clientPort}`;
const peer = `http://127.0.0.1:${peerPort}`;
const serverArgs = () => [
  '--name',
  'snap',
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
  `snap=${peer}`,
  '--quota-backend-bytes',
  String(8 * 1024 ** 3),
  ...(target === 'etcd' ? ['--logger', 'zap'] : []),
  '--log-level',
  'warn',
  ...extraFlags,
];
let server;
const startServer = async () => {
  server = spawn(target === 'etcd' ? 'etcd' : join(ROOT, 'bin', 'kv-server'), serverArgs(), {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`kv-server exited with ${server.exitCode}`);
    const ok = await etcdctl(endpoint, ['endpoint', 'health', '--command-timeout=1s']).then(
      () => true,
      () => false,
    );
    if (ok) return;
    if (i > 400) throw new Error('kv-server not healthy');
    await new Promise((r) => setTimeout(r, 150));
  }
};
const stopServer = () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
};
process.on('exit', stopServer);

let fillOut = '{}';
try {
  if (state) {
    // One start makes the member; the fill writes its stopped backend; the measured start follows.
    await startServer();
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
    log(`filling ${mib} MiB of ${valueBytes}-byte values${state.compact ? ', compacted' : ''}`);
    const fill = await execFileAsync(process.execPath, [
      join(ROOT, 'tools', 'bench', 'fill-backend.mjs'),
      '--data-dir',
      dataDir,
      '--mib',
      String(mib),
      '--value',
      String(valueBytes),
      ...(state.compact ? ['--compact'] : []),
    ]);
    log(`filled: ${fill.stdout.trim()}`);
    fillOut = fill.stdout;
  }
  const tStart = Date.now();
  await startServer();
  const startSeconds = (Date.now() - tStart) / 1000;
  const client = new Etcd3({ hosts: endpoint });
  const status = async () =>
    JSON.parse((await etcdctl(endpoint, ['endpoint', 'status', '-w', 'json'])).stdout)[0].Status;
  const before = await status();
  const t0 = Date.now();
  if (Number(before.dbSize) < mib * 1024 * 1024 * 0.9) {
    log(`filling ${count} keys of ${valueBytes} B (${mib} MiB)`);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await client.put(`snap/${String(i).padStart(9, '0')}`).value(randomBytes(valueBytes));
        if (i % 20_000 === 0) log(`put ${i}/${count}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
  client.close();
  if (state?.readSeconds) {
    // Random single-key gets over the filled keys (fill-backend.mjs names them big/NNNNNNNNN).
    const keys = Number(JSON.parse(fillOut).keys);
    const reader = new Etcd3({ hosts: endpoint });
    const until = Date.now() + state.readSeconds * 1000;
    let reads = 0;
    const worker = async () => {
      while (Date.now() < until) {
        await reader.get(`big/${String(Math.floor(Math.random() * keys)).padStart(9, '0')}`).buffer();
        reads++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    reader.close();
    log(
      `${reads} random gets in ${state.readSeconds}s; table mappings now ${JSON.stringify(ldbMappings(server.pid))}`,
    );
  }
  const fillSeconds = (Date.now() - t0) / 1000;
  const filled = await status();
  log(`db size ${mb(Number(filled.dbSize))} MiB after ${fillSeconds}s; settling`);
  // Idle baseline: let GC and the batch committer settle, then take the highest sample of 2 s.
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  let base = { rss: 0, anon: 0, file: 0 };
  for (let i = 0; i < 100; i++) {
    const s = rssOf(server.pid);
    base = {
      rss: Math.max(base.rss, s.rss),
      anon: Math.max(base.anon, s.anon),
      file: Math.max(base.file, s.file),
    };
    await new Promise((r) => setTimeout(r, 20));
  }
  const baseLdb = target === 'kv' ? ldbMappings(server.pid) : undefined;
  let peak = { ...base };
  // The table mappings at the highest RssFile seen in a 100 ms smaps sample (reading smaps is slower).
  let ldbAtFilePeak = { ...baseLdb, file: 0 };
  let ticks = 0;
  const sampler = setInterval(() => {
    const s = rssOf(server.pid);
    peak = {
      rss: Math.max(peak.rss, s.rss),
      anon: Math.max(peak.anon, s.anon),
      file: Math.max(peak.file, s.file),
    };
    if (baseLdb && ++ticks % 5 === 0 && s.file > ldbAtFilePeak.file) {
      ldbAtFilePeak = { ...ldbMappings(server.pid), file: s.file };
    }
  }, 20);
  const out = join(work, 'snapshot.db');
  const t1 = Date.now();
  await etcdctl(endpoint, ['snapshot', 'save', out, '--command-timeout=30m']);
  const saveSeconds = (Date.now() - t1) / 1000;
  clearInterval(sampler);
  const endLdb = target === 'kv' ? ldbMappings(server.pid) : undefined;
  const check = JSON.parse((await etcdctl(endpoint, ['snapshot', 'status', out, '-w', 'json'])).stdout);
  const result = {
    server: target,
    flags: extraFlags.join(' '),
    keys: check.totalKey,
    valueBytes,
    dbSizeMiB: mb(Number(filled.dbSize)),
    snapshotMiB: mb(statSync(out).size),
    saveSeconds,
    baselineRssMiB: mb(base.rss),
    peakRssMiB: mb(peak.rss),
    rssGrowthMiB: mb(peak.rss - base.rss),
    anonGrowthMiB: mb(peak.anon - base.anon),
    fileGrowthMiB: mb(peak.file - base.file),
    baselineAnonMiB: mb(base.anon),
    baselineFileMiB: mb(base.file),
    fillSeconds,
    state: stateName,
    settleSeconds,
    startSeconds,
    ldbBase: baseLdb && `${baseLdb.count} maps, ${mb(baseLdb.rss)} MiB`,
    ldbEnd: endLdb && `${endLdb.count} maps, ${mb(endLdb.rss)} MiB`,
    ldbAtFilePeak:
      baseLdb &&
      `${ldbAtFilePeak.count} maps, ${mb(ldbAtFilePeak.rss)} MiB of RssFile ${mb(ldbAtFilePeak.file)} MiB`,
    load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  stopServer();
  if (!reuse) rmSync(work, { recursive: true, force: true });
  else if (existsSync(join(work, 'snapshot.db'))) rmSync(work, { recursive: true, force: true });
}
