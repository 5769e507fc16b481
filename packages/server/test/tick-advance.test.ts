/**
 * etcd's initial election tick advance (`--initial-election-tick-advance`): the waiting rule on fake
 * peers and a fake clock advance, then three in-process members over real loopback sockets with the flag
 * on (each member fast-forwards once both of its peers are connected) and off (each says it skips).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/config/parse.js';
import { KvServer } from '../src/embed.js';
import { advanceInitialElectionTicks, type TickAdvanceDeps } from '../src/etcdserver/tick-advance.js';
import { call, connect, freePort, memoryLogger, sleep } from './helpers.js';

function deps(over: Partial<TickAdvanceDeps>): TickAdvanceDeps & { advanced: number[] } {
  const advanced: number[] = [];
  return {
    electionTicks: 10,
    tickMs: 100,
    localMemberId: '8e9e05c52164694d',
    activePeers: () => 2,
    advance: (n) => advanced.push(n),
    stopped: () => false,
    log: memoryLogger().log,
    pollMs: 5,
    waitMs: 200,
    ...over,
    advanced,
  };
}

describe('advanceInitialElectionTicks', () => {
  it('advances election ticks - 2 once more than one remote peer is active, and logs as etcd', async () => {
    const { log, lines } = memoryLogger();
    // No peer, then one (not enough: etcd wants more than one), then both.
    const seen = [0, 1, 1, 2];
    let polls = 0;
    const d = deps({ log, activePeers: () => seen[polls++] ?? 2 });
    await expect(advanceInitialElectionTicks(d)).resolves.toBe(8);
    expect(d.advanced).toEqual([8]);
    expect(polls).toBe(4);
    expect(lines().map((l) => l.msg)).toEqual([
      'starting initial election tick advance',
      'initialized peer connections; fast-forwarding election ticks',
    ]);
    expect(lines()[0]).toMatchObject({ 'election-ticks': 10 });
    expect(lines()[1]).toMatchObject({
      'local-member-id': '8e9e05c52164694d',
      'forward-ticks': 8,
      'forward-duration': '800ms',
      'election-ticks': 10,
      'election-timeout': '1s',
      'active-remote-members': 2,
    });
  });

  it('gives up without advancing when at most one remote peer connects within the wait', async () => {
    const d = deps({ activePeers: () => 1, waitMs: 60 });
    await expect(advanceInitialElectionTicks(d)).resolves.toBe(0);
    expect(d.advanced).toEqual([]);
  });

  it('ends without advancing once the server stops', async () => {
    let stopped = false;
    const d = deps({ activePeers: () => 0, stopped: () => stopped, waitMs: 10_000 });
    const done = advanceInitialElectionTicks(d);
    await sleep(20);
    stopped = true;
    await expect(done).resolves.toBe(0);
    expect(d.advanced).toEqual([]);
  });
});

describe('a 3-member cluster starting', () => {
  const root = mkdtempSync(join(tmpdir(), 'kv-tick-advance-'));
  const running: KvServer[] = [];
  afterAll(async () => {
    await Promise.all(running.map((s) => s.close()));
    rmSync(root, { recursive: true, force: true });
  });

  /** Starts three members together; resolves with each member's log lines once a leader serves. */
  async function startCluster(name: string, extra: string[]) {
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const names = ['a', 'b', 'c'];
    const ic = names.map((n, i) => `${n}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
    const logs = names.map(() => memoryLogger());
    const servers = await Promise.all(
      names.map((n, i) => {
        const parsed = parseArgs([
          ...['--name', n, '--data-dir', join(root, `${name}-${n}`)],
          ...['--listen-client-urls', `http://127.0.0.1:${ports[2 * i]}`],
          ...['--advertise-client-urls', `http://127.0.0.1:${ports[2 * i]}`],
          ...['--listen-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`],
          ...['--initial-advertise-peer-urls', `http://127.0.0.1:${ports[2 * i + 1]}`],
          ...['--initial-cluster', ic, '--initial-cluster-token', `tick-advance-${name}-${process.pid}`],
          ...['--heartbeat-interval', '100', '--election-timeout', '1000'],
          ...extra,
        ]);
        if (parsed.action !== 'run') throw new Error('unexpected');
        return KvServer.start(parsed.config, { logger: logs[i]!.log, unsafeNoFsync: true });
      }),
    );
    running.push(...servers);
    // A write through the first member needs an elected leader and a quorum.
    const client = connect(`127.0.0.1:${ports[0]}`);
    try {
      await call(client.kv, 'put', { key: Buffer.from('k'), value: Buffer.from('v') });
    } finally {
      client.close();
    }
    return logs.map((l) => l.lines());
  }

  it('fast-forwards each member election ticks - 2 once both of its peers are connected', async () => {
    const logs = await startCluster('on', []);
    for (const lines of logs) {
      const forward = lines.filter(
        (l) => l.msg === 'initialized peer connections; fast-forwarding election ticks',
      );
      expect(forward).toHaveLength(1);
      expect(forward[0]).toMatchObject({
        'forward-ticks': 8,
        'forward-duration': '800ms',
        'election-ticks': 10,
        'election-timeout': '1s',
        'active-remote-members': 2,
      });
      expect(lines.some((l) => l.msg === 'skipping initial election tick advance')).toBe(false);
    }
  });

  it('skips the advance with --initial-election-tick-advance=false and still elects a leader', async () => {
    const logs = await startCluster('off', ['--initial-election-tick-advance=false']);
    for (const lines of logs) {
      expect(lines.find((l) => l.msg === 'skipping initial election tick advance')).toMatchObject({
        'election-ticks': 10,
      });
      expect(
        lines.some((l) => l.msg === 'initialized peer connections; fast-forwarding election ticks'),
      ).toBe(false);
    }
  });
});
