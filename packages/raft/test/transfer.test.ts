import { describe, expect, it } from 'vitest';
import { MessageType, ProposalDroppedError, StateType } from '../src/index.js';
import { bytes, TestCluster } from './helpers/cluster.js';

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower via MsgTimeoutNow', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true, preVote: true });
    c.campaign(1);
    c.node(1).rn.transferLeader(2);
    c.stabilize();
    expect(c.state(2)).toBe(StateType.Leader);
    expect(c.state(1)).toBe(StateType.Follower);
    expect(c.deliveredOf(MessageType.MsgTimeoutNow, { from: 1, to: 2 })).toHaveLength(1);
  });

  it('catches a lagging transferee up first', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'a');
    c.propose(1, 'b');
    c.heal();
    c.node(1).rn.transferLeader(3);
    c.stabilize();
    expect(c.state(3)).toBe(StateType.Leader);
    expect(c.appliedData(3)).toEqual(['a', 'b']);
  });

  it('drops proposals while a transfer is in progress and aborts after an election timeout', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.node(1).rn.transferLeader(3);
    c.stabilize();
    expect(c.raft(1).leadTransferee).toBe(3);
    expect(() => c.node(1).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
    c.tick(1, 10);
    expect(c.raft(1).leadTransferee).toBe(0);
    expect(c.state(1)).toBe(StateType.Leader);
    c.propose(1, 'y');
  });

  it('a follower forwards the transfer request to the leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.node(3).rn.transferLeader(3);
    c.stabilize();
    expect(c.state(3)).toBe(StateType.Leader);
  });

  it('transfer to self or to a learner is ignored', () => {
    const c = new TestCluster([1, 2], {}, { learners: [3] });
    c.campaign(1);
    c.node(1).rn.transferLeader(1);
    c.node(1).rn.transferLeader(3);
    c.stabilize();
    expect(c.state(1)).toBe(StateType.Leader);
    expect(c.raft(1).leadTransferee).toBe(0);
  });

  it('the transfer campaign ignores the lease of CheckQuorum', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.tick(2);
    c.node(1).rn.transferLeader(2);
    c.stabilize();
    expect(c.state(2)).toBe(StateType.Leader);
  });
});
