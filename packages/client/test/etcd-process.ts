/**
 * Starts Debian's real etcd (3.4) on free loopback ports in a temporary data dir, for interop tests.
 * Shared by the client's tests and kvctl's differential test (packages/ctl/test/etcd.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../tools/test-ports.mjs';
import { KvClient } from '../src/index.js';

export { freePort };

/** A running etcd member. */
export interface EtcdProcess {
  /** `host:port` for gRPC clients. */
  grpcAddress: string;
  /** `http://host:port` for the JSON gateway. */
  clientUrl: string;
  peerUrl: string;
  name: string;
  /** The temporary directory holding the data dir (removed by stop()). */
  dir: string;
  ports: { client: number; peer: number };
  stop(): Promise<void>;
}

/** Options of {@link startEtcd}. */
export interface StartEtcdOptions {
  /** Member name (default `interop`). */
  name?: string;
  /** --initial-cluster-token (default etcd's). */
  token?: string;
  /** More flags, e.g. `['--max-request-bytes=10000']`. */
  args?: string[];
}

/**
 * Spawns etcd and resolves once its JSON gateway answers /health. Retries with new ports when one was
 * bound between probing and binding by a process outside the tests (test processes hold their ports'
 * claims: tools/test-ports.mjs).
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      if (attempt >= 4 || !String(e).includes('address already in use')) throw e;
    }
  }
}

async function startOnce(opts: StartEtcdOptions): Promise<EtcdProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-test-etcd-'));
  const ports = { client: await freePort(), peer: await freePort() };
  const name = opts.name ?? 'interop';
  const clientUrl = `http://127.0.0.1:${ports.client}`;
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  const child: ChildProcess = spawn(
    'etcd',
    [
      `--name=${name}`,
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${name}=${peerUrl}`,
      ...(opts.token ? [`--initial-cluster-token=${opts.token}`] : []),
      '--initial-cluster-state=new',
      '--log-level=error',
      ...(opts.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`etcd exited early (${child.exitCode}): ${stderr}`);
    }
    try {
      const res = await fetch(`${clientUrl}/health`);
      const body = (await res.json()) as { health?: string };
      if (body.health === 'true') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not become healthy: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { grpcAddress: `127.0.0.1:${ports.client}`, clientUrl, peerUrl, name, dir, ports, stop };
}

/** A real etcd plus a KvClient on it; `stop()` closes both. */
export async function startEtcdWithClient(): Promise<{
  etcd: EtcdProcess;
  client: KvClient;
  stop(): Promise<void>;
}> {
  const etcd = await startEtcd();
  const client = new KvClient({ endpoints: [etcd.clientUrl], commandTimeoutMs: 5000 });
  return {
    etcd,
    client,
    async stop() {
      client.close();
      await etcd.stop();
    },
  };
}
