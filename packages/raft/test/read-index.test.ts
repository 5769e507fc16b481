import { describe, expect, it } from 'vitest';
import { MessageType, ProposalDroppedError } from '../src/index.js';
import { bytes, TestCluster, text } from './helpers/cluster.js';

describe('ReadIndex', () => {
  it('safe: the leader answers after a quorum acknowledged a heartbeat', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    c.node(1n).rn.readIndex(bytes('r1'));
    c.stabilize();
    const rs = c.node(1n).readStates;
    expect(rs).toHaveLength(1);
    expect(text(rs[0]!.requestCtx)).toBe('r1');
    expect(rs[0]!.index).toBe(c.raft(1n).log.committed);
    const hb = c.deliveredOf(MessageType.MsgHeartbeat).filter((m) => text(m.context) === 'r1');
    expect(hb.length).toBeGreaterThan(0);
  });

  it('safe: no answer while the leader cannot reach a quorum', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(1n);
    c.node(1n).rn.readIndex(bytes('r1'));
    c.stabilize();
    expect(c.node(1n).readStates).toHaveLength(0);
    c.heal();
    c.tick(1n); // next heartbeat carries the pending context
    expect(c.node(1n).readStates.map((r) => text(r.requestCtx))).toEqual(['r1']);
  });

  it('a follower gets a read index through the leader', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    c.node(2n).rn.readIndex(bytes('f'));
    c.stabilize();
    const rs = c.node(2n).readStates;
    expect(rs).toHaveLength(1);
    expect(rs[0]!.index).toBe(c.raft(1n).log.committed);
    expect(c.deliveredOf(MessageType.MsgReadIndexResp, { to: 2n })).toHaveLength(1);
  });

  it('lease-based: the leader answers at once, without a heartbeat round', () => {
    const c = new TestCluster([1n, 2n, 3n], { readOnlyOption: 'lease-based', checkQuorum: true });
    c.campaign(1n);
    c.isolate(1n);
    c.node(1n).rn.readIndex(bytes('lease'));
    c.stabilize();
    expect(c.node(1n).readStates.map((r) => text(r.requestCtx))).toEqual(['lease']);
  });

  it('lease-based requires CheckQuorum', () => {
    expect(() => new TestCluster([1n], { readOnlyOption: 'lease-based' })).toThrow(/CheckQuorum/);
  });

  it('a new leader defers reads until it committed an entry of its term', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.filter = (m) => m.type !== MessageType.MsgApp;
    c.campaign(1n);
    c.node(1n).rn.readIndex(bytes('early'));
    c.stabilize();
    expect(c.node(1n).readStates).toHaveLength(0);
    c.filter = undefined;
    c.tick(1n);
    const rs = c.node(1n).readStates;
    expect(rs.map((r) => text(r.requestCtx))).toEqual(['early']);
    expect(c.raft(1n).log.term(rs[0]!.index)).toBe(c.raft(1n).term);
  });

  it('a single-voter leader answers immediately', () => {
    const c = new TestCluster([1n]);
    c.campaign(1n);
    c.node(1n).rn.readIndex(bytes('solo'));
    c.stabilize();
    expect(c.node(1n).readStates).toHaveLength(1);
  });
});

describe('proposal forwarding', () => {
  it('a follower without a leader drops proposals', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    expect(() => c.node(2n).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
  });

  it('with forwarding disabled a follower drops proposals, the leader still accepts them', () => {
    const c = new TestCluster([1n, 2n, 3n], { disableProposalForwarding: true });
    c.campaign(1n);
    expect(() => c.node(2n).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
    c.propose(1n, 'y');
    expect(c.appliedData(2n)).toEqual(['y']);
  });

  it('candidates drop proposals', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.isolate(1n);
    c.campaign(1n);
    expect(() => c.node(1n).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
  });

  it('the uncommitted size limit drops proposals once exceeded', () => {
    const c = new TestCluster([1n, 2n, 3n], { maxUncommittedEntriesSize: 10 });
    c.campaign(1n);
    c.isolate(1n);
    c.node(1n).rn.propose(new Uint8Array(8));
    expect(() => c.node(1n).rn.propose(new Uint8Array(8))).toThrow(ProposalDroppedError);
    c.heal();
    c.tick(1n);
    c.propose(1n, new Uint8Array(8)); // committed entries freed the budget
  });
});
