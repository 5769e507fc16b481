import { describe, expect, it } from 'vitest';
import { MessageType, StateType } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

describe('leader election', () => {
  it('a campaigning node wins with a majority and others follow it', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    expect(c.state(1n)).toBe(StateType.Leader);
    expect(c.state(2n)).toBe(StateType.Follower);
    expect(c.raft(2n).lead).toBe(1n);
    expect(c.raft(1n).term).toBe(2);
    // The leader's empty entry of its term is committed everywhere.
    for (const id of [1n, 2n, 3n]) expect(c.raft(id).log.committed).toBe(4);
  });

  it('a single-node cluster elects itself and commits on its own', () => {
    const c = new TestCluster([1n]);
    c.campaign(1n);
    expect(c.state(1n)).toBe(StateType.Leader);
    c.propose(1n, 'x');
    expect(c.appliedData(1n)).toEqual(['x']);
  });

  it('a candidate without a majority stays candidate', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.isolate(1n);
    c.campaign(1n);
    expect(c.state(1n)).toBe(StateType.Candidate);
    expect(c.raft(1n).term).toBe(2);
  });

  it('a follower campaigns after its randomized election timeout, within [et, 2et)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    const r = c.raft(1n);
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
    const c = new TestCluster([1n, 2n, 3n]);
    for (let i = 0; i < 50; i++) {
      c.raft(1n).becomeFollower(i + 2, 0n);
      const t = c.raft(1n).randomizedElectionTimeout;
      expect(t >= 10 && t < 20).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3);
    const a = new TestCluster([1n, 2n, 3n], { seed: 42 });
    const b = new TestCluster([1n, 2n, 3n], { seed: 42 });
    expect(a.raft(1n).randomizedElectionTimeout).toBe(b.raft(1n).randomizedElectionTimeout);
  });

  it('each node votes at most once per term (first come first served)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.cutLink(1n, 3n);
    c.cutLink(2n, 3n);
    c.campaign(3n); // 3 votes for itself in term 2 but reaches nobody
    c.heal();
    c.isolate(3n);
    c.campaign(1n); // term 2 as well: 2 grants, 3 never heard
    expect(c.state(1n)).toBe(StateType.Leader);
    // 3 already voted for itself in term 2, so a vote request for term 2 from 2 is rejected.
    c.heal();
    const r3 = c.raft(3n);
    expect(r3.vote).toBe(3n);
  });

  it('rejects votes for candidates whose log is less up to date (§5.4.1)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    c.isolate(3n);
    c.propose(1n, 'b'); // 3 misses 'b'
    c.heal();
    c.isolate(1n);
    // 3 campaigns: 2 has a longer log and refuses.
    c.campaign(3n);
    expect(c.state(3n)).not.toBe(StateType.Leader);
    const rej = c.deliveredOf(MessageType.MsgVoteResp, { from: 2n, to: 3n });
    expect(rej.at(-1)!.reject).toBe(true);
    c.campaign(2n);
    expect(c.state(2n)).toBe(StateType.Leader);
  });

  it('a leader steps down when it sees a higher term', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(1n);
    c.campaign(2n);
    expect(c.state(2n)).toBe(StateType.Leader);
    c.heal();
    c.tick(2n); // heartbeat reaches the old leader
    expect(c.state(1n)).toBe(StateType.Follower);
    expect(c.raft(1n).lead).toBe(2n);
  });

  it('learners never campaign', () => {
    const c = new TestCluster([1n, 2n], {}, { learners: [3n] });
    const r3 = c.raft(3n);
    for (let i = 0; i < 100; i++) r3.tick();
    expect(r3.state).toBe(StateType.Follower);
    expect(r3.isLearner).toBe(true);
  });

  it('split votes are resolved by randomized timeouts', () => {
    const c = new TestCluster([1n, 2n, 3n, 4n, 5n]);
    for (let i = 0; i < 100 && c.leader() === undefined; i++) c.tickAll();
    expect(c.leader()).toBeDefined();
  });
});
