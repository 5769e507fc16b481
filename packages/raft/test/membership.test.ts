import { describe, expect, it } from 'vitest';
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  EntryType,
  ProposalDroppedError,
  StateType,
} from '../src/index.js';
import { bytes, TestCluster } from './helpers/cluster.js';

const EMPTY = new Uint8Array();
const cc1 = (type: ConfChangeType, nodeId: number) => ({ type, nodeId, context: EMPTY });
const v2 = (transition: ConfChangeTransition, changes: [ConfChangeType, number][]): ConfChangeV2 => ({
  transition,
  changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
  context: EMPTY,
});

describe('membership changes', () => {
  it('adds a voter that catches up from an empty log and then counts towards quorum', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.addNode(4);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 4));
    c.stabilize();
    c.tick(1);
    expect(c.raft(1).trk.voterIds()).toEqual([1, 2, 3, 4]);
    expect(c.raft(4).trk.voterIds()).toEqual([1, 2, 3, 4]);
    expect(c.appliedData(4)).toEqual(['a']);
    // With 4 voters, two nodes down means no quorum.
    c.isolate(3);
    c.isolate(4);
    c.propose(1, 'b');
    expect(c.appliedData(1)).toEqual(['a']);
  });

  it('removes a voter: the quorum shrinks and the removed node gets nothing new', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 3));
    c.stabilize();
    expect(c.raft(1).trk.voterIds()).toEqual([1, 2]);
    c.propose(1, 'x');
    expect(c.appliedData(2)).toEqual(['x']);
    expect(c.appliedData(3)).toEqual([]);
  });

  it('adds a learner that replicates but does not vote, then promotes it', () => {
    const c = new TestCluster([1, 2]);
    c.campaign(1);
    c.addNode(3);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.AddLearnerNode, 3));
    c.stabilize();
    c.tick(1);
    expect(c.raft(1).trk.learnerIds()).toEqual([3]);
    c.propose(1, 'a');
    expect(c.appliedData(3)).toEqual(['a']);
    // A learner does not count: with 2 down of (1, 2) nothing commits.
    c.isolate(2);
    c.propose(1, 'b');
    expect(c.appliedData(1)).toEqual(['a']);
    c.heal();
    c.tick(1);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 3));
    c.stabilize();
    expect(c.raft(1).trk.voterIds()).toEqual([1, 2, 3]);
    expect(c.raft(3).isLearner).toBe(false);
    for (let i = 0; i < 30; i++) c.raft(3).tick();
    c.stabilize();
    expect(c.raft(3).state === StateType.Leader || c.raft(3).lead !== 0).toBe(true);
  });

  it('only one conf change may be pending; the second becomes an empty entry', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1); // keep the first change uncommitted
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 3));
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 2));
    c.stabilize();
    const ents = c.raft(1).log.allEntries().slice(-2);
    expect(ents[0]!.type).toBe(EntryType.ConfChange);
    expect(ents[1]!.type).toBe(EntryType.Normal);
    expect(ents[1]!.data.length).toBe(0);
  });

  it('joint consensus with explicit leave: enter, decide with both majorities, leave', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.addNode(4);
    c.addNode(5);
    c.node(1).rn.proposeConfChange(
      v2(ConfChangeTransition.JointExplicit, [
        [ConfChangeType.AddNode, 4],
        [ConfChangeType.AddNode, 5],
        [ConfChangeType.RemoveNode, 3],
      ]),
    );
    c.stabilize();
    c.tick(1);
    const cs = c.raft(1).trk.confState();
    expect(cs.voters).toEqual([1, 2, 4, 5]);
    expect(cs.votersOutgoing).toEqual([1, 2, 3]);
    expect(cs.autoLeave).toBe(false);
    // Joint: no other change allowed but leaving.
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 6));
    c.stabilize();
    expect(c.raft(1).trk.confState().votersOutgoing).toEqual([1, 2, 3]);
    // A commit needs a majority of the old (1,2,3) AND of the new (1,2,4,5): cut 2 and 3 off.
    c.isolate(2);
    c.isolate(3);
    c.propose(1, 'needs-both');
    expect(c.appliedData(1)).not.toContain('needs-both');
    c.heal();
    c.tick(1);
    expect(c.appliedData(1)).toContain('needs-both');
    // Leave explicitly.
    c.node(1).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    const after = c.raft(1).trk.confState();
    expect(after.votersOutgoing).toEqual([]);
    expect(after.voters).toEqual([1, 2, 4, 5]);
    expect(c.raft(4).trk.confState().votersOutgoing).toEqual([]);
  });

  it('joint consensus with auto-leave: raft leaves the joint config on its own', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.addNode(4);
    c.node(1).rn.proposeConfChange(
      v2(ConfChangeTransition.Auto, [
        [ConfChangeType.AddNode, 4],
        [ConfChangeType.RemoveNode, 2],
      ]),
    );
    c.stabilize();
    c.tick(1);
    const cs = c.raft(1).trk.confState();
    expect(cs.votersOutgoing).toEqual([]);
    expect(cs.voters).toEqual([1, 3, 4]);
    // Two ConfChangeV2 entries were applied: the enter and the automatic leave.
    const v2s = c.node(1).applied.filter((e) => e.type === EntryType.ConfChangeV2);
    expect(v2s).toHaveLength(2);
  });

  it('demoting a voter through a joint config parks it in learnersNext until the leave', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.filter = (m) =>
      !(m.type === 3 && m.entries.some((e) => e.type === EntryType.ConfChangeV2 && e.data.length < 3));
    c.node(1).rn.proposeConfChange(
      v2(ConfChangeTransition.JointExplicit, [[ConfChangeType.AddLearnerNode, 3]]),
    );
    c.stabilize();
    let cs = c.raft(1).trk.confState();
    expect(cs.voters).toEqual([1, 2]);
    expect(cs.votersOutgoing).toEqual([1, 2, 3]);
    expect(cs.learnersNext).toEqual([3]);
    expect(cs.learners).toEqual([]);
    c.filter = undefined;
    c.node(1).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    cs = c.raft(1).trk.confState();
    expect(cs.learners).toEqual([3]);
    expect(cs.learnersNext).toEqual([]);
    expect(c.raft(3).isLearner).toBe(true);
  });

  it('refuses to leave a joint config that was never entered', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.node(1).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    const last = c.raft(1).log.allEntries().at(-1)!;
    expect(last.type).toBe(EntryType.Normal);
  });

  it('applyConfChange rejects removing every voter', () => {
    const c = new TestCluster([1]);
    expect(() => c.node(1).rn.applyConfChange(cc1(ConfChangeType.RemoveNode, 1))).toThrow(
      /removed all voters/,
    );
  });

  it('a removed leader keeps leading without accepting proposals, or steps down with stepDownOnRemoval', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 1));
    c.stabilize();
    expect(c.state(1)).toBe(StateType.Leader);
    expect(() => c.node(1).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);

    const d = new TestCluster([1, 2, 3], { stepDownOnRemoval: true });
    d.campaign(1);
    d.node(1).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 1));
    d.stabilize();
    expect(d.state(1)).toBe(StateType.Follower);
    for (let i = 0; i < 40 && d.leader() === undefined; i++) d.tickAll();
    expect([2, 3]).toContain(d.leader());
  });

  it('a node with unapplied committed conf changes does not campaign', () => {
    const c = new TestCluster([1, 2, 3]);
    const r = c.raft(1);
    // Pretend the bootstrap entries were committed but not yet applied.
    r.log.applied = 0;
    r.step({
      type: 0,
      to: 1,
      from: 1,
      term: 0,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      context: EMPTY,
    });
    expect(r.state).toBe(StateType.Follower);
  });
});

describe('configuration changer', () => {
  const tracker = () => {
    const c = new TestCluster([1, 2, 3], {}, { learners: [4] });
    const rn = c.node(1).rn;
    return { applyConfChange: rn.applyConfChange.bind(rn), trk: rn.raft.trk };
  };

  it('refuses to change more than one voter without joint consensus', () => {
    const r = tracker();
    expect(() =>
      r.applyConfChange(
        v2(ConfChangeTransition.Auto, [
          [ConfChangeType.AddNode, 5],
          [ConfChangeType.AddNode, 6],
        ]),
      ),
    ).not.toThrow(); // Auto with two changes enters a joint config instead
    expect(r.trk.confState().votersOutgoing).toEqual([1, 2, 3]);
    expect(() =>
      r.applyConfChange(v2(ConfChangeTransition.JointExplicit, [[ConfChangeType.AddNode, 7]])),
    ).toThrow(/already joint/);
    expect(() => r.applyConfChange(cc1(ConfChangeType.AddNode, 7))).toThrow(/already joint|joint config/);
    r.applyConfChange(v2(ConfChangeTransition.Auto, []));
    expect(() => r.applyConfChange(v2(ConfChangeTransition.Auto, []))).toThrow(/non-joint/);
  });

  it('removing a learner drops its progress; UpdateNode changes nothing; node id 0 is ignored', () => {
    const r = tracker();
    const before = r.trk.confState();
    r.applyConfChange(cc1(ConfChangeType.UpdateNode, 2));
    r.applyConfChange(cc1(ConfChangeType.AddNode, 0));
    expect(r.trk.confState()).toEqual(before);
    r.applyConfChange(cc1(ConfChangeType.RemoveNode, 4));
    expect(r.trk.confState().learners).toEqual([]);
    expect(r.trk.progress.has(4)).toBe(false);
  });

  it('promoting a learner keeps its replication progress', () => {
    const c = new TestCluster([1, 2, 3], {}, { learners: [4] });
    c.campaign(1);
    const match = c.raft(1).trk.progress.get(4)!.match;
    expect(match).toBeGreaterThan(0);
    c.node(1).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 4));
    c.stabilize();
    expect(c.raft(1).trk.progress.get(4)!.isLearner).toBe(false);
    expect(c.raft(1).trk.progress.get(4)!.match).toBeGreaterThanOrEqual(match);
  });
});
