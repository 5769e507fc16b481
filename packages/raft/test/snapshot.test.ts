import { describe, expect, it } from 'vitest';
import { type Message, MessageType, ProgressState } from '../src/index.js';
import { TestCluster, text } from './helpers/cluster.js';

/** Compacts node `id`'s storage up to its applied index, snapshotting its applied data. */
function compact(c: TestCluster, id: bigint): number {
  const n = c.node(id);
  const applied = n.rn.raft.log.applied;
  const data = new TextEncoder().encode(c.appliedData(id).join(','));
  n.storage.createSnapshot(applied, n.rn.raft.trk.confState(), data);
  n.storage.compact(applied);
  return applied;
}

describe('log compaction and snapshots', () => {
  it('sends a snapshot to a follower whose next entries were compacted, then resumes replication', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    for (let i = 0; i < 5; i++) c.propose(1n, `v${i}`);
    const snapIndex = compact(c, 1n);
    expect(c.raft(1n).log.firstIndex()).toBe(snapIndex + 1);
    c.heal();
    c.tick(1n);
    const snaps = c.deliveredOf(MessageType.MsgSnap, { to: 3n });
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.snapshot!.metadata.index).toBe(snapIndex);
    expect(text(snaps[0]!.snapshot!.data)).toBe('v0,v1,v2,v3,v4');
    expect(c.node(3n).storage.snapshot().metadata.index).toBe(snapIndex);
    // The snapshot was reported (by the leader's transport), so replication resumes.
    c.node(1n).rn.reportSnapshot(3n, true);
    c.propose(1n, 'after');
    c.tick(1n);
    expect(c.raft(1n).trk.progress.get(3n)!.state).toBe(ProgressState.Replicate);
    expect(c.appliedData(3n)).toEqual(['after']);
    expect(c.raft(3n).log.committed).toBe(c.raft(1n).log.committed);
  });

  it('a failed snapshot is retried after reportSnapshot(id, false)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    for (let i = 0; i < 3; i++) c.propose(1n, `v${i}`);
    compact(c, 1n);
    c.heal();
    c.filter = (m) => m.type !== MessageType.MsgSnap;
    c.tick(1n);
    const pr = c.raft(1n).trk.progress.get(3n)!;
    expect(pr.state).toBe(ProgressState.Snapshot);
    c.node(1n).rn.reportSnapshot(3n, false);
    expect(pr.state).toBe(ProgressState.Probe);
    c.filter = undefined;
    c.tick(1n);
    c.tick(1n);
    expect(c.node(3n).storage.snapshot().metadata.index).toBeGreaterThan(0);
  });

  it('the snapshot carries the configuration and a restarted node restores it', () => {
    const c = new TestCluster([1n, 2n, 3n], {}, { learners: [4n] });
    c.campaign(1n);
    c.isolate(2n);
    c.propose(1n, 'x');
    compact(c, 1n);
    c.heal();
    c.tick(1n);
    const cs = c.node(2n).storage.snapshot().metadata.confState;
    expect(cs.voters).toEqual([1n, 2n, 3n]);
    expect(cs.learners).toEqual([4n]);
    const restarted = c.restart(2n, c.node(2n).storage.snapshot().metadata.index);
    expect(restarted.rn.raft.trk.confState().learners).toEqual([4n]);
    expect(restarted.rn.raft.trk.voterIds()).toEqual([1n, 2n, 3n]);
  });

  it('a follower ignores a snapshot older than its commit index', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    const r2 = c.raft(2n);
    const committed = r2.log.committed;
    const restored = r2.restore({
      data: new Uint8Array(),
      metadata: {
        index: 2,
        term: 1,
        confState: {
          voters: [1n, 2n, 3n],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
    });
    expect(restored).toBe(false);
    expect(r2.log.committed).toBe(committed);
  });

  it('a pending snapshot makes a node unpromotable until it is persisted', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    for (let i = 0; i < 3; i++) c.propose(1n, `v${i}`);
    compact(c, 1n);
    c.heal();
    let captured: Message | undefined;
    c.filter = (m) => {
      if (m.type === MessageType.MsgSnap) captured = m;
      return m.type !== MessageType.MsgSnap;
    };
    c.tick(1n);
    expect(captured).toBeDefined();
    const n3 = c.node(3n);
    n3.rn.step(captured!);
    expect(n3.rn.raft.promotable()).toBe(false);
    expect(n3.rn.hasReady()).toBe(true);
    c.processReady(3n);
    expect(n3.rn.raft.promotable()).toBe(true);
  });
});
