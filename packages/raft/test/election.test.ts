import { describe, expect, it } from 'vitest';
import { MessageType, StateType } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

describe('leader election', () => {
  it('a campaigning node wins with a majority and others follow it', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    expect(c.state(1)).toBe(StateType.Leader);
    expect(c.state(2)).toBe(StateType.Follower);
    expect(c.raft(2).lead).toBe(1);
    expect(c.raft(1).term).toBe(2);
    // The leader's empty entry of its term is committed everywhere.
    for (const id of [1, 2, 3]) expect(c.raft(id).log.committed).toBe(4);
  });

  it('a single-node cluster elects itself and commits on its own', () => {
    const c = new TestCluster([1]);
    c.campaign(1);
    expect(c.state(1)).toBe(StateType.Leader);
    c.propose(1, 'x');
    expect(c.appliedData(1)).toEqual(['x']);
  });

  it('a candidate without a majority stays candidate', () => {
    const c = new TestCluster([1, 2, 3]);
    c.isolate(1);
    c.campaign(1);
    expect(c.state(1)).toBe(StateType.Candidate);
    expect(c.raft(1).term).toBe(2);
  });

  it('a follower campaigns after its randomized election timeout, within [et, 2et)', () => {
    const c = new TestCluster([1, 2, 3]);
    const r = c.raft(1);
    const timeout = r.randomizedElectionTimeout;
    expect(timeout).toBeGreaterThanOrEqual(10);
    expect(timeout).toBeLessThan(20);
    for (let i = 0; i < timeout - 1; i++) r.tick();
    expect(r.state).toBe(StateType.Follower);
    r.tick();
    expect(r.state).toBe(StateType.Candidate);
  });

  it('randomized timeouts are spread and reproducible from the seed', () => {
    const seen = new Set<number>();
    const c = new TestCluster([1, 2, 3]);
    for (let i = 0; i < 50; i++) {
      c.raft(1).becomeFollower(i + 2, 0);
      const t = c.raft(1).randomizedElectionTimeout;
      expect(t >= 10 && t < 20).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3);
    const a = new TestCluster([1, 2, 3], { seed: 42 });
    const b = new TestCluster([1, 2, 3], { seed: 42 });
    expect(a.raft(1).randomizedElectionTimeout).toBe(b.raft(1).randomizedElectionTimeout);
  });

  it('each node votes at most once per term (first come first served)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.cutLink(1, 3);
    c.cutLink(2, 3);
    c.campaign(3); // 3 votes for itself in term 2 but reaches nobody
    c.heal();
    c.isolate(3);
    c.campaign(1); // term 2 as well: 2 grants, 3 never heard
    expect(c.state(1)).toBe(StateType.Leader);
    // 3 already voted for itself in term 2, so a vote request for term 2 from 2 is rejected.
    c.heal();
    const r3 = c.raft(3);
    expect(r3.vote).toBe(3);
  });

  it('rejects votes for candidates whose log is less up to date (§5.4.1)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    c.isolate(3);
    c.propose(1, 'b'); // 3 misses 'b'
    c.heal();
    c.isolate(1);
    // 3 campaigns: 2 has a longer log and refuses.
    c.campaign(3);
    expect(c.state(3)).not.toBe(StateType.Leader);
    const rej = c.deliveredOf(MessageType.MsgVoteResp, { from: 2, to: 3 });
    expect(rej.at(-1)!.reject).toBe(true);
    c.campaign(2);
    expect(c.state(2)).toBe(StateType.Leader);
  });

  it('a leader steps down when it sees a higher term', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    expect(c.state(2)).toBe(StateType.Leader);
    c.heal();
    c.tick(2); // heartbeat reaches the old leader
    expect(c.state(1)).toBe(StateType.Follower);
    expect(c.raft(1).lead).toBe(2);
  });

  it('learners never campaign', () => {
    const c = new TestCluster([1, 2], {}, { learners: [3] });
    const r3 = c.raft(3);
    for (let i = 0; i < 100; i++) r3.tick();
    expect(r3.state).toBe(StateType.Follower);
    expect(r3.isLearner).toBe(true);
  });

  it('split votes are resolved by randomized timeouts', () => {
    const c = new TestCluster([1, 2, 3, 4, 5]);
    for (let i = 0; i < 100 && c.leader() === undefined; i++) c.tickAll();
    expect(c.leader()).toBeDefined();
  });
});
