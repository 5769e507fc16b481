import { describe, expect, it } from 'vitest';
import { MessageType, StateType } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

describe('PreVote', () => {
  it('a partitioned node does not inflate its term and does not disrupt the leader on rejoin', () => {
    const c = new TestCluster([1n, 2n, 3n], { preVote: true });
    c.campaign(1n);
    const term = c.raft(1n).term;
    c.isolate(3n);
    for (let i = 0; i < 5; i++) c.campaign(3n); // pre-elections that nobody hears
    expect(c.raft(3n).term).toBe(term);
    expect(c.state(3n)).toBe(StateType.PreCandidate);
    c.heal();
    c.tick(1n); // heartbeat
    expect(c.state(1n)).toBe(StateType.Leader);
    expect(c.raft(1n).term).toBe(term);
    expect(c.state(3n)).toBe(StateType.Follower);
  });

  it('without PreVote the same node disrupts the leader by bumping the term', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    const term = c.raft(1n).term;
    c.isolate(3n);
    c.campaign(3n);
    c.campaign(3n);
    expect(c.raft(3n).term).toBe(term + 2);
    c.heal();
    c.campaign(3n); // its next campaign carries a higher term: the leader has to step down
    expect(c.raft(1n).term).toBeGreaterThan(term);
    expect(c.state(1n)).not.toBe(StateType.Leader);
  });

  it('a pre-candidate with a quorum of grants becomes a real candidate then leader', () => {
    const c = new TestCluster([1n, 2n, 3n], { preVote: true });
    c.campaign(2n);
    expect(c.state(2n)).toBe(StateType.Leader);
    expect(c.deliveredOf(MessageType.MsgPreVote).length).toBeGreaterThan(0);
    expect(c.deliveredOf(MessageType.MsgVote).length).toBeGreaterThan(0);
  });

  it('pre-vote is rejected when the candidate log is behind', () => {
    const c = new TestCluster([1n, 2n, 3n], { preVote: true });
    c.campaign(1n);
    c.isolate(3n);
    c.propose(1n, 'x');
    c.heal();
    c.isolate(1n);
    const term = c.raft(3n).term;
    c.campaign(3n);
    expect(c.state(3n)).not.toBe(StateType.Leader);
    expect(c.raft(3n).term).toBe(term);
    const resp = c.deliveredOf(MessageType.MsgPreVoteResp, { from: 2n, to: 3n }).at(-1)!;
    expect(resp.reject).toBe(true);
  });
});

describe('CheckQuorum', () => {
  it('a leader that cannot reach a quorum steps down after an election timeout', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true });
    c.campaign(1n);
    c.isolate(1n);
    c.tick(1n, 10);
    c.tick(1n, 10);
    expect(c.state(1n)).toBe(StateType.Follower);
  });

  it('a leader with an active quorum stays leader', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true });
    c.campaign(1n);
    c.isolate(3n);
    for (let i = 0; i < 30; i++) {
      c.tick(1n);
    }
    expect(c.state(1n)).toBe(StateType.Leader);
  });

  it('followers in lease ignore vote requests from a disruptive node', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true });
    c.campaign(1n);
    const term = c.raft(1n).term;
    c.tick(2n, 1); // 2 recently heard from the leader
    c.campaign(3n);
    expect(c.raft(2n).term).toBe(term);
    expect(c.state(1n)).toBe(StateType.Leader);
  });

  it('a stale leader that rejoins is told the new term and steps down', () => {
    const c = new TestCluster([1n, 2n, 3n], { checkQuorum: true, preVote: true });
    c.campaign(1n);
    c.isolate(1n);
    // 2 and 3 time out and elect 2.
    for (let i = 0; i < 40 && c.state(2n) !== StateType.Leader && c.state(3n) !== StateType.Leader; i++) {
      c.tick(2n);
      c.tick(3n);
    }
    const newLeader = c.state(2n) === StateType.Leader ? 2n : 3n;
    expect(c.state(newLeader)).toBe(StateType.Leader);
    c.heal();
    c.tick(1n); // old leader heartbeats with the old term; followers answer with their term
    expect(c.state(1n)).toBe(StateType.Follower);
  });
});
