import { describe, expect, it } from 'vitest';
import { MessageType, makeMessage, StateType } from '../src/index.js';
import { storageWith, TestCluster } from './helpers/cluster.js';

describe('log replication (§5.3)', () => {
  it('replicates proposals to every follower and applies them in order', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    for (const d of ['a', 'b', 'c']) c.propose(1n, d);
    for (const id of [1n, 2n, 3n]) expect(c.appliedData(id)).toEqual(['a', 'b', 'c']);
  });

  it('followers forward proposals to the leader', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(3n, 'from-3');
    expect(c.deliveredOf(MessageType.MsgProp, { from: 3n, to: 1n })).toHaveLength(1);
    for (const id of [1n, 2n, 3n]) expect(c.appliedData(id)).toEqual(['from-3']);
  });

  it('commits once a majority stored the entry, even with a minority down', () => {
    const c = new TestCluster([1n, 2n, 3n, 4n, 5n]);
    c.campaign(1n);
    c.isolate(4n);
    c.isolate(5n);
    c.propose(1n, 'x');
    expect(c.appliedData(1n)).toEqual(['x']);
    expect(c.appliedData(4n)).toEqual([]);
    c.heal();
    c.tick(1n);
    expect(c.appliedData(4n)).toEqual(['x']);
  });

  it('does not commit without a majority', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(1n);
    c.propose(1n, 'x');
    expect(c.appliedData(1n)).toEqual([]);
    expect(c.raft(1n).log.lastIndex()).toBe(5);
    expect(c.raft(1n).log.committed).toBe(4);
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
        [1n, storageWith([1n, 2n, 3n], leader, 8)],
        [2n, storageWith([1n, 2n, 3n], f, 8)],
        [3n, storageWith([1n, 2n, 3n], leader, 8)],
      ]);
      const c = TestCluster.fromStorages(storages);
      c.campaign(1n);
      expect(c.state(1n)).toBe(StateType.Leader);
      c.propose(1n, 'new');
      const want = c
        .raft(1n)
        .log.allEntries()
        .map((e) => `${e.index}:${e.term}`);
      expect(
        c
          .raft(2n)
          .log.allEntries()
          .map((e) => `${e.index}:${e.term}`),
      ).toEqual(want);
      expect(c.raft(2n).log.committed).toBe(c.raft(1n).log.committed);
    }
  });

  it('fast back-off skips a whole conflicting term per round trip', () => {
    // Follower has 30 entries of term 2 that conflict with the leader's term-3 entries.
    const leaderLog = [1, ...Array(30).fill(3)];
    const followerLog = [1, ...Array(30).fill(2)];
    const storages = new Map([
      [1n, storageWith([1n, 2n, 3n], leaderLog, 3)],
      [2n, storageWith([1n, 2n, 3n], followerLog, 3)],
      [3n, storageWith([1n, 2n, 3n], leaderLog, 3)],
    ]);
    const c = TestCluster.fromStorages(storages);
    c.campaign(1n);
    const rejections = c.deliveredOf(MessageType.MsgAppResp, { from: 2n }).filter((m) => m.reject);
    // Without the hint this takes ~30 rejections; with it, one rejection finds the term boundary.
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(rejections[0]!.logTerm).toBe(2);
    expect(c.raft(2n).log.lastIndex()).toBe(c.raft(1n).log.lastIndex());
  });

  it('a leader only commits entries of its own term by counting replicas (Figure 8)', () => {
    // Every node holds index 3 from term 2, never committed.
    const storages = new Map([
      [1n, storageWith([1n, 2n, 3n], [1, 2], 4)],
      [2n, storageWith([1n, 2n, 3n], [1, 2], 4)],
      [3n, storageWith([1n, 2n, 3n], [1, 2], 4)],
    ]);
    const c = TestCluster.fromStorages(storages);
    // Votes get through, appends do not: the leader's term-5 entry (index 4) reaches nobody.
    c.filter = (m) => m.type !== MessageType.MsgApp;
    c.campaign(1n);
    expect(c.state(1n)).toBe(StateType.Leader);
    expect(c.raft(1n).term).toBe(5);
    // Followers report holding index 3 (term 2): a majority, but of an older term, so no commit (§5.4.2).
    for (const from of [2n, 3n])
      c.send(makeMessage({ type: MessageType.MsgAppResp, from, to: 1n, term: 5, index: 3 }));
    expect(c.raft(1n).log.committed).toBe(1);
    // Once one follower holds the term-5 entry, index 4 commits, and index 3 with it.
    c.send(makeMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 5, index: 4 }));
    expect(c.raft(1n).log.committed).toBe(4);
  });

  it('followers learn the commit index from heartbeats, never beyond what they hold', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.filter = (m) => !(m.type === MessageType.MsgApp && m.to === 3n);
    c.propose(1n, 'x');
    c.tick(1n);
    const hbTo3 = c.deliveredOf(MessageType.MsgHeartbeat, { to: 3n }).at(-1)!;
    expect(hbTo3.commit).toBeLessThanOrEqual(c.raft(3n).log.lastIndex());
    expect(c.raft(3n).log.committed).toBe(4);
    c.filter = undefined;
    c.tick(1n);
    expect(c.appliedData(3n)).toEqual(['x']);
  });

  it('maxSizePerMsg limits entries per MsgApp (at least one entry always goes)', () => {
    const c = new TestCluster([1n, 2n], { maxSizePerMsg: 0, maxInflightMsgs: 64 });
    c.campaign(1n);
    c.isolate(2n);
    for (let i = 0; i < 5; i++) c.propose(1n, `v${i}`);
    c.heal();
    c.tick(1n);
    const apps = c.deliveredOf(MessageType.MsgApp, { to: 2n }).filter((m) => m.entries.length > 0);
    expect(apps.every((m) => m.entries.length === 1)).toBe(true);
    expect(c.appliedData(2n)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('a stale leader steps down when it hears a higher term and its entries are overwritten', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(1n);
    c.propose(1n, 'lost');
    c.campaign(2n);
    c.propose(2n, 'kept');
    c.heal();
    c.tick(2n);
    expect(c.state(1n)).toBe(StateType.Follower);
    for (const id of [1n, 2n, 3n]) expect(c.appliedData(id)).toEqual(['kept']);
  });

  it('a duplicated proposal message appends two independent entries (the message is not mutated)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    const prop = makeMessage({
      type: MessageType.MsgProp,
      from: 2n,
      to: 1n,
      entries: [{ term: 0, index: 0, type: 0, data: new TextEncoder().encode('dup') }],
    });
    c.send(prop);
    c.send(prop);
    expect(prop.entries[0]!.index).toBe(0);
    const ents = c.raft(1n).log.allEntries().slice(-2);
    expect(ents.map((e) => e.index)).toEqual([5, 6]);
    for (const id of [1n, 2n, 3n]) expect(c.appliedData(id)).toEqual(['dup', 'dup']);
  });
});
