/** Starts Debian's etcd 3.4 as a fresh single member on free loopback ports, like etcdctl-diff does. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Etcd {
  dir: string;
  clientUrl: string;
  ports: { client: number; peer: number; peer2: number };
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts etcd, retrying with new ports when one was taken between probing and binding (cases run
 * concurrently, so a port freed by `freePort` can be grabbed by another member).
 */
export async function startEtcd(): Promise<Etcd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce();
    } catch (e) {
      if (attempt >= 4 || !String(e).includes('address already in use')) throw e;
    }
  }
}

async function startOnce(): Promise<Etcd> {
  const dir = mkdtempSync(join(tmpdir(), 'kvctl-diff-'));
  const ports = { client: await freePort(), peer: await freePort(), peer2: await freePort() };
  const clientUrl = `http://127.0.0.1:${ports.client}`;
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  const child: ChildProcess = spawn(
    'etcd',
    [
      '--name=n1',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=n1=${peerUrl}`,
      '--initial-cluster-token=diff',
      '--initial-cluster-state=new',
      '--log-level=error',
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
      throw new Error(`etcd exited early: ${stderr}`);
    }
    try {
      const res = await fetch(`${clientUrl}/health`);
      if (((await res.json()) as { health?: string }).health === 'true') break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd not healthy: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { dir, clientUrl, ports, stop };
}
