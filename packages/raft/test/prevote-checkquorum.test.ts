import { describe, expect, it } from 'vitest';
import { MessageType, StateType } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

describe('PreVote', () => {
  it('a partitioned node does not inflate its term and does not disrupt the leader on rejoin', () => {
    const c = new TestCluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.campaign(3); // pre-elections that nobody hears
    expect(c.raft(3).term).toBe(term);
    expect(c.state(3)).toBe(StateType.PreCandidate);
    c.heal();
    c.tick(1); // heartbeat
    expect(c.state(1)).toBe(StateType.Leader);
    expect(c.raft(1).term).toBe(term);
    expect(c.state(3)).toBe(StateType.Follower);
  });

  it('without PreVote the same node disrupts the leader by bumping the term', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const term = c.raft(1).term;
    c.isolate(3);
    c.campaign(3);
    c.campaign(3);
    expect(c.raft(3).term).toBe(term + 2);
    c.heal();
    c.campaign(3); // its next campaign carries a higher term: the leader has to step down
    expect(c.raft(1).term).toBeGreaterThan(term);
    expect(c.state(1)).not.toBe(StateType.Leader);
  });

  it('a pre-candidate with a quorum of grants becomes a real candidate then leader', () => {
    const c = new TestCluster([1, 2, 3], { preVote: true });
    c.campaign(2);
    expect(c.state(2)).toBe(StateType.Leader);
    expect(c.deliveredOf(MessageType.MsgPreVote).length).toBeGreaterThan(0);
    expect(c.deliveredOf(MessageType.MsgVote).length).toBeGreaterThan(0);
  });

  it('pre-vote is rejected when the candidate log is behind', () => {
    const c = new TestCluster([1, 2, 3], { preVote: true });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'x');
    c.heal();
    c.isolate(1);
    const term = c.raft(3).term;
    c.campaign(3);
    expect(c.state(3)).not.toBe(StateType.Leader);
    expect(c.raft(3).term).toBe(term);
    const resp = c.deliveredOf(MessageType.MsgPreVoteResp, { from: 2, to: 3 }).at(-1)!;
    expect(resp.reject).toBe(true);
  });
});

describe('CheckQuorum', () => {
  it('a leader that cannot reach a quorum steps down after an election timeout', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    c.tick(1, 10);
    c.tick(1, 10);
    expect(c.state(1)).toBe(StateType.Follower);
  });

  it('a leader with an active quorum stays leader', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 30; i++) {
      c.tick(1);
    }
    expect(c.state(1)).toBe(StateType.Leader);
  });

  it('followers in lease ignore vote requests from a disruptive node', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true });
    c.campaign(1);
    const term = c.raft(1).term;
    c.tick(2, 1); // 2 recently heard from the leader
    c.campaign(3);
    expect(c.raft(2).term).toBe(term);
    expect(c.state(1)).toBe(StateType.Leader);
  });

  it('a stale leader that rejoins is told the new term and steps down', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: true, preVote: true });
    c.campaign(1);
    c.isolate(1);
    // 2 and 3 time out and elect 2.
    for (let i = 0; i < 40 && c.state(2) !== StateType.Leader && c.state(3) !== StateType.Leader; i++) {
      c.tick(2);
      c.tick(3);
    }
    const newLeader = c.state(2) === StateType.Leader ? 2 : 3;
    expect(c.state(newLeader)).toBe(StateType.Leader);
    c.heal();
    c.tick(1); // old leader heartbeats with the old term; followers answer with their term
    expect(c.state(1)).toBe(StateType.Follower);
  });
});
