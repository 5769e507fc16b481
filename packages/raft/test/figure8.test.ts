import { describe, expect, it } from 'vitest';
import { type Message, MessageType, StateType } from '../src/index.js';
import { storageWith, TestCluster } from './helpers/cluster.js';

/**
 * Figure 8 of the Raft paper: a leader must not commit an entry of an older term just because a majority
 * stores it; a later leader could still overwrite it. Five nodes, one entry per MsgApp so that each
 * replica can be controlled.
 */
function fiveNodes(): TestCluster {
  const ids = [1n, 2n, 3n, 4n, 5n];
  return TestCluster.fromStorages(new Map(ids.map((id) => [id, storageWith(ids, [], 1)])), {
    maxSizePerMsg: 0,
  });
}

const terms = (c: TestCluster, id: bigint) =>
  c
    .raft(id)
    .log.allEntries()
    .map((e) => `${e.index}@${e.term}`);

/** Campaigns until `id` wins (a first attempt may hit a term in which the voters already voted). */
function elect(c: TestCluster, id: bigint): void {
  for (let i = 0; i < 3 && c.state(id) !== StateType.Leader; i++) c.campaign(id);
}

function toStage(c: TestCluster): { stageC: () => void } {
  // (a) S1 leads term 2 and replicates its entries to S2 only.
  c.filter = (m: Message) => !(m.type === MessageType.MsgApp && m.from === 1n && m.to !== 2n);
  c.campaign(1n);
  expect(c.raft(1n).term).toBe(2);
  c.propose(1n, 'x');
  expect(terms(c, 2n)).toEqual(['2@2', '3@2']);
  // (b) S1 is cut off; S5 wins term 3 with S3 and S4 and appends an entry nobody else receives.
  c.isolate(1n);
  c.filter = (m: Message) => !(m.type === MessageType.MsgApp && m.from === 5n);
  c.campaign(5n);
  expect(c.state(5n)).toBe(StateType.Leader);
  expect(c.raft(5n).term).toBe(3);
  expect(terms(c, 5n)).toEqual(['2@3']);
  return {
    // (c) S5 is cut off, S1 comes back and wins term 4 (S2, S3, S4 vote for it).
    stageC: () => {
      c.restart(5n); // S5 crashes (and stays cut off)
      c.restart(1n); // S1 restarts from its log
      c.heal();
      c.isolate(5n);
      // S1's appends reach S2 and S3, but its own term-4 entry is lost on the way: they arrive with that
      // entry stripped, so S2 and S3 acknowledge the term-2 entries only.
      c.filter = (m: Message) => {
        if (m.type !== MessageType.MsgApp || m.from !== 1n) return true;
        if (m.to === 4n) return false;
        if (!m.entries.some((e) => e.term === 4)) return true;
        c.node(m.to).rn.step({ ...m, entries: m.entries.filter((e) => e.term !== 4) });
        return false;
      };
      elect(c, 1n);
      expect(c.state(1n)).toBe(StateType.Leader);
      expect(c.raft(1n).term).toBe(4);
    },
  };
}

describe('Figure 8: committing entries from previous terms', () => {
  it('(c)-(d): old-term entries on a majority are not committed and may be overwritten', () => {
    const c = fiveNodes();
    toStage(c).stageC();
    // Index 2 and 3 (term 2) are now on S1, S2, S3: a majority, but of term 2 while S1 leads term 4.
    expect(terms(c, 3n)).toEqual(['2@2', '3@2']);
    expect(c.raft(1n).log.committed).toBe(1);
    // (d) S1 fails again; S5 (last term 3) wins term 5 and overwrites index 2 everywhere it reaches.
    c.restart(1n, c.raft(1n).log.applied);
    c.heal();
    c.isolate(1n);
    elect(c, 5n);
    expect(c.state(5n)).toBe(StateType.Leader);
    expect(c.raft(5n).term).toBe(5);
    for (const id of [2n, 3n, 4n]) expect(terms(c, id)[0]).toBe('2@3');
    // Nothing overwritten was ever applied.
    expect(c.appliedData(1n)).toEqual([]);
    expect(c.appliedData(2n)).toEqual([]);
  });

  it('(e): once an entry of the current term is on a majority, earlier entries commit and S5 cannot win', () => {
    const c = fiveNodes();
    toStage(c).stageC();
    c.filter = undefined; // S1's term-4 entry now reaches S2, S3 and S4
    c.tick(1n);
    expect(c.raft(1n).log.committed).toBe(4);
    expect(c.appliedData(1n)).toEqual(['x']);
    c.restart(1n, c.raft(1n).log.applied);
    c.isolate(1n);
    elect(c, 5n);
    expect(c.state(5n)).not.toBe(StateType.Leader);
    for (const id of [2n, 3n, 4n]) expect(terms(c, id).slice(0, 2)).toEqual(['2@2', '3@2']);
  });
});
