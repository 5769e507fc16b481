/**
 * One harness for both servers the client is tested against: our kv-server (the built
 * packages/server/dist/main.js, run as a real process) and Debian's etcd 3.4. Both get etcd's
 * single-member flags on free loopback ports, can be stopped and restarted on the same data dir and
 * ports (to break streams for real), and come with a KvClient.
 *
 * Tests parametrize with `describe.each(SERVER_KINDS)`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KvClient, type KvClientOptions } from '../src/index.js';
import { freePort } from './etcd-process.js';

/** The servers every client feature is tested against. */
export const SERVER_KINDS = ['kv', 'etcd'] as const;
/** Which server a test runs against. */
export type ServerKind = (typeof SERVER_KINDS)[number];

const KV_MAIN = resolve(import.meta.dirname, '..', '..', 'server', 'dist', 'main.js');

/** A running single-member server. */
export interface TestServer {
  kind: ServerKind;
  /** `http://127.0.0.1:port`. */
  endpoint: string;
  /** The member's peer URL. */
  peerUrl: string;
  /** The member's name. */
  name: string;
  /** Stops the process (SIGKILL when `hard`), keeping the data dir and ports. */
  stop(hard?: boolean): Promise<void>;
  /** Starts the process again on the same data dir and ports. */
  start(): Promise<void>;
  /** Stops the process and removes the data dir. */
  destroy(): Promise<void>;
  /** A client on this server (closed by `destroy`); options are merged over the defaults. */
  client(opts?: Partial<KvClientOptions>): KvClient;
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Flags appended after the standard single-member flags (same spelling for both servers). */
  flags?: string[];
  /**
   * Serve the client URL over TLS with these PEM files (paths); `clientCert` is the certificate the
   * health probe presents when the server demands one.
   */
  tls?: { cert: string; key: string; ca: string; clientCert?: { cert: string; key: string } };
}

/** GET `url` (http or https with the test CA) and parse the JSON body. */
function getJson(url: string, tls: ServerOptions['tls']): Promise<unknown> {
  if (!tls) return fetch(url).then((r) => r.json());
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      url,
      {
        ca: readFileSync(tls.ca),
        ...(tls.clientCert
          ? { cert: readFileSync(tls.clientCert.cert), key: readFileSync(tls.clientCert.key) }
          : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('error', reject);
  });
}

/** Starts `kind` and waits until its JSON gateway reports healthy. */
export async function startServer(kind: ServerKind, opts: ServerOptions = {}): Promise<TestServer> {
  if (kind === 'kv' && !existsSync(KV_MAIN)) {
    throw new Error(`kv-server is not built (${KV_MAIN}); run: turbo run build --filter=@kv/server...`);
  }
  const dir = mkdtempSync(join(tmpdir(), `kv-client-${kind}-`));
  const client = await freePort();
  const peer = await freePort();
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [
    '--name=t',
    `--data-dir=${join(dir, 'data')}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=t=${peerUrl}`,
    '--initial-cluster-state=new',
    '--log-level=error',
    ...(opts.tls ? [`--cert-file=${opts.tls.cert}`, `--key-file=${opts.tls.key}`] : []),
    ...(opts.flags ?? []),
  ];
  const clients: KvClient[] = [];
  let proc: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    output = '';
    const p =
      kind === 'kv'
        ? spawn(process.execPath, [KV_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    p.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`${kind} exited early (${p.exitCode}): ${output}`);
      try {
        const body = (await getJson(`${endpoint}/health`, opts.tls)) as { health?: string | boolean };
        if (String(body.health) === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`${kind} did not become healthy: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const stop = async (hard = false): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    kind,
    endpoint,
    peerUrl,
    name: 't',
    stop,
    start,
    async destroy() {
      for (const c of clients) c.close();
      await stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
    client(o = {}) {
      const c = new KvClient({ endpoints: [endpoint], commandTimeoutMs: 5000, ...o });
      clients.push(c);
      return c;
    },
  };
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 25 ms until it returns true or `ms` passed; returns its last answer. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
}

/** A running multi-member etcd cluster (kv-server joins this once its peer transport is wired). */
export interface TestCluster {
  /** Client URLs, one per member. */
  endpoints: string[];
  destroy(): Promise<void>;
}

/** Starts an `n`-member etcd cluster on loopback and waits until every member reports healthy. */
export async function startEtcdCluster(n: number): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-client-etcd-cluster-'));
  const members: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < n; i++) {
    members.push({
      name: `m${i}`,
      client: `http://127.0.0.1:${await freePort()}`,
      peer: `http://127.0.0.1:${await freePort()}`,
    });
  }
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const procs = members.map((m) =>
    spawn(
      'etcd',
      [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=${m.client}`,
        `--advertise-client-urls=${m.client}`,
        `--listen-peer-urls=${m.peer}`,
        `--initial-advertise-peer-urls=${m.peer}`,
        `--initial-cluster=${initial}`,
        '--initial-cluster-token=client-test',
        '--initial-cluster-state=new',
        '--log-level=error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const destroy = async () => {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.exitCode !== null || p.signalCode !== null) return r();
            p.once('exit', () => r());
            p.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  const healthy = await eventually(async () => {
    const states = await Promise.all(
      members.map((m) =>
        fetch(`${m.client}/health`)
          .then((r) => r.json() as Promise<{ health?: string }>)
          .then((b) => b.health === 'true')
          .catch(() => false),
      ),
    );
    return states.every(Boolean);
  }, 30_000);
  if (!healthy) {
    await destroy();
    throw new Error('etcd cluster did not become healthy');
  }
  return { endpoints: members.map((m) => m.client), destroy };
}
