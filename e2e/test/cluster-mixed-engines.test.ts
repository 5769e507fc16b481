// Members of one kv cluster may run different storage engines (`--backend`): raft replicates requests,
// not engine pages, and a snapshot travels as kv's engine-neutral dump. Here the leader runs the memory
// engine, a member down through a snapshot and compaction runs LMDB and must catch up by receiving that
// snapshot into its own engine, and the third runs LevelDB; all three end with equal hashes.
// kv-only: etcd has one storage engine (bbolt) and no --backend flag, so this test always runs kv members.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from './support/cluster.js';
import { etcdctl } from './support/server.js';

const SNAPSHOT_COUNT = 100;
/** More entries than the leader keeps behind its snapshot (etcd's SnapshotCatchUpEntries, 5000). */
const WRITES = 5000 + SNAPSHOT_COUNT * 3;

let c: Cluster | undefined;
afterAll(async () => c?.close());

describe('members on different storage engines', () => {
  it('replicate, and a member catches up by snapshot into its own engine', async () => {
    c = await Cluster.start({
      size: 3,
      target: 'kv',
      flags: ['--snapshot-count', String(SNAPSHOT_COUNT)],
      memberFlags: { 0: ['--backend', 'memory'], 1: ['--backend', 'lmdb'], 2: ['--backend', 'level'] },
    });
    const cluster = c;
    const memory = cluster.member(0);
    const lmdb = cluster.member(1);
    const level = cluster.member(2);
    // The snapshot must come from the memory engine: make its member the leader.
    const leader = cluster.member(await cluster.waitLeader());
    if (leader !== memory) {
      const moved = await etcdctl(cluster.endpoints, ['move-leader', memory.hexId]);
      expect(moved.stderr).toBe('');
      expect(await cluster.waitLeader({ exclude: [leader.index] })).toBe(memory.index);
    }
    expect((await etcdctl(level.endpoint, ['put', 'first', 'on-level'])).stdout.trim()).toBe('OK');
    await lmdb.stop();

    const client = new Etcd3({ hosts: memory.endpoint });
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let i = next++; i < WRITES; i = next++) await client.put(`bulk/${i % 300}`).value(`v${i}`);
        }),
      );
    } finally {
      client.close();
    }
    const st = await memory.status();
    expect((await etcdctl(memory.endpoint, ['compact', String(st!.revision)])).code).toBe(0);
    // (hashkv at the compacted revision itself is ErrCompacted, in etcd too: write once more.)
    expect((await etcdctl(memory.endpoint, ['put', 'last', 'after-compact'])).code).toBe(0);

    await lmdb.restart();
    const hashes = await cluster.waitConverged();
    expect(hashes.map((h) => h.hash)).toEqual([hashes[0]!.hash, hashes[0]!.hash, hashes[0]!.hash]);
    expect(lmdb.log).toMatch(/received and saved database snapshot/);
    // The caught-up member still runs (and records) LMDB: the snapshot was loaded into its engine.
    const record = JSON.parse(readFileSync(join(lmdb.dataDir, 'member', 'engine.json'), 'utf8'));
    expect(record.engine).toBe('lmdb');
    for (const m of [memory, lmdb, level]) {
      const got = await etcdctl(m.endpoint, ['get', 'first', '--consistency=s', '--print-value-only']);
      expect({ member: m.name, value: got.stdout.trim() }).toEqual({ member: m.name, value: 'on-level' });
      const last = await etcdctl(m.endpoint, ['get', `bulk/${(WRITES - 1) % 300}`, '--print-value-only']);
      expect(last.stdout.trim()).toBe(`v${WRITES - 1}`);
    }
  });
});
