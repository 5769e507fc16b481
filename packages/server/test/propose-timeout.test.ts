import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../src/config/parse.js';
import { EtcdServer } from '../src/etcdserver/server.js';
import { Logger } from '../src/log/logger.js';
import { ServerMetrics } from '../src/metrics/server-metrics.js';

/**
 * Proposals share one timer (armed for the oldest waiter) instead of one timer each. These check what
 * etcd's per-request timeout promises still holds: a proposal that is never applied fails with
 * `etcdserver: request timed out` once its own timeout (5 s + 2 × election timeout) has passed, later
 * proposals time out after earlier ones and not before their own deadline, and each one is counted in
 * `etcd_server_proposals_failed_total`.
 */
describe('proposal timeout', () => {
  let dir: string;
  let etcd: EtcdServer;
  let metrics: ServerMetrics;
  const electionMs = 100;
  const timeoutMs = 5000 + 2 * electionMs;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kv-propose-timeout-'));
    // Two voters, the other never started: no leader is ever elected, so no proposal is applied.
    const parsed = parseArgs([
      '--name',
      'a',
      '--data-dir',
      dir,
      '--listen-client-urls',
      'http://127.0.0.1:0',
      '--advertise-client-urls',
      'http://127.0.0.1:0',
      '--listen-peer-urls',
      'http://127.0.0.1:0',
      '--initial-advertise-peer-urls',
      'http://127.0.0.1:2380',
      '--initial-cluster',
      'a=http://127.0.0.1:2380,b=http://127.0.0.1:2381',
      '--heartbeat-interval',
      '10',
      '--election-timeout',
      String(electionMs),
    ]);
    if (parsed.action !== 'run') throw new Error('unexpected parse result');
    metrics = new ServerMetrics();
    etcd = await EtcdServer.start({
      config: parsed.config,
      logger: Logger.silent(),
      metrics,
      unsafeNoFsync: true,
    });
  });

  afterAll(async () => {
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails each unapplied proposal with a timeout after its own deadline, oldest first', async () => {
    const started: number[] = [];
    const order: number[] = [];
    const outcomes: Array<Promise<{ err: unknown; waited: number }>> = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 300));
      started.push(Date.now());
      outcomes.push(
        etcd.propose({ put: { key: Buffer.from(`k${i}`), value: Buffer.from('v') } }).then(
          () => ({ err: undefined, waited: Date.now() - started[i]! }),
          (err: unknown) => {
            order.push(i);
            return { err, waited: Date.now() - started[i]! };
          },
        ),
      );
    }
    const results = await Promise.all(outcomes);
    expect(order).toEqual([0, 1, 2]);
    for (const r of results) {
      expect((r.err as Error | undefined)?.message).toBe('etcdserver: request timed out');
      // Never before the deadline (a few ms of slack for the clock's granularity).
      expect(r.waited).toBeGreaterThanOrEqual(timeoutMs - 20);
    }
    const failed = (await metrics.registry.render()).match(/^etcd_server_proposals_failed_total (\d+)/m);
    expect(Number(failed?.[1])).toBe(3);
  }, 20_000);
});
