// tools/cluster/local-cluster.mjs, the one-command local cluster: it starts three members of the target
// server, prints their endpoints once the cluster is healthy, and stops every member on Ctrl-C (SIGINT).
import { type ChildProcess, spawn } from 'node:child_process';
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
});
