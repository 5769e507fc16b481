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
const cc1 = (type: ConfChangeType, nodeId: bigint) => ({ type, nodeId, context: EMPTY });
const v2 = (transition: ConfChangeTransition, changes: [ConfChangeType, bigint][]): ConfChangeV2 => ({
  transition,
  changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
  context: EMPTY,
});

describe('membership changes', () => {
  it('adds a voter that catches up from an empty log and then counts towards quorum', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    c.addNode(4n);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 4n));
    c.stabilize();
    c.tick(1n);
    expect(c.raft(1n).trk.voterIds()).toEqual([1n, 2n, 3n, 4n]);
    expect(c.raft(4n).trk.voterIds()).toEqual([1n, 2n, 3n, 4n]);
    expect(c.appliedData(4n)).toEqual(['a']);
    // With 4 voters, two nodes down means no quorum.
    c.isolate(3n);
    c.isolate(4n);
    c.propose(1n, 'b');
    expect(c.appliedData(1n)).toEqual(['a']);
  });

  it('removes a voter: the quorum shrinks and the removed node gets nothing new', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 3n));
    c.stabilize();
    expect(c.raft(1n).trk.voterIds()).toEqual([1n, 2n]);
    c.propose(1n, 'x');
    expect(c.appliedData(2n)).toEqual(['x']);
    expect(c.appliedData(3n)).toEqual([]);
  });

  it('adds a learner that replicates but does not vote, then promotes it', () => {
    const c = new TestCluster([1n, 2n]);
    c.campaign(1n);
    c.addNode(3n);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.AddLearnerNode, 3n));
    c.stabilize();
    c.tick(1n);
    expect(c.raft(1n).trk.learnerIds()).toEqual([3n]);
    c.propose(1n, 'a');
    expect(c.appliedData(3n)).toEqual(['a']);
    // A learner does not count: with 2 down of (1, 2) nothing commits.
    c.isolate(2n);
    c.propose(1n, 'b');
    expect(c.appliedData(1n)).toEqual(['a']);
    c.heal();
    c.tick(1n);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 3n));
    c.stabilize();
    expect(c.raft(1n).trk.voterIds()).toEqual([1n, 2n, 3n]);
    expect(c.raft(3n).isLearner).toBe(false);
    for (let i = 0; i < 30; i++) c.raft(3n).tick();
    c.stabilize();
    expect(c.raft(3n).state === StateType.Leader || c.raft(3n).lead !== 0n).toBe(true);
  });

  it('only one conf change may be pending; the second becomes an empty entry', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(1n); // keep the first change uncommitted
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 3n));
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 2n));
    c.stabilize();
    const ents = c.raft(1n).log.allEntries().slice(-2);
    expect(ents[0]!.type).toBe(EntryType.ConfChange);
    expect(ents[1]!.type).toBe(EntryType.Normal);
    expect(ents[1]!.data.length).toBe(0);
  });

  it('joint consensus with explicit leave: enter, decide with both majorities, leave', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.addNode(4n);
    c.addNode(5n);
    c.node(1n).rn.proposeConfChange(
      v2(ConfChangeTransition.JointExplicit, [
        [ConfChangeType.AddNode, 4n],
        [ConfChangeType.AddNode, 5n],
        [ConfChangeType.RemoveNode, 3n],
      ]),
    );
    c.stabilize();
    c.tick(1n);
    const cs = c.raft(1n).trk.confState();
    expect(cs.voters).toEqual([1n, 2n, 4n, 5n]);
    expect(cs.votersOutgoing).toEqual([1n, 2n, 3n]);
    expect(cs.autoLeave).toBe(false);
    // Joint: no other change allowed but leaving.
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 6n));
    c.stabilize();
    expect(c.raft(1n).trk.confState().votersOutgoing).toEqual([1n, 2n, 3n]);
    // A commit needs a majority of the old (1,2,3) AND of the new (1,2,4,5): cut 2 and 3 off.
    c.isolate(2n);
    c.isolate(3n);
    c.propose(1n, 'needs-both');
    expect(c.appliedData(1n)).not.toContain('needs-both');
    c.heal();
    c.tick(1n);
    expect(c.appliedData(1n)).toContain('needs-both');
    // Leave explicitly.
    c.node(1n).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    const after = c.raft(1n).trk.confState();
    expect(after.votersOutgoing).toEqual([]);
    expect(after.voters).toEqual([1n, 2n, 4n, 5n]);
    expect(c.raft(4n).trk.confState().votersOutgoing).toEqual([]);
  });

  it('joint consensus with auto-leave: raft leaves the joint config on its own', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.addNode(4n);
    c.node(1n).rn.proposeConfChange(
      v2(ConfChangeTransition.Auto, [
        [ConfChangeType.AddNode, 4n],
        [ConfChangeType.RemoveNode, 2n],
      ]),
    );
    c.stabilize();
    c.tick(1n);
    const cs = c.raft(1n).trk.confState();
    expect(cs.votersOutgoing).toEqual([]);
    expect(cs.voters).toEqual([1n, 3n, 4n]);
    // Two ConfChangeV2 entries were applied: the enter and the automatic leave.
    const v2s = c.node(1n).applied.filter((e) => e.type === EntryType.ConfChangeV2);
    expect(v2s).toHaveLength(2);
  });

  it('demoting a voter through a joint config parks it in learnersNext until the leave', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.filter = (m) =>
      !(m.type === 3 && m.entries.some((e) => e.type === EntryType.ConfChangeV2 && e.data.length < 3));
    c.node(1n).rn.proposeConfChange(
      v2(ConfChangeTransition.JointExplicit, [[ConfChangeType.AddLearnerNode, 3n]]),
    );
    c.stabilize();
    let cs = c.raft(1n).trk.confState();
    expect(cs.voters).toEqual([1n, 2n]);
    expect(cs.votersOutgoing).toEqual([1n, 2n, 3n]);
    expect(cs.learnersNext).toEqual([3n]);
    expect(cs.learners).toEqual([]);
    c.filter = undefined;
    c.node(1n).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    cs = c.raft(1n).trk.confState();
    expect(cs.learners).toEqual([3n]);
    expect(cs.learnersNext).toEqual([]);
    expect(c.raft(3n).isLearner).toBe(true);
  });

  it('refuses to leave a joint config that was never entered', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.node(1n).rn.proposeConfChange(v2(ConfChangeTransition.Auto, []));
    c.stabilize();
    const last = c.raft(1n).log.allEntries().at(-1)!;
    expect(last.type).toBe(EntryType.Normal);
  });

  it('applyConfChange rejects removing every voter', () => {
    const c = new TestCluster([1n]);
    expect(() => c.node(1n).rn.applyConfChange(cc1(ConfChangeType.RemoveNode, 1n))).toThrow(
      /removed all voters/,
    );
  });

  it('a removed leader keeps leading without accepting proposals, or steps down with stepDownOnRemoval', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 1n));
    c.stabilize();
    expect(c.state(1n)).toBe(StateType.Leader);
    expect(() => c.node(1n).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);

    const d = new TestCluster([1n, 2n, 3n], { stepDownOnRemoval: true });
    d.campaign(1n);
    d.node(1n).rn.proposeConfChange(cc1(ConfChangeType.RemoveNode, 1n));
    d.stabilize();
    expect(d.state(1n)).toBe(StateType.Follower);
    for (let i = 0; i < 40 && d.leader() === undefined; i++) d.tickAll();
    expect([2n, 3n]).toContain(d.leader());
  });

  it('a node with unapplied committed conf changes does not campaign', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    const r = c.raft(1n);
    // Pretend the bootstrap entries were committed but not yet applied.
    r.log.applied = 0;
    r.step({
      type: 0,
      to: 1n,
      from: 1n,
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
    const c = new TestCluster([1n, 2n, 3n], {}, { learners: [4n] });
    const rn = c.node(1n).rn;
    return { applyConfChange: rn.applyConfChange.bind(rn), trk: rn.raft.trk };
  };

  it('refuses to change more than one voter without joint consensus', () => {
    const r = tracker();
    expect(() =>
      r.applyConfChange(
        v2(ConfChangeTransition.Auto, [
          [ConfChangeType.AddNode, 5n],
          [ConfChangeType.AddNode, 6n],
        ]),
      ),
    ).not.toThrow(); // Auto with two changes enters a joint config instead
    expect(r.trk.confState().votersOutgoing).toEqual([1n, 2n, 3n]);
    expect(() =>
      r.applyConfChange(v2(ConfChangeTransition.JointExplicit, [[ConfChangeType.AddNode, 7n]])),
    ).toThrow(/already joint/);
    expect(() => r.applyConfChange(cc1(ConfChangeType.AddNode, 7n))).toThrow(/already joint|joint config/);
    r.applyConfChange(v2(ConfChangeTransition.Auto, []));
    expect(() => r.applyConfChange(v2(ConfChangeTransition.Auto, []))).toThrow(/non-joint/);
  });

  it('removing a learner drops its progress; UpdateNode changes nothing; node id 0 is ignored', () => {
    const r = tracker();
    const before = r.trk.confState();
    r.applyConfChange(cc1(ConfChangeType.UpdateNode, 2n));
    r.applyConfChange(cc1(ConfChangeType.AddNode, 0n));
    expect(r.trk.confState()).toEqual(before);
    r.applyConfChange(cc1(ConfChangeType.RemoveNode, 4n));
    expect(r.trk.confState().learners).toEqual([]);
    expect(r.trk.progress.has(4n)).toBe(false);
  });

  it('promoting a learner keeps its replication progress', () => {
    const c = new TestCluster([1n, 2n, 3n], {}, { learners: [4n] });
    c.campaign(1n);
    const match = c.raft(1n).trk.progress.get(4n)!.match;
    expect(match).toBeGreaterThan(0);
    c.node(1n).rn.proposeConfChange(cc1(ConfChangeType.AddNode, 4n));
    c.stabilize();
    expect(c.raft(1n).trk.progress.get(4n)!.isLearner).toBe(false);
    expect(c.raft(1n).trk.progress.get(4n)!.match).toBeGreaterThanOrEqual(match);
  });
});
