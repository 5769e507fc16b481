import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  MemoryStorage,
  type Message,
  MessageType,
  makeMessage,
  ProposalDroppedError,
  RawNode,
  StateType,
  StepLocalMessageError,
  StepPeerNotFoundError,
} from '../src/index.js';
import { baseConfig, bytes, TestCluster, text } from './helpers/cluster.js';

describe('RawNode and the Ready contract', () => {
  it('bootstrap puts committed AddNode entries in the first Ready with the hard state', () => {
    const st = new MemoryStorage();
    const rn = new RawNode(baseConfig(1, st));
    rn.bootstrap([{ id: 1 }, { id: 2, context: bytes('ctx') }]);
    const rd = rn.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 2 });
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.mustSync).toBe(true);
    expect(rn.status().config.voters).toEqual([1, 2]);
    st.append(rd.entries);
    st.setHardState(rd.hardState!);
    rn.advance();
    expect(rn.hasReady()).toBe(false);
    expect(() => rn.bootstrap([1])).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(2, new MemoryStorage())).bootstrap([])).toThrow(ConfigError);
  });

  it('a vote is persisted (mustSync hard state) in the same Ready that carries the vote response', () => {
    const c = new TestCluster([1, 2, 3]);
    const n2 = c.node(2).rn;
    n2.step(makeMessage({ type: MessageType.MsgVote, from: 1, to: 2, term: 5, index: 3, logTerm: 1 }));
    const rd = n2.ready();
    expect(rd.hardState).toEqual({ term: 5, vote: 1, commit: 3 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
    n2.advance();
  });

  it('a leader commits its own entries only after advance() confirms they are persisted', () => {
    const st = new MemoryStorage();
    const rn = new RawNode(baseConfig(1, st));
    rn.bootstrap([1]);
    const drain = () => {
      while (rn.hasReady()) {
        const rd = rn.ready();
        st.append(rd.entries);
        if (rd.hardState) st.setHardState(rd.hardState);
        rn.advance();
      }
    };
    drain();
    rn.campaign();
    expect(rn.raft.state).toBe(StateType.Leader);
    rn.propose(bytes('x'));
    const rd = rn.ready();
    expect(rd.entries.at(-1)!.data).toEqual(bytes('x'));
    expect(rd.committedEntries.find((e) => text(e.data) === 'x')).toBeUndefined();
    st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    rn.advance();
    const rd2 = rn.ready();
    expect(rd2.committedEntries.map((e) => text(e.data))).toContain('x');
    expect(rd2.softState).toBeUndefined();
  });

  it('softState reports role and leader changes once', () => {
    const c = new TestCluster([1, 2, 3]);
    const n1 = c.node(1).rn;
    n1.campaign();
    const rd = n1.ready();
    expect(rd.softState).toEqual({ lead: 0, raftState: StateType.Candidate });
    n1.advance();
    expect(n1.hasReady()).toBe(false);
  });

  it('restarting from storage resumes term, vote, commit and configuration', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const before = c.raft(2).hardState();
    // Storage has no snapshot, so its ConfState is empty: restart from applied=0 and let the committed
    // conf changes be applied again (initialState's ConfState must match `applied`).
    const restarted = c.restart(2, 0);
    expect(restarted.rn.raft.hardState()).toEqual(before);
    c.stabilize();
    expect(restarted.rn.raft.trk.voterIds()).toEqual([1, 2, 3]);
    expect(c.appliedData(2)).toEqual(['a']);
    restarted.applied = [];
    c.propose(1, 'b');
    expect(c.appliedData(2)).toEqual(['b']);
  });

  it('restarting with applied=0 hands committed entries out again', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const n = c.restart(3, 0);
    const rd = n.rn.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects local message types and responses from unknown peers', () => {
    const c = new TestCluster([1, 2, 3]);
    expect(() => c.node(1).rn.step(makeMessage({ type: MessageType.MsgHup, from: 1, to: 1 }))).toThrow(
      StepLocalMessageError,
    );
    expect(() =>
      c.node(1).rn.step(makeMessage({ type: MessageType.MsgAppResp, from: 9, to: 1, term: 1 })),
    ).toThrow(StepPeerNotFoundError);
  });

  it('status shows per-peer progress on the leader only', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const st = c.node(1).rn.status();
    expect(st.softState.raftState).toBe(StateType.Leader);
    expect([...st.progress!.keys()]).toEqual([1, 2, 3]);
    expect(st.progress!.get(2)!.match).toBe(c.raft(1).log.lastIndex());
    expect(c.node(2).rn.status().progress).toBeUndefined();
  });

  it('validates the configuration', () => {
    const st = new MemoryStorage();
    expect(() => new RawNode(baseConfig(0, st))).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(1, st, { electionTick: 1, heartbeatTick: 1 }))).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(1, st, { maxInflightMsgs: 0 }))).toThrow(ConfigError);
  });

  it('maxCommittedSizePerReady splits committed entries across Readys', () => {
    const c = new TestCluster([1], { maxCommittedSizePerReady: 1 });
    c.campaign(1);
    const rn = c.node(1).rn;
    const st = c.node(1).storage;
    rn.propose(bytes('aaaa'));
    rn.propose(bytes('bbbb'));
    let rd = rn.ready();
    st.append(rd.entries);
    if (rd.hardState) st.setHardState(rd.hardState);
    rn.advance();
    const batches: number[] = [];
    while (rn.hasReady()) {
      rd = rn.ready();
      st.append(rd.entries);
      if (rd.hardState) st.setHardState(rd.hardState);
      if (rd.committedEntries.length) batches.push(rd.committedEntries.length);
      rn.advance();
    }
    expect(batches).toEqual([1, 1]);
  });
});

describe('Raft paper properties (§5)', () => {
  it('any node seeing a higher term adopts it and becomes follower (§5.1)', () => {
    for (const setup of ['follower', 'candidate', 'leader'] as const) {
      const c = new TestCluster([1, 2, 3]);
      if (setup === 'candidate') {
        c.isolate(1);
        c.campaign(1);
      }
      if (setup === 'leader') c.campaign(1);
      c.raft(1).step(
        makeMessage({ type: MessageType.MsgApp, from: 2, to: 1, term: 9, index: 0, logTerm: 0 }),
      );
      expect(c.raft(1).term).toBe(9);
      expect(c.state(1)).toBe(StateType.Follower);
      expect(c.raft(1).lead).toBe(2);
    }
  });

  it('messages from older terms are ignored (§5.1)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.campaign(2);
    const r1 = c.raft(1);
    const term = r1.term;
    r1.step(makeMessage({ type: MessageType.MsgApp, from: 3, to: 1, term: term - 1, index: 5, logTerm: 1 }));
    expect(r1.term).toBe(term);
    expect(r1.lead).toBe(2);
  });

  it('a candidate that hears from a leader of its term becomes follower (§5.2)', () => {
    const c = new TestCluster([1, 2, 3]);
    c.isolate(1);
    c.campaign(1);
    const r1 = c.raft(1);
    r1.step(makeMessage({ type: MessageType.MsgHeartbeat, from: 2, to: 1, term: r1.term }));
    expect(r1.state).toBe(StateType.Follower);
    expect(r1.lead).toBe(2);
  });

  it('the leader sends heartbeats every heartbeatTick (§5.2)', () => {
    const c = new TestCluster([1, 2, 3], { heartbeatTick: 3, electionTick: 30 });
    c.campaign(1);
    const count = () => c.deliveredOf(MessageType.MsgHeartbeat, { from: 1 }).length;
    const before = count();
    c.tick(1, 2);
    expect(count()).toBe(before);
    c.tick(1);
    expect(count()).toBe(before + 2);
  });
});

describe('RawNode.step error handling', () => {
  it('a forwarded proposal the leader cannot take is dropped silently; a local one throws', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    c.node(1).rn.transferLeader(3); // transfer in progress: the leader drops proposals
    c.stabilize();
    const forwarded = makeMessage({
      type: MessageType.MsgProp,
      from: 2,
      to: 1,
      entries: [{ term: 0, index: 0, type: 0, data: bytes('x') }],
    });
    expect(() => c.node(1).rn.step(forwarded)).not.toThrow();
    expect(() => c.node(1).rn.propose(bytes('y'))).toThrow(ProposalDroppedError);
  });

  it('installing a snapshot moves the applied index to it', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 3; i++) c.propose(1, `v${i}`);
    const n1 = c.node(1);
    const applied = n1.rn.raft.log.applied;
    n1.storage.createSnapshot(applied, n1.rn.raft.trk.confState(), new Uint8Array());
    n1.storage.compact(applied);
    c.heal();
    c.tick(1);
    expect(c.node(3).rn.status().applied).toBeGreaterThanOrEqual(applied);
  });
});

describe('work arriving while a Ready is outstanding (asynchronous persistence)', () => {
  it('steps between ready() and advance() wait for the next Ready; ready() cannot be called twice', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const held: Message[] = [];
    c.filter = (m) => {
      if (m.to === 2 && m.type === MessageType.MsgApp) {
        held.push(m);
        return false;
      }
      return true;
    };
    c.propose(1, 'a');
    const n2 = c.node(2);
    for (const m of held.splice(0)) n2.rn.step(m);
    const rd = n2.rn.ready();
    expect(rd.entries.map((e) => text(e.data))).toEqual(['a']);
    expect(n2.rn.hasReady()).toBe(false);
    expect(() => n2.rn.ready()).toThrow(/before advance/);
    // While "fsync" of rd runs, the next append arrives and the clock ticks.
    c.propose(1, 'b');
    for (const m of held.splice(0)) n2.rn.step(m);
    n2.rn.tick();
    n2.storage.append(rd.entries);
    if (rd.hardState) n2.storage.setHardState(rd.hardState);
    n2.rn.advance();
    expect(n2.rn.hasReady()).toBe(true);
    const rd2 = n2.rn.ready();
    expect(rd2.entries.map((e) => text(e.data))).toEqual(['b']);
    expect(
      rd2.messages.some((m) => m.type === MessageType.MsgAppResp && m.index === rd2.entries[0]!.index),
    ).toBe(true);
    n2.storage.append(rd2.entries);
    if (rd2.hardState) n2.storage.setHardState(rd2.hardState);
    n2.rn.advance();
    c.filter = undefined;
    c.tick(1);
    c.tick(1);
    const log2 = n2.storage
      .entries(n2.storage.firstIndex(), n2.storage.lastIndex() + 1)
      .filter((e) => e.data.length > 0);
    expect(log2.slice(-2).map((e) => text(e.data))).toEqual(['a', 'b']);
    expect(n2.rn.raft.log.committed).toBe(c.raft(1).log.committed);
  });
});
