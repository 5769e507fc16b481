/**
 * kvctl's operator commands as real processes against real etcd 3.4 members: move-leader on a
 * 3-member cluster (next to etcdctl), check consistency, inspect largest|prefixes|hot, check
 * perf|datascale, make-mirror between two clusters, completion in a real bash, and the progress bar
 * on a pseudo-terminal.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvClient } from '@kv/client';
import { afterAll, describe, expect, it } from 'vitest';
import { startEtcd } from './etcd.js';
import { kvctl, MAIN, runProcess, startEtcdCluster } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'kvctl-ops-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('on a 3-member etcd cluster', () => {
  it('move-leader hands leadership to the named member, with etcdctl checks and messages', async () => {
    const cluster = await startEtcdCluster(3);
    const clients = cluster.clientUrls.map((u) => new KvClient({ endpoints: [u] }));
    try {
      const statuses = await Promise.all(clients.map((c) => c.status()));
      const leader = statuses[0]?.leader as number | bigint;
      const followerAt = statuses.findIndex((s) => String(s.header?.memberId) !== String(leader));
      const follower = statuses[followerAt]?.header?.memberId as number | bigint;
      const all = `--endpoints=${cluster.clientUrls.join(',')}`;

      const moved = await kvctl([all, 'move-leader', follower.toString(16)]);
      expect(moved).toMatchObject({
        code: 0,
        out: `Leadership transferred from ${leader.toString(16)} to ${follower.toString(16)}\n`,
      });
      const after = await clients[followerAt]?.status();
      expect(String(after?.leader)).toBe(String(follower));

      // Only non-leaders given: etcdctl and kvctl both refuse with the same line.
      const others = cluster.clientUrls.filter((_u, i) => i !== followerAt);
      const args = [`--endpoints=${others.join(',')}`, 'move-leader', leader.toString(16)];
      const ours = await kvctl(args);
      const theirs = await runProcess('etcdctl', args);
      expect(ours.code).toBe(128);
      expect(ours.err).toBe(`Error: no leader endpoint given at [${others.join(' ')}]\n`);
      expect(theirs.err.split('\n').filter((l) => l.startsWith('Error'))).toEqual([ours.err.trim()]);
      expect(theirs.code).toBe(ours.code);

      // check consistency asks every member (from the member list) at one revision.
      await clients[0]?.put('a', '1');
      await clients[0]?.put('b', '2');
      const checked = await kvctl([`--endpoints=${cluster.clientUrls[0]}`, 'check', 'consistency']);
      expect(checked.code).toBe(0);
      const lines = checked.out.trim().split('\n');
      expect(lines).toHaveLength(4);
      expect(lines.at(-1)).toMatch(
        /^PASS: 3 members agree at revision \d+ \(hash \d+, compact revision -?\d+\)$/,
      );
      const json = await kvctl([
        `--endpoints=${cluster.clientUrls[1]}`,
        'check',
        'consistency',
        '-w',
        'json',
      ]);
      const parsed = JSON.parse(json.out) as { consistent: boolean; members: { endpoint: string }[] };
      expect(parsed.consistent).toBe(true);
      expect(parsed.members.map((m) => m.endpoint).sort()).toEqual([...cluster.clientUrls].sort());
    } finally {
      for (const c of clients) c.close();
      await cluster.stop();
    }
  });
});

describe('check consistency', () => {
  it('fails with exit 1 and names the members when hashes differ', async () => {
    const [x, y] = await Promise.all([startEtcd(), startEtcd()]);
    const cx = new KvClient({ endpoints: [x.clientUrl] });
    const cy = new KvClient({ endpoints: [y.clientUrl] });
    try {
      await cx.put('k', 'one');
      await cy.put('k', 'two');
      const res = await kvctl([
        `--endpoints=${x.clientUrl},${y.clientUrl}`,
        'check',
        'consistency',
        '--endpoints-only',
      ]);
      expect(res.code).toBe(1);
      const last = res.out.trim().split('\n').at(-1) as string;
      expect(last).toMatch(/^FAIL: members disagree at revision 2: /);
      expect(last).toContain(`${x.clientUrl}: hash `);
      expect(last).toContain(`${y.clientUrl}: hash `);
    } finally {
      cx.close();
      cy.close();
      await Promise.all([x.stop(), y.stop()]);
    }
  });
});

describe('inspect', () => {
  it('lists the largest values, sizes by prefix and the hottest prefixes', async () => {
    const etcd = await startEtcd();
    const c = new KvClient({ endpoints: [etcd.clientUrl] });
    const ep = `--endpoints=${etcd.clientUrl}`;
    try {
      await c.put('/reg/pods/p1', 'x'.repeat(100));
      await c.put('/reg/pods/p2', 'x'.repeat(300));
      await c.put('/reg/svc/s1', 'x'.repeat(200));
      await c.put('cfg/a', 'x');

      const largest = await kvctl([ep, 'inspect', 'largest', '--limit', '2']);
      expect(largest).toMatchObject({ code: 0, out: '300\t/reg/pods/p2\n200\t/reg/svc/s1\n' });
      const scoped = await kvctl([ep, 'inspect', 'largest', '--prefix', '/reg/pods/', '-w', 'json']);
      expect(JSON.parse(scoped.out).largest).toEqual([
        { key: '/reg/pods/p2', key_bytes: 12, value_bytes: 300 },
        { key: '/reg/pods/p1', key_bytes: 12, value_bytes: 100 },
      ]);

      const prefixes = await kvctl([ep, 'inspect', 'prefixes', '--depth', '2']);
      expect(prefixes).toMatchObject({
        code: 0,
        out: '2\t424\t/reg/pods/\n1\t211\t/reg/svc/\n1\t6\tcfg/a\n',
      });
      const top = await kvctl([ep, 'inspect', 'prefixes', '-w', 'table']);
      expect(top.out).toMatch(/\| +\/reg\/ \| +3 \| +635 B \|/);

      // inspect hot: writes made while it watches, counted by prefix.
      const hot = kvctl([ep, 'inspect', 'hot', '--duration', '5s', '--depth', '2']);
      await sleep(2500);
      for (const k of ['/reg/pods/p1', '/reg/pods/p2', '/reg/pods/p3']) await c.put(k, 'y');
      await c.delete('/reg/svc/s1');
      const ranked = await hot;
      expect(ranked.code).toBe(0);
      const rows = ranked.out.trim().split('\n');
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatch(/^\d+\.\d\d\/s\t3\t\/reg\/pods\/$/);
      expect(rows[1]).toMatch(/^\d+\.\d\d\/s\t1\t\/reg\/svc\/$/);
    } finally {
      c.close();
      await etcd.stop();
    }
  });
});

describe('check perf and check datascale', () => {
  it("run etcdctl's checks, print its verdict lines and clean up their keys", async () => {
    const etcd = await startEtcd();
    const c = new KvClient({ endpoints: [etcd.clientUrl] });
    const ep = `--endpoints=${etcd.clientUrl}`;
    try {
      const perf = await kvctl([ep, 'check', 'perf', '--duration', '2s', '--auto-compact']);
      const lines = perf.out.trim().split('\n');
      expect(lines[0]).toMatch(/^Compacting with revision \d+$/);
      expect(lines[1]).toMatch(/^Compacted with revision \d+$/);
      expect(lines[2]).toMatch(/^(PASS: Throughput is|FAIL: Throughput too low:) \d+ writes\/s$/);
      expect(lines[3]).toMatch(/^(PASS: Slowest request took|Slowest request took too long:) \d+\.\d{6}s$/);
      expect(lines[4]).toMatch(/^(PASS: Stddev is|Stddev too high:) \d+\.\d{6}s$/);
      // The verdict line and the exit code agree (the numbers depend on the machine).
      expect(lines[5]).toBe(perf.code === 0 ? 'PASS' : 'FAIL');
      expect((await c.get('/etcdctl-check-perf/', { prefix: true, countOnly: true })).count).toBe(0);

      await c.put('/etcdctl-check-perf/left-over', 'x');
      const used = await kvctl([ep, 'check', 'perf']);
      expect(used).toMatchObject({
        code: 3,
        err: 'Error: prefix "/etcdctl-check-perf/" has keys. Delete with etcdctl del --prefix /etcdctl-check-perf/ first\n',
      });
      expect(await kvctl([ep, 'check', 'perf', '--load', 'huge'])).toMatchObject({
        code: 4,
        err: 'Error: unknown load option huge\n',
      });

      const scale = await kvctl([ep, 'check', 'datascale', '--prefix', '/scale/']);
      expect(scale.code).toBe(0);
      expect(scale.out).toMatch(
        /^Start data scale check for work load \[10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients\]\.\nPASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$/,
      );
      expect((await c.get('/scale/', { prefix: true, countOnly: true })).count).toBe(0);
    } finally {
      c.close();
      await etcd.stop();
    }
  });
});

describe('make-mirror', () => {
  it('copies a prefix to another cluster and follows its updates', async () => {
    const [src, dst] = await Promise.all([startEtcd(), startEtcd()]);
    const cs = new KvClient({ endpoints: [src.clientUrl] });
    const cd = new KvClient({ endpoints: [dst.clientUrl] });
    try {
      await cs.put('p/a', '1');
      await cs.put('p/b', '2');
      await cs.put('other', 'not mirrored');
      const mirror = kvctl(
        [`--endpoints=${src.clientUrl}`, 'make-mirror', dst.clientUrl, '--prefix', 'p/', '--no-dest-prefix'],
        { timeoutMs: 6000 },
      );
      await sleep(3000);
      await cs.put('p/c', '3');
      await cs.delete('p/a');
      const ended = await mirror;
      expect(ended.code).toBe(null); // ended by SIGTERM: it runs until interrupted
      const copied = await cd.get('', { fromKey: true });
      expect(
        copied.kvs.map((kv) => [Buffer.from(kv.key).toString(), Buffer.from(kv.value).toString()]),
      ).toEqual([
        ['b', '2'],
        ['c', '3'],
      ]);
      expect(
        await kvctl([
          `--endpoints=${src.clientUrl}`,
          'make-mirror',
          dst.clientUrl,
          '--dest-prefix',
          'x',
          '--no-dest-prefix',
        ]),
      ).toMatchObject({
        code: 128,
        err: 'Error: `--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one\n',
      });
    } finally {
      cs.close();
      cd.close();
      await Promise.all([src.stop(), dst.stop()]);
    }
  });
});

describe('completion', () => {
  it('prints a bash script that completes kvctl commands in a real bash', async () => {
    const bin = join(root, 'bin');
    rmSync(bin, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(bin));
    const wrapper = join(bin, 'kvctl');
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    const script =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
      'source <(kvctl completion bash); COMP_WORDS=(kvctl mem); COMP_CWORD=1; _kvctl_yargs_completions; echo "${COMPREPLY[@]}"';
    const res = await runProcess('bash', ['-c', script], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(res).toMatchObject({ code: 0, out: 'member\n' });
    const zsh = await kvctl(['completion', 'zsh']);
    expect(zsh.out.startsWith('#compdef kvctl\n')).toBe(true);
    expect(await kvctl(['completion', 'fish'])).toMatchObject({
      code: 128,
      err: 'Error: kvctl has no fish completion (bash, zsh)\n',
    });
  });
});

describe('progress bar', () => {
  it('draws on a terminal and stays off stdout and off pipes', async () => {
    const etcd = await startEtcd();
    try {
      const file = join(root, 'tty.db');
      const cmd = `"${process.execPath}" "${MAIN}" --endpoints=${etcd.clientUrl} snapshot save ${file}`;
      // script(1) gives kvctl a pseudo-terminal for stdout and stderr.
      const tty = await runProcess('script', ['-qec', cmd, '/dev/null']);
      expect(tty.code).toBe(0);
      expect(tty.out).toMatch(/\] 100% \d+ \/ \d+ bytes/);
      expect(tty.out).toContain(`Snapshot saved at ${file}`);
      const piped = await kvctl([`--endpoints=${etcd.clientUrl}`, 'snapshot', 'save', join(root, 'pipe.db')]);
      expect(piped).toMatchObject({ code: 0, err: '', out: `Snapshot saved at ${join(root, 'pipe.db')}\n` });
    } finally {
      await etcd.stop();
    }
  });
});
