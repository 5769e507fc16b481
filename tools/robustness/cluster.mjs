// The system under test: N members (kv-server or Debian etcd, same flags) started as real processes on
// free loopback ports. With more than one member, each member's advertised peer URL is a TCP proxy in
// front of its real peer listener (proxy.mjs), so the partition nemesis can cut and heal the network
// between members. Nemeses address members by index; a member keeps its index, name, ports and proxy
// across restarts and membership changes (a removed member comes back with a fresh data dir and id).
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KvClient } from '@kv/client';
import { freePort } from '../test-ports.mjs';
import { PeerNetwork } from './proxy.mjs';

const REPO = resolve(import.meta.dirname, '..', '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One member process: start, SIGKILL, restart on the same data dir and ports, SIGSTOP/SIGCONT. */
export class Member {
  /**
   * @param {{ target: 'kv'|'etcd', index: number, name: string, dir: string, clientPort: number,
   *   peerPort: number, advertisedPeerPort: number, logFile: string, extraFlags?: string[],
   *   env?: Record<string, string> }} opts  env: given to every start (e.g. KV_FAULT)
   */
  constructor(opts) {
    this.opts = opts;
    this.index = opts.index;
    this.name = opts.name;
    this.endpoint = `http://127.0.0.1:${opts.clientPort}`;
    this.listenPeerUrl = `http://127.0.0.1:${opts.peerPort}`;
    /** What the other members dial: the proxy in front of this member, or the listener itself. */
    this.peerUrl = `http://127.0.0.1:${opts.advertisedPeerPort}`;
    this.dataDir = join(opts.dir, 'data');
    /** `--initial-cluster` and `--initial-cluster-state`, set by the cluster (and membership nemesis). */
    this.initialCluster = `${opts.name}=${this.peerUrl}`;
    this.clusterState = 'new';
    /** Member id as the cluster knows it (a string: etcd's ids exceed 2^53); learned after start. */
    this.id = undefined;
    this.proc = undefined;
    this.paused = false;
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
  }

  command() {
    const o = this.opts;
    const flags = [
      `--name=${o.name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.endpoint}`,
      `--advertise-client-urls=${this.endpoint}`,
      `--listen-peer-urls=${this.listenPeerUrl}`,
      `--initial-advertise-peer-urls=${this.peerUrl}`,
      `--initial-cluster=${this.initialCluster}`,
      '--initial-cluster-token=robustness',
      `--initial-cluster-state=${this.clusterState}`,
      // Progress notifications every second, so the progress check has something to check.
      '--experimental-watch-progress-notify-interval=1s',
      ...(o.extraFlags ?? []),
    ];
    return o.target === 'etcd' ? ['etcd', flags] : [join(REPO, 'bin', 'kv-server'), flags];
  }

  get running() {
    const p = this.proc;
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  /**
   * Spawns the process and waits until it answers a read: linearizable by default (the member has a
   * leader and is a voter), serializable for a learner (which refuses linearizable reads).
   * @param {{ env?: Record<string,string>, serializable?: boolean, waitMs?: number }} [o]
   */
  async start(o = {}) {
    const [cmd, flags] = this.command();
    const env = { ...this.opts.env, ...o.env };
    const envText = Object.entries(env)
      .map(([k, v]) => `${k}=${v} `)
      .join('');
    this.log.write(`\n=== ${new Date().toISOString()} start: ${envText}${cmd} ${flags.join(' ')}\n`);
    const proc = spawn(cmd, flags, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.proc = proc;
    this.paused = false;
    proc.stdout.pipe(this.log, { end: false });
    proc.stderr.pipe(this.log, { end: false });
    this.exited = new Promise((ok) => proc.once('exit', (code, sig) => ok(`exited (${code ?? sig})`)));
    const probe = new KvClient({ endpoints: [this.endpoint], dialTimeoutMs: 500, commandTimeoutMs: 1000 });
    let lastError = 'none';
    try {
      const deadline = Date.now() + (o.waitMs ?? 30_000);
      while (Date.now() < deadline) {
        const r = await Promise.race([
          probe.status().then(async (s) => {
            this.id = String(s.header.memberId);
            await probe.get('health', { serializable: o.serializable ?? false });
            return 'ok';
          }),
          this.exited,
        ]).catch((e) => {
          lastError = String(e?.message ?? e).split('\n')[0];
          return 'retry';
        });
        if (r === 'ok') return;
        if (r !== 'retry') throw new Error(`${this.name} ${r} while starting; see ${this.opts.logFile}`);
        await sleep(100);
      }
      throw new Error(
        `${this.name} not serving within ${(o.waitMs ?? 30_000) / 1000} s (last probe error: ${lastError}); see ${this.opts.logFile}`,
      );
    } finally {
      probe.close();
    }
  }

  /** Writes a harness mark into the member's log. */
  mark(text) {
    this.log.write(`=== ${new Date().toISOString()} ${text}\n`);
  }

  /** Sends a signal and, for terminating ones, waits for the exit. */
  async kill(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!this.running) return;
    if (this.paused) proc.kill('SIGCONT');
    const exited = new Promise((ok) => proc.once('exit', ok));
    proc.kill(signal);
    await exited;
    this.mark(`${signal}: exited`);
  }

  /** Waits up to `ms` for the process to exit by itself; true if it did. */
  async waitExit(ms) {
    if (!this.running) return true;
    const r = await Promise.race([this.exited, sleep(ms).then(() => undefined)]);
    return r !== undefined;
  }

  pause() {
    this.proc?.kill('SIGSTOP');
    this.paused = true;
    this.mark('SIGSTOP');
  }

  resume() {
    this.proc?.kill('SIGCONT');
    this.paused = false;
    this.mark('SIGCONT');
  }

  /** Deletes the data dir (the member must be stopped): it comes back as a new member. */
  wipe() {
    rmSync(this.dataDir, { recursive: true, force: true });
    this.mark(`data dir ${this.dataDir} removed`);
  }

  async close() {
    await this.kill('SIGTERM');
    await new Promise((ok) => this.log.end(ok));
  }
}

/**
 * Starts a cluster of `size` members m0..m{size-1} (all at once: a member waits for a quorum before it
 * serves). With size > 1, peer traffic goes through a PeerNetwork of proxies.
 * @param {{ target: 'kv'|'etcd', dir: string, logDir: string, size?: number, extraFlags?: string[],
 *   env?: Record<string, string> }} opts
 */
export async function startCluster(opts) {
  const size = opts.size ?? 1;
  mkdirSync(opts.dir, { recursive: true });
  const members = [];
  for (let i = 0; i < size; i++) {
    const dir = join(opts.dir, `m${i}`);
    mkdirSync(dir, { recursive: true });
    const peerPort = await freePort();
    members.push(
      new Member({
        target: opts.target,
        index: i,
        name: `m${i}`,
        dir,
        clientPort: await freePort(),
        peerPort,
        advertisedPeerPort: size > 1 ? await freePort() : peerPort,
        logFile: join(opts.logDir, `server-m${i}.log`),
        extraFlags: opts.extraFlags,
        env: opts.env,
      }),
    );
  }
  let network;
  if (size > 1) {
    network = new PeerNetwork(
      () => new Map(members.filter((m) => m.running).map((m) => [m.proc.pid, m.index])),
    );
    for (const m of members) await network.addProxy(m.index, m.opts.peerPort, m.opts.advertisedPeerPort);
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) m.initialCluster = initialCluster;
  const cluster = {
    target: opts.target,
    members,
    endpoints: members.map((m) => m.endpoint),
    network,
    async close() {
      for (const m of members) await m.close();
      await network?.close();
    },
  };
  try {
    await Promise.all(members.map((m) => m.start()));
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

/**
 * The index of the member that leads, asking each running member (undefined if none answers with a
 * leader that is a member).
 */
export async function leaderIndex(cluster) {
  for (const m of cluster.members) {
    if (!m.running || m.paused) continue;
    const c = new KvClient({ endpoints: [m.endpoint], dialTimeoutMs: 500, commandTimeoutMs: 1000 });
    try {
      const s = await c.status();
      const lead = String(s.leader);
      const idx = cluster.members.findIndex((x) => x.id === lead);
      if (idx >= 0 && s.leader !== 0) return idx;
    } catch {
      // down or partitioned: ask the next one
    } finally {
      c.close();
    }
  }
  return undefined;
}

/** A client to the running members other than `except` (for membership and leadership calls). */
export function adminClient(cluster, except = -1) {
  const endpoints = cluster.members.filter((m) => m.index !== except && m.running).map((m) => m.endpoint);
  return new KvClient({ endpoints, dialTimeoutMs: 1000, commandTimeoutMs: 5000 });
}
