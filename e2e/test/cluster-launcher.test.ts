// tools/cluster/local-cluster.mjs, the one-command local cluster: it starts three members of the target
// server, prints their endpoints once the cluster is healthy, and stops every member on Ctrl-C (SIGINT).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { etcdctl, REPO_ROOT, TARGET } from './support/server.js';

let launcher: ChildProcess | undefined;
afterAll(() => {
  // Only if the test failed before its own SIGINT: the launcher forwards SIGTERM to its members.
  if (launcher && launcher.exitCode === null) launcher.kill('SIGTERM');
});

describe('local-cluster launcher', () => {
  it('starts a healthy 3-member cluster, prints its endpoints and stops every member on SIGINT', async () => {
    const script = join(REPO_ROOT, 'tools', 'cluster', 'local-cluster.mjs');
    const proc = spawn(
      'node',
      [script, '--members', '3', '--target', TARGET, '--base-port', '0', '--quiet'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    launcher = proc;
    let out = '';
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
    const endpoints = await new Promise<string[]>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`no endpoints printed:\n${out}`)), 60_000);
      const check = () => {
        const m = /endpoints: (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(m[1].split(','));
        }
      };
      proc.stdout?.on('data', check);
      proc.once('exit', () => fail(new Error(`launcher exited:\n${out}`)));
    });
    expect(out).toMatch(new RegExp(`3-member ${TARGET} cluster is healthy`));
    expect(endpoints).toHaveLength(3);

    const list = await etcdctl(endpoints[0], ['member', 'list']);
    expect(
      list.stdout
        .trim()
        .split('\n')
        .map((r) => r.split(', ')[2])
        .sort(),
    ).toEqual(['infra1', 'infra2', 'infra3']);
    expect((await etcdctl(endpoints[0], ['put', 'launched', 'yes'])).stdout.trim()).toBe('OK');
    const got = await etcdctl(endpoints[2], ['get', 'launched', '--consistency=l', '--print-value-only']);
    expect(got.stdout.trim()).toBe('yes');

    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/local-cluster: all members stopped/);
    for (const e of endpoints) {
      const r = await etcdctl(e, ['endpoint', 'health', '--dial-timeout=1s', '--command-timeout=1s']);
      expect(r.code).not.toBe(0);
    }
  });

  it('the Procfile describes the same 3-member cluster on etcd Procfile ports, consistently', () => {
    const lines = readFileSync(join(REPO_ROOT, 'Procfile'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    const flag = (cmd: string, name: string) => {
      const m = new RegExp(`--${name} '?([^' ]+)'?`).exec(cmd);
      return m?.[1];
    };
    const procs = lines.map((l) => {
      const [proc, cmd] = l.split(/:\s+/, 2);
      return {
        proc,
        bin: cmd.split(' ')[0],
        name: flag(cmd, 'name'),
        client: flag(cmd, 'listen-client-urls'),
        advertisedClient: flag(cmd, 'advertise-client-urls'),
        peer: flag(cmd, 'listen-peer-urls'),
        advertisedPeer: flag(cmd, 'initial-advertise-peer-urls'),
        cluster: flag(cmd, 'initial-cluster'),
        token: flag(cmd, 'initial-cluster-token'),
        state: flag(cmd, 'initial-cluster-state'),
      };
    });
    expect(procs.map((p) => [p.proc, p.name, p.client, p.peer])).toEqual([
      ['infra1', 'infra1', 'http://127.0.0.1:2379', 'http://127.0.0.1:12380'],
      ['infra2', 'infra2', 'http://127.0.0.1:22379', 'http://127.0.0.1:22380'],
      ['infra3', 'infra3', 'http://127.0.0.1:32379', 'http://127.0.0.1:32380'],
    ]);
    const cluster = procs.map((p) => `${p.name}=${p.advertisedPeer}`).join(',');
    for (const p of procs) {
      expect(p.bin).toBe('bin/kv-server');
      expect(p.advertisedClient).toBe(p.client);
      expect(p.advertisedPeer).toBe(p.peer);
      expect(p.cluster).toBe(cluster);
      expect(p.token).toBe('etcd-cluster-1');
      expect(p.state).toBe('new');
    }
  });
});
