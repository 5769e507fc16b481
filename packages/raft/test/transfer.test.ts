import { describe, expect, it } from 'vitest';
import { MessageType, ProposalDroppedError, StateType } from '../src/index.js';
import { bytes, TestCluster } from './helpers/cluster.js';

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower via MsgTimeoutNow', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true, preVote: true });
    c.campaign(1n);
    c.node(1n).rn.transferLeader(2n);
    c.stabilize();
    expect(c.state(2n)).toBe(StateType.Leader);
    expect(c.state(1n)).toBe(StateType.Follower);
    expect(c.deliveredOf(MessageType.MsgTimeoutNow, { from: 1n, to: 2n })).toHaveLength(1);
  });

  it('catches a lagging transferee up first', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    c.propose(1n, 'a');
    c.propose(1n, 'b');
    c.heal();
    c.node(1n).rn.transferLeader(3n);
    c.stabilize();
    expect(c.state(3n)).toBe(StateType.Leader);
    expect(c.appliedData(3n)).toEqual(['a', 'b']);
  });

  it('drops proposals while a transfer is in progress and aborts after an election timeout', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    c.node(1n).rn.transferLeader(3n);
    c.stabilize();
    expect(c.raft(1n).leadTransferee).toBe(3n);
    expect(() => c.node(1n).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
    c.tick(1n, 10);
    expect(c.raft(1n).leadTransferee).toBe(0n);
    expect(c.state(1n)).toBe(StateType.Leader);
    c.propose(1n, 'y');
  });

  it('a follower forwards the transfer request to the leader', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.node(3n).rn.transferLeader(3n);
    c.stabilize();
    expect(c.state(3n)).toBe(StateType.Leader);
  });

  it('transfer to self or to a learner is ignored', () => {
    const c = new TestCluster([1n, 2n], {}, { learners: [3n] });
    c.campaign(1n);
    c.node(1n).rn.transferLeader(1n);
    c.node(1n).rn.transferLeader(3n);
    c.stabilize();
    expect(c.state(1n)).toBe(StateType.Leader);
    expect(c.raft(1n).leadTransferee).toBe(0n);
  });

  it('the transfer campaign ignores the lease of CheckQuorum', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true });
    c.campaign(1n);
    c.tick(2n);
    c.node(1n).rn.transferLeader(2n);
    c.stabilize();
    expect(c.state(2n)).toBe(StateType.Leader);
  });
});
