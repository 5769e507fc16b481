/**
 * Test helpers: run the built kvctl (or etcdctl) as a real process, and start a real 3-member etcd
 * 3.4 cluster on free loopback ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../client/test/etcd-process.js';

const here = dirname(fileURLToPath(import.meta.url));
export const MAIN = join(here, '..', 'dist', 'main.js');

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `cmd args` to completion (stdin from `input`, or closed), collecting its output. */
export function runProcess(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ETCDCTL_API: '3', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, out, err });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the built kvctl. */
export const kvctl = (args: string[], opts: Parameters<typeof runProcess>[2] = {}) =>
  runProcess(process.execPath, [MAIN, ...args], opts);

/** A running multi-member etcd cluster. */
export interface EtcdCluster {
  /** Client URLs, in member order. */
  clientUrls: string[];
  stop(): Promise<void>;
}

/** Starts `size` etcd 3.4 members as one new cluster and waits until every member is healthy. */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'kvctl-cluster-'));
  const members = [];
  for (let i = 0; i < size; i++)
    members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const children: ChildProcess[] = members.map((m) =>
    spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=http://127.0.0.1:${m.client}`,
        `--advertise-client-urls=http://127.0.0.1:${m.client}`,
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initial}`,
        '--initial-cluster-token=kvctl-cluster',
        '--initial-cluster-state=new',
        '--log-level=error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const clientUrls = members.map((m) => `http://127.0.0.1:${m.client}`);
  const stop = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (const url of clientUrls) {
    for (;;) {
      const healthy = await fetch(`${url}/health`)
        .then(async (r) => ((await r.json()) as { health?: string }).health === 'true')
        .catch(() => false);
      if (healthy) break;
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`etcd cluster member ${url} did not become healthy`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { clientUrls, stop };
}
