// Bootstrap of a static cluster: a member whose peers are not up yet waits for them (it neither exits nor
// serves clients: etcdctl reports it unhealthy), stops promptly on SIGTERM, and the cluster forms as soon as
// a quorum of members runs.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl, sleep } from './support/server.js';

let c: Cluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('bootstrap', () => {
  it('a member started before its peers waits for them, is unhealthy meanwhile, and the cluster forms when they come', async () => {
    c = await Cluster.start({ size: 3, deferred: [1, 2] });
    const first = c.member(0);
    // Several election timeouts alone: no leader, but the member keeps waiting.
    await sleep(3000);
    expect(first.running).toBe(true);
    const health = await etcdctl(first.endpoint, ['endpoint', 'health', '--command-timeout=2s']);
    expect(health.code).not.toBe(0);
    expect(health.stderr).toMatch(/is unhealthy: failed to commit proposal: context deadline exceeded/);
    // Nor does it serve clients before it has joined a cluster with a leader.
    const put = await etcdctl(first.endpoint, ['put', 'early', 'x', '--command-timeout=2s']);
    expect(put.code).not.toBe(0);
    expect(put.stderr).toMatch(/Error: context deadline exceeded\n/);

    // One more member makes a quorum of 2 out of 3: a leader is elected and writes commit.
    await c.member(1).start();
    await first.waitReady();
    expect((await etcdctl(first.endpoint, ['put', 'formed', 'with-2'])).stdout.trim()).toBe('OK');
    await c.member(2).start();
    const got = await etcdctl(c.member(2).endpoint, [
      'get',
      'formed',
      '--consistency=l',
      '--print-value-only',
    ]);
    expect(got.stdout.trim()).toBe('with-2');
  });

  it('SIGTERM stops a member that is still waiting for its peers', async () => {
    c = await Cluster.start({ size: 3, deferred: [1, 2] });
    const alone = c.member(0);
    await sleep(2000);
    expect(alone.running).toBe(true);
    await alone.stop();
    // etcd re-raises the signal (killed by SIGTERM); kv-server exits 0. Either way not the harness's
    // SIGKILL fallback.
    const exit = alone.exit;
    expect(exit?.signal === 'SIGTERM' || exit?.code === 0).toBe(true);
  });
});
