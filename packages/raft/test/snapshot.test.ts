import { describe, expect, it } from 'vitest';
import { type Message, MessageType, ProgressState } from '../src/index.js';
import { TestCluster, text } from './helpers/cluster.js';

/** Compacts node `id`'s storage up to its applied index, snapshotting its applied data. */
function compact(c: TestCluster, id: number): number {
  const n = c.node(id);
  const applied = n.rn.raft.log.applied;
  const data = new TextEncoder().encode(c.appliedData(id).join(','));
  n.storage.createSnapshot(applied, n.rn.raft.trk.confState(), data);
  n.storage.compact(applied);
  return applied;
}

describe('log compaction and snapshots', () => {
  it('sends a snapshot to a follower whose next entries were compacted, then resumes replication', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    const snapIndex = compact(c, 1);
    expect(c.raft(1).log.firstIndex()).toBe(snapIndex + 1);
    c.heal();
    c.tick(1);
    const snaps = c.deliveredOf(MessageType.MsgSnap, { to: 3 });
    expect(snaps).toHaveLength(1);
    expect(snaps[0]!.snapshot!.metadata.index).toBe(snapIndex);
    expect(text(snaps[0]!.snapshot!.data)).toBe('v0,v1,v2,v3,v4');
    expect(c.node(3).storage.snapshot().metadata.index).toBe(snapIndex);
    // The snapshot was reported (by the leader's transport), so replication resumes.
    c.node(1).rn.reportSnapshot(3, true);
    c.propose(1, 'after');
    c.tick(1);
    expect(c.raft(1).trk.progress.get(3)!.state).toBe(ProgressState.Replicate);
    expect(c.appliedData(3)).toEqual(['after']);
    expect(c.raft(3).log.committed).toBe(c.raft(1).log.committed);
  });

  it('a failed snapshot is retried after reportSnapshot(id, false)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 3; i++) c.propose(1, `v${i}`);
    compact(c, 1);
    c.heal();
    c.filter = (m) => m.type !== MessageType.MsgSnap;
    c.tick(1);
    const pr = c.raft(1).trk.progress.get(3)!;
    expect(pr.state).toBe(ProgressState.Snapshot);
    c.node(1).rn.reportSnapshot(3, false);
    expect(pr.state).toBe(ProgressState.Probe);
    c.filter = undefined;
    c.tick(1);
    c.tick(1);
    expect(c.node(3).storage.snapshot().metadata.index).toBeGreaterThan(0);
  });

  it('the snapshot carries the configuration and a restarted node restores it', () => {
    const c = new TestCluster([1, 2, 3], {}, { learners: [4] });
    c.campaign(1);
    c.isolate(2);
    c.propose(1, 'x');
    compact(c, 1);
    c.heal();
    c.tick(1);
    const cs = c.node(2).storage.snapshot().metadata.confState;
    expect(cs.voters).toEqual([1, 2, 3]);
    expect(cs.learners).toEqual([4]);
    const restarted = c.restart(2, c.node(2).storage.snapshot().metadata.index);
    expect(restarted.rn.raft.trk.confState().learners).toEqual([4]);
    expect(restarted.rn.raft.trk.voterIds()).toEqual([1, 2, 3]);
  });

  it('a follower ignores a snapshot older than its commit index', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const r2 = c.raft(2);
    const committed = r2.log.committed;
    const restored = r2.restore({
      data: new Uint8Array(),
      metadata: {
        index: 2,
        term: 1,
        confState: {
          voters: [1, 2, 3],
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
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 3; i++) c.propose(1, `v${i}`);
    compact(c, 1);
    c.heal();
    let captured: Message | undefined;
    c.filter = (m) => {
      if (m.type === MessageType.MsgSnap) captured = m;
      return m.type !== MessageType.MsgSnap;
    };
    c.tick(1);
    expect(captured).toBeDefined();
    const n3 = c.node(3);
    n3.rn.step(captured!);
    expect(n3.rn.raft.promotable()).toBe(false);
    expect(n3.rn.hasReady()).toBe(true);
    c.processReady(3);
    expect(n3.rn.raft.promotable()).toBe(true);
  });
});
