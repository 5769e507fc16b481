// The system under test: members started as real processes on free loopback ports, with etcd's flags.
// Today a cluster has one member; nemeses address members by index so partitions, leader transfer and
// membership changes can be added when multi-member clusters land, without changing the traffic side.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { KvClient } from '@kv/client';

const REPO = resolve(import.meta.dirname, '..', '..');

/** A free loopback port (bind port 0, release it). */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => ok(addr.port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One member process: start, SIGKILL, restart on the same data dir and ports, SIGSTOP/SIGCONT. */
export class Member {
  /**
   * @param {{ target: 'kv'|'etcd', name: string, dir: string, clientPort: number, peerPort: number,
   *   logFile: string, extraFlags?: string[] }} opts
   */
  constructor(opts) {
    this.opts = opts;
    this.endpoint = `http://127.0.0.1:${opts.clientPort}`;
    this.peerUrl = `http://127.0.0.1:${opts.peerPort}`;
    this.proc = undefined;
    this.paused = false;
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
  }

  command() {
    const o = this.opts;
    const flags = [
      `--name=${o.name}`,
      `--data-dir=${join(o.dir, 'data')}`,
      `--listen-client-urls=${this.endpoint}`,
      `--advertise-client-urls=${this.endpoint}`,
      `--listen-peer-urls=${this.peerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${o.name}=${this.peerUrl}`,
      '--initial-cluster-token=robustness',
      '--initial-cluster-state=new',
      // Progress notifications every second, so the progress check has something to check.
      '--experimental-watch-progress-notify-interval=1s',
      ...(o.extraFlags ?? []),
    ];
    return o.target === 'etcd' ? ['etcd', flags] : [join(REPO, 'bin', 'kv-server'), flags];
  }

  /** Spawns the process and waits until it answers a read. */
  async start() {
    const [cmd, flags] = this.command();
    this.log.write(`\n=== ${new Date().toISOString()} start: ${cmd} ${flags.join(' ')}\n`);
    const proc = spawn(cmd, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.paused = false;
    proc.stdout.pipe(this.log, { end: false });
    proc.stderr.pipe(this.log, { end: false });
    const exited = new Promise((ok) => proc.once('exit', (code, sig) => ok(`exited (${code ?? sig})`)));
    const probe = new KvClient({ endpoints: [this.endpoint], dialTimeoutMs: 500, commandTimeoutMs: 1000 });
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const r = await Promise.race([
          probe.get('health').then(
            () => 'ok',
            () => 'retry',
          ),
          exited,
        ]);
        if (r === 'ok') return;
        if (r !== 'retry') throw new Error(`${this.opts.name} ${r} while starting; see ${this.opts.logFile}`);
        await sleep(100);
      }
      throw new Error(`${this.opts.name} not serving within 30 s; see ${this.opts.logFile}`);
    } finally {
      probe.close();
    }
  }

  /** Sends a signal and, for terminating ones, waits for the exit. */
  async kill(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    if (this.paused) proc.kill('SIGCONT');
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill(signal);
    await exited;
    this.log.write(`=== ${new Date().toISOString()} ${signal}: exited\n`);
  }

  pause() {
    this.proc?.kill('SIGSTOP');
    this.paused = true;
    this.log.write(`=== ${new Date().toISOString()} SIGSTOP\n`);
  }

  resume() {
    this.proc?.kill('SIGCONT');
    this.paused = false;
    this.log.write(`=== ${new Date().toISOString()} SIGCONT\n`);
  }

  async close() {
    await this.kill('SIGTERM');
    await new Promise((ok) => this.log.end(ok));
  }
}

/**
 * Starts a cluster of `size` members (only 1 is supported until kv-server has clusters).
 * @param {{ target: 'kv'|'etcd', dir: string, logDir: string, size?: number, extraFlags?: string[] }} opts
 */
export async function startCluster(opts) {
  const size = opts.size ?? 1;
  if (size !== 1) throw new Error('only single-member clusters are supported for now');
  mkdirSync(opts.dir, { recursive: true });
  const member = new Member({
    target: opts.target,
    name: 'm0',
    dir: opts.dir,
    clientPort: await freePort(),
    peerPort: await freePort(),
    logFile: join(opts.logDir, 'server-m0.log'),
    extraFlags: opts.extraFlags,
  });
  await member.start();
  return { members: [member], endpoints: [member.endpoint] };
}
