#!/usr/bin/env node
// Starts a local multi-member cluster in one command, as etcd's Procfile does for goreman: members
// infra1..infraN on 127.0.0.1 with etcd's clustering flags, their output prefixed with their name. Ctrl-C
// (SIGINT) or SIGTERM stops every member and then exits.
//
//   node tools/cluster/local-cluster.mjs [--members 3] [--target kv|etcd] [--base-port P|0]
//                                        [--data-dir DIR] [--quiet] [-- extra member flags...]
//
// Ports follow etcd's Procfile (client 2379/22379/32379..., peer 12380/22380/32380...) unless
// --base-port P is given (member i: client P+2i, peer P+2i+1) or --base-port 0 (free ports).
// Without --data-dir the members' data lives in a fresh temp dir that is removed on exit; with it, the
// data (DIR/infraN.etcd) is kept and a later run with the same DIR restarts the same cluster.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE =
  'usage: node tools/cluster/local-cluster.mjs [--members N] [--target kv|etcd] [--base-port P|0] [--data-dir DIR] [--quiet] [-- member flags...]';

/** Parses the command line; exits with a clear error on anything it does not know. */
function parseArgs(argv) {
  const opts = { members: 3, target: 'kv', basePort: undefined, dataDir: undefined, quiet: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--') {
      opts.extra = argv.slice(i + 1);
      break;
    } else if (a === '--members') opts.members = Number(value());
    else if (a === '--target') opts.target = value();
    else if (a === '--base-port') opts.basePort = Number(value());
    else if (a === '--data-dir') opts.dataDir = resolve(value());
    else if (a === '--quiet') opts.quiet = true;
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown flag ${a}`);
  }
  if (!Number.isInteger(opts.members) || opts.members < 1 || opts.members > 6) {
    fail('--members must be an integer from 1 to 6');
  }
  if (opts.target !== 'kv' && opts.target !== 'etcd') fail(`--target must be kv or etcd, not ${opts.target}`);
  if (
    opts.basePort !== undefined &&
    !(Number.isInteger(opts.basePort) && opts.basePort >= 0 && opts.basePort < 65000)
  ) {
    fail('--base-port must be a port number (0: free ports)');
  }
  return opts;
}

function fail(msg) {
  console.error(`local-cluster: ${msg}\n${USAGE}`);
  process.exit(2);
}

/** A free port on 127.0.0.1 (bind port 0, release it). */
function freePort() {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Client and peer port of member i (0-based). */
async function portsOf(i, basePort) {
  if (basePort === 0) return { client: await freePort(), peer: await freePort() };
  if (basePort !== undefined) return { client: basePort + 2 * i, peer: basePort + 2 * i + 1 };
  // etcd's Procfile: infra1 2379/12380, infra2 22379/22380, infra3 32379/32380.
  return { client: i === 0 ? 2379 : (i + 1) * 10000 + 2379, peer: (i + 1) * 10000 + 2380 };
}

/** Resolves when GET /health on `url` answers {"health":"true"}, or rejects after `ms`. */
async function waitHealthy(url, ms, proc) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error('exited');
    const ok = await new Promise((done) => {
      const req = get(`${url}/health`, { timeout: 1000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => done(/"health"\s*:\s*"true"/.test(body)));
      });
      req.on('error', () => done(false));
      req.on('timeout', () => req.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not healthy within ${ms} ms`);
}

/** Writes each complete line of `stream` to stdout with a goreman-style `name | ` prefix. */
function prefixLines(stream, name, quiet) {
  let partial = '';
  stream.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    if (!quiet) for (const l of lines) process.stdout.write(`${name.padEnd(7)}| ${l}\n`);
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const ownsRoot = opts.dataDir === undefined;
  const root = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'kv-local-cluster-'));
  mkdirSync(root, { recursive: true });
  const bin = opts.target === 'etcd' ? 'etcd' : join(REPO_ROOT, 'bin', 'kv-server');

  const members = [];
  for (let i = 0; i < opts.members; i++) {
    const { client, peer } = await portsOf(i, opts.basePort);
    members.push({
      name: `infra${i + 1}`,
      client: `http://127.0.0.1:${client}`,
      peer: `http://127.0.0.1:${peer}`,
      dataDir: join(root, `infra${i + 1}.etcd`),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');

  let stopping = false;
  for (const m of members) {
    const flags = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      m.client,
      '--advertise-client-urls',
      m.client,
      '--listen-peer-urls',
      m.peer,
      '--initial-advertise-peer-urls',
      m.peer,
      '--initial-cluster-token',
      'local-cluster',
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      'new',
      ...opts.extra,
    ];
    m.proc = spawn(bin, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
    m.proc.on('error', (e) => {
      console.error(`local-cluster: cannot start ${bin}: ${e.message}`);
      stopAll(1);
    });
    prefixLines(m.proc.stdout, m.name, opts.quiet);
    prefixLines(m.proc.stderr, m.name, opts.quiet);
    m.proc.on('exit', (code, signal) => {
      if (!stopping)
        console.log(`local-cluster: ${m.name} exited (${signal ?? code}); the others keep running`);
    });
  }

  /**
   * SIGTERM to one member at a time (SIGKILL after 10 s), then exit with `code`. One at a time because a
   * leader stopped with SIGTERM first hands leadership to an active follower; when every member stops at
   * once that hand-over waits for followers that are gone, for seconds.
   */
  async function stopAll(code) {
    if (stopping) return;
    stopping = true;
    console.log('local-cluster: stopping all members');
    for (const m of members) {
      await new Promise((done) => {
        if (!m.proc || m.proc.exitCode !== null || m.proc.signalCode !== null) return done();
        const timer = setTimeout(() => m.proc.kill('SIGKILL'), 10_000);
        m.proc.once('exit', () => {
          clearTimeout(timer);
          done();
        });
        m.proc.kill('SIGCONT'); // a member paused with SIGSTOP would not act on SIGTERM
        m.proc.kill('SIGTERM');
      });
    }
    if (ownsRoot) rmSync(root, { recursive: true, force: true });
    console.log('local-cluster: all members stopped');
    process.exit(code);
  }
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));

  try {
    await Promise.all(members.map((m) => waitHealthy(m.client, 60_000, m.proc)));
  } catch (e) {
    console.error(`local-cluster: the cluster did not become healthy (${e.message})`);
    await stopAll(1);
    return;
  }
  const endpoints = members.map((m) => m.client).join(',');
  const lines = [
    `local-cluster: ${members.length}-member ${opts.target} cluster is healthy`,
    ...members.map((m) => `  ${m.name}  client ${m.client}  peer ${m.peer}  data ${m.dataDir}`),
    `  endpoints: ${endpoints}`,
    `  try: etcdctl --endpoints=${endpoints} endpoint status -w table`,
    '  Ctrl-C stops all members.',
  ];
  console.log(lines.join('\n'));
}

main();
