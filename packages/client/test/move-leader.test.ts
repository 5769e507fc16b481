/**
 * moveLeader on a real 3-member etcd cluster: the client finds the leader, sends MoveLeader there,
 * and leadership ends up on the chosen member. (kv-server runs as a single process per member only
 * once its peer transport is wired; its single-member MoveLeader is covered in builders-ids.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvClient } from '../src/index.js';
import { eventually, startEtcdCluster, type TestCluster } from './servers.js';

describe('moveLeader against a 3-member etcd cluster', () => {
  let cluster: TestCluster;
  let client: KvClient;
  beforeAll(async () => {
    cluster = await startEtcdCluster(3);
    client = new KvClient({ endpoints: cluster.endpoints, commandTimeoutMs: 10_000 });
  }, 40_000);
  afterAll(async () => {
    client?.close();
    await cluster?.destroy();
  });

  it('moves leadership to a follower, whichever endpoint the client asks first', async () => {
    const before = (await client.status()).leader;
    const { members } = await client.memberList();
    const target = members.find((m) => String(m.ID) !== String(before));
    expect(target).toBeDefined();
    await client.moveLeader(target!.ID);
    // Every member agrees on the new leader.
    const agreed = await eventually(async () => {
      const leaders = await Promise.all(
        cluster.endpoints.map(async (ep) => {
          const one = new KvClient({ endpoints: [ep], commandTimeoutMs: 5000 });
          try {
            return String((await one.status()).leader);
          } finally {
            one.close();
          }
        }),
      );
      return leaders.every((l) => l === String(target!.ID));
    });
    expect(agreed).toBe(true);
    // The cluster keeps serving writes under the new leader.
    expect((await client.put('after-move', 'ok')).header?.revision).toBeGreaterThan(0);
  });
});
