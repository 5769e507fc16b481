import { describe, expect, it } from 'vitest';
import { ConfChangeType, decodeMessage, encodeMessage, MessageType, StateType } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

// etcd member ids are sha1-derived uint64s: most are above 2^53, where two ids differing in the low bits
// would collapse into one JavaScript number. These three differ only in their lowest bits.
const MAX = (1n << 64n) - 1n;
const A = MAX;
const B = MAX - 1n;
const C = MAX - 2n;
const LEARNER = 1n << 63n;

describe('node ids over the whole uint64 range', () => {
  it('elects, replicates and transfers leadership with ids near 2^64-1, every message exact on the wire', () => {
    const c = new TestCluster([A, B, C]);
    c.campaign(A);
    expect(c.state(A)).toBe(StateType.Leader);
    expect(c.raft(B).lead).toBe(A);
    expect(c.raft(C).lead).toBe(A);
    expect(c.raft(B).vote).toBe(A);
    c.propose(B, 'via-follower');
    for (const id of [A, B, C]) expect(c.appliedData(id)).toEqual(['via-follower']);

    const progress = c.node(A).rn.status().progress!;
    expect([...progress.keys()]).toEqual([C, B, A]);
    expect(progress.get(B)!.match).toBe(c.raft(A).log.lastIndex());

    c.node(A).rn.transferLeader(C);
    c.stabilize();
    expect(c.state(C)).toBe(StateType.Leader);
    expect(c.raft(A).lead).toBe(C);

    // Every message that travelled survives the etcd wire format unchanged (ids included).
    expect(c.delivered.length).toBeGreaterThan(10);
    for (const m of c.delivered) expect(decodeMessage(encodeMessage(m))).toEqual(m);
    expect(c.deliveredOf(MessageType.MsgTimeoutNow, { from: A, to: C })).toHaveLength(1);
  });

  it('adds a learner with id 2^63 and promotes it; the configuration keeps the exact ids', () => {
    const c = new TestCluster([A, B]);
    c.campaign(B);
    c.node(B).rn.proposeConfChange({
      type: ConfChangeType.AddLearnerNode,
      nodeId: LEARNER,
      context: new Uint8Array(),
    });
    c.stabilize();
    c.addNode(LEARNER);
    c.propose(B, 'x');
    c.tick(B);
    expect(c.raft(B).trk.learnerIds()).toEqual([LEARNER]);
    expect(c.appliedData(LEARNER)).toEqual(['x']);

    c.node(B).rn.proposeConfChange({
      type: ConfChangeType.AddNode,
      nodeId: LEARNER,
      context: new Uint8Array(),
    });
    c.stabilize();
    expect(c.raft(B).trk.voterIds()).toEqual([LEARNER, B, A]);
    expect(c.node(LEARNER).rn.status().config.voters).toEqual([LEARNER, B, A]);
    expect(c.raft(LEARNER).lead).toBe(B);
  });

  it('rejects an id of 0 or one wider than 64 bits', () => {
    expect(() => new TestCluster([0n])).toThrow(/none as id/);
    expect(() => new TestCluster([MAX + 1n])).toThrow(/64 bits/);
  });
});
