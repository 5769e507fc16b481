// Starts a real server process for end-to-end tests: our bin/kv-server by default, or Debian's etcd when
// KV_E2E_TARGET=etcd (used to check that the tests themselves describe etcd's behaviour).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
// Free loopback ports: one helper for every suite (claims that hold across vitest's parallel workers).
import { freePort } from '../../../tools/test-ports.mjs';

export { freePort };

const execFileAsync = promisify(execFile);

/** Root of the repository (e2e/ lives directly below it). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** Which server the tests drive: 'kv' (bin/kv-server) or 'etcd' (the reference). */
export const TARGET = process.env.KV_E2E_TARGET === 'etcd' ? 'etcd' : 'kv';

/** The server executable for `target`: the one place that maps the etcd-vs-kv switch to a binary. */
export function serverBinary(target: 'kv' | 'etcd' = TARGET): string {
  return target === 'etcd' ? 'etcd' : join(REPO_ROOT, 'bin', 'kv-server');
}

export interface ServerOptions {
  /** Reuse this data dir (for restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Extra flags appended after the standard single-member flags. */
  flags?: string[];
  /** `https` serves the client URL with TLS (pass the certificate flags in `flags`). Default `http`. */
  scheme?: 'http' | 'https';
  /** etcdctl flags for the readiness probe, e.g. `--cacert ca.crt --cert c.crt --key c.key`. */
  etcdctlFlags?: string[];
  /** Which binary to run, overriding KV_E2E_TARGET (tests that move data between the two). */
  server?: 'kv' | 'etcd';
  /** Peer port (e.g. the one a `snapshot restore --initial-cluster` named); a free one otherwise. */
  peerPort?: number;
  /** `https` serves the peer URL with TLS (pass `--peer-auto-tls` or peer certificates). Default `http`. */
  peerScheme?: 'http' | 'https';
}

/** One running single-member server process with etcd's standard flags. */
export class ServerProcess {
  readonly dataDir: string;
  readonly endpoint: string;
  private proc: ChildProcess | undefined;
  private output = '';
  private readonly ownsDir: boolean;

  private constructor(
    readonly clientPort: number,
    private readonly peerPort: number,
    dataDir: string | undefined,
    private readonly extraFlags: string[],
    scheme: 'http' | 'https' = 'http',
    private readonly probeFlags: string[] = [],
    private readonly binary: 'kv' | 'etcd' = TARGET,
    private readonly peerScheme: 'http' | 'https' = 'http',
  ) {
    this.ownsDir = dataDir === undefined;
    this.dataDir = dataDir ?? join(mkdtempSync(join(tmpdir(), 'kv-e2e-')), 'data');
    this.endpoint = `${scheme}://127.0.0.1:${clientPort}`;
  }

  /** Starts a server and waits until `etcdctl endpoint health` succeeds. */
  static async start(opts: ServerOptions = {}): Promise<ServerProcess> {
    const s = new ServerProcess(
      await freePort(),
      opts.peerPort ?? (await freePort()),
      opts.dataDir,
      opts.flags ?? [],
      opts.scheme,
      opts.etcdctlFlags,
      opts.server,
      opts.peerScheme,
    );
    await s.spawn();
    return s;
  }

  /** The running process's id (undefined while stopped). */
  get pid(): number | undefined {
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null
      ? this.proc.pid
      : undefined;
  }

  /** Everything the server printed so far (for failure messages). */
  get log(): string {
    return this.output;
  }

  private async spawn(): Promise<void> {
    const peer = `${this.peerScheme}://127.0.0.1:${this.peerPort}`;
    const flags = [
      '--name',
      'e2e',
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      this.endpoint,
      '--advertise-client-urls',
      this.endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `e2e=${peer}`,
      '--initial-cluster-token',
      'e2e',
      '--initial-cluster-state',
      'new',
      ...this.extraFlags,
    ];
    const cmd = serverBinary(this.binary);
    this.output = '';
    const proc = spawn(cmd, flags, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout?.on('data', (d) => (this.output += d));
    proc.stderr?.on('data', (d) => (this.output += d));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${this.output}`);
      const r = await etcdctl(this.endpoint, [
        ...this.probeFlags,
        'endpoint',
        'health',
        '--command-timeout=1s',
      ]).catch(() => null);
      if (r && r.code === 0) return;
      await sleep(150);
    }
    // The caller never gets a ServerProcess to destroy(): do not leave the process running.
    proc.kill('SIGKILL');
    throw new Error(`server not healthy within 30 s:\n${this.output}`);
  }

  /** Stops the process with `signal` and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return proc?.exitCode ?? null;
    const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** Starts the same member again on the same data dir and ports. */
  async restart(): Promise<void> {
    await this.stop();
    await this.spawn();
  }

  /** Stops the process and removes the temp data dir it created. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    if (this.ownsDir) rmSync(resolve(this.dataDir, '..'), { recursive: true, force: true });
  }
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs Debian's etcdctl (API v3) against `endpoint`; never throws on a non-zero exit. */
export async function etcdctl(endpoint: string, args: string[], input?: string): Promise<CommandResult> {
  return run('etcdctl', [`--endpoints=${endpoint}`, ...args], input);
}

/** Runs a command, feeding `input` to stdin; resolves with its exit code and output. */
export async function run(cmd: string, args: string[], input?: string): Promise<CommandResult> {
  if (input === undefined) {
    try {
      const { stdout, stderr } = await execFileAsync(cmd, args, {
        env: { ...process.env, ETCDCTL_API: '3' },
        maxBuffer: 64 << 20,
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return {
        code: typeof err.code === 'number' ? err.code : 1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      };
    }
  }
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { env: { ...process.env, ETCDCTL_API: '3' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => ok({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(input);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}

/** Base64 of a UTF-8 string, as the JSON gateway encodes bytes. */
export function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}
