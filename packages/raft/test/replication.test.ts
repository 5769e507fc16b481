import { describe, expect, it } from 'vitest';
import { MessageType, makeMessage, StateType } from '../src/index.js';
import { storageWith, TestCluster } from './helpers/cluster.js';

describe('log replication (§5.3)', () => {
  it('replicates proposals to every follower and applies them in order', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    for (const d of ['a', 'b', 'c']) c.propose(1, d);
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['a', 'b', 'c']);
  });

  it('followers forward proposals to the leader', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(3, 'from-3');
    expect(c.deliveredOf(MessageType.MsgProp, { from: 3, to: 1 })).toHaveLength(1);
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['from-3']);
  });

  it('commits once a majority stored the entry, even with a minority down', () => {
    const c = new TestCluster([1, 2, 3, 4, 5]);
    c.campaign(1);
    c.isolate(4);
    c.isolate(5);
    c.propose(1, 'x');
    expect(c.appliedData(1)).toEqual(['x']);
    expect(c.appliedData(4)).toEqual([]);
    c.heal();
    c.tick(1);
    expect(c.appliedData(4)).toEqual(['x']);
  });

  it('does not commit without a majority', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.propose(1, 'x');
    expect(c.appliedData(1)).toEqual([]);
    expect(c.raft(1).log.lastIndex()).toBe(5);
    expect(c.raft(1).log.committed).toBe(4);
  });

  it('repairs divergent follower logs (Figure 7): extra, missing and conflicting entries', () => {
    // Leader log terms for indexes 2..11 (index 1 is the shared snapshot).
    const leader = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one
      [1, 1, 1, 4], // (b) missing many
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra of a higher term
      [1, 1, 1, 4, 4, 4, 4], // (e) conflicting suffix
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) long conflicting suffix
    ];
    for (const f of followers) {
      const storages = new Map([
        [1, storageWith([1, 2, 3], leader, 8)],
        [2, storageWith([1, 2, 3], f, 8)],
        [3, storageWith([1, 2, 3], leader, 8)],
      ]);
      const c = TestCluster.fromStorages(storages);
      c.campaign(1);
      expect(c.state(1)).toBe(StateType.Leader);
      c.propose(1, 'new');
      const want = c
        .raft(1)
        .log.allEntries()
        .map((e) => `${e.index}:${e.term}`);
      expect(
        c
          .raft(2)
          .log.allEntries()
          .map((e) => `${e.index}:${e.term}`),
      ).toEqual(want);
      expect(c.raft(2).log.committed).toBe(c.raft(1).log.committed);
    }
  });

  it('fast back-off skips a whole conflicting term per round trip', () => {
    // Follower has 30 entries of term 2 that conflict with the leader's term-3 entries.
    const leaderLog = [1, ...Array(30).fill(3)];
    const followerLog = [1, ...Array(30).fill(2)];
    const storages = new Map([
      [1, storageWith([1, 2, 3], leaderLog, 3)],
      [2, storageWith([1, 2, 3], followerLog, 3)],
      [3, storageWith([1, 2, 3], leaderLog, 3)],
    ]);
    const c = TestCluster.fromStorages(storages);
    c.campaign(1);
    const rejections = c.deliveredOf(MessageType.MsgAppResp, { from: 2 }).filter((m) => m.reject);
    // Without the hint this takes ~30 rejections; with it, one rejection finds the term boundary.
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(rejections[0]!.logTerm).toBe(2);
    expect(c.raft(2).log.lastIndex()).toBe(c.raft(1).log.lastIndex());
  });

  it('a leader only commits entries of its own term by counting replicas (Figure 8)', () => {
    // Every node holds index 3 from term 2, never committed.
    const storages = new Map([
      [1, storageWith([1, 2, 3], [1, 2], 4)],
      [2, storageWith([1, 2, 3], [1, 2], 4)],
      [3, storageWith([1, 2, 3], [1, 2], 4)],
    ]);
    const c = TestCluster.fromStorages(storages);
    // Votes get through, appends do not: the leader's term-5 entry (index 4) reaches nobody.
    c.filter = (m) => m.type !== MessageType.MsgApp;
    c.campaign(1);
    expect(c.state(1)).toBe(StateType.Leader);
    expect(c.raft(1).term).toBe(5);
    // Followers report holding index 3 (term 2): a majority, but of an older term, so no commit (§5.4.2).
    for (const from of [2, 3])
      c.send(makeMessage({ type: MessageType.MsgAppResp, from, to: 1, term: 5, index: 3 }));
    expect(c.raft(1).log.committed).toBe(1);
    // Once one follower holds the term-5 entry, index 4 commits, and index 3 with it.
    c.send(makeMessage({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 5, index: 4 }));
    expect(c.raft(1).log.committed).toBe(4);
  });

  it('followers learn the commit index from heartbeats, never beyond what they hold', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.filter = (m) => !(m.type === MessageType.MsgApp && m.to === 3);
    c.propose(1, 'x');
    c.tick(1);
    const hbTo3 = c.deliveredOf(MessageType.MsgHeartbeat, { to: 3 }).at(-1)!;
    expect(hbTo3.commit).toBeLessThanOrEqual(c.raft(3).log.lastIndex());
    expect(c.raft(3).log.committed).toBe(4);
    c.filter = undefined;
    c.tick(1);
    expect(c.appliedData(3)).toEqual(['x']);
  });

  it('maxSizePerMsg limits entries per MsgApp (at least one entry always goes)', () => {
    const c = new TestCluster([1, 2], { maxSizePerMsg: 0, maxInflightMsgs: 64 });
    c.campaign(1);
    c.isolate(2);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    c.heal();
    c.tick(1);
    const apps = c.deliveredOf(MessageType.MsgApp, { to: 2 }).filter((m) => m.entries.length > 0);
    expect(apps.every((m) => m.entries.length === 1)).toBe(true);
    expect(c.appliedData(2)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('a stale leader steps down when it hears a higher term and its entries are overwritten', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(1);
    c.propose(1, 'lost');
    c.campaign(2);
    c.propose(2, 'kept');
    c.heal();
    c.tick(2);
    expect(c.state(1)).toBe(StateType.Follower);
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['kept']);
  });

  it('a duplicated proposal message appends two independent entries (the message is not mutated)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const prop = makeMessage({
      type: MessageType.MsgProp,
      from: 2,
      to: 1,
      entries: [{ term: 0, index: 0, type: 0, data: new TextEncoder().encode('dup') }],
    });
    c.send(prop);
    c.send(prop);
    expect(prop.entries[0]!.index).toBe(0);
    const ents = c.raft(1).log.allEntries().slice(-2);
    expect(ents.map((e) => e.index)).toEqual([5, 6]);
    for (const id of [1, 2, 3]) expect(c.appliedData(id)).toEqual(['dup', 'dup']);
  });
});
