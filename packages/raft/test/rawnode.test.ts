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
    const rn = new RawNode(baseConfig(1n, st));
    rn.bootstrap([{ id: 1n }, { id: 2n, context: bytes('ctx') }]);
    const rd = rn.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 0n, commit: 2 });
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.mustSync).toBe(true);
    expect(rn.status().config.voters).toEqual([1n, 2n]);
    st.append(rd.entries);
    st.setHardState(rd.hardState!);
    rn.advance();
    expect(rn.hasReady()).toBe(false);
    expect(() => rn.bootstrap([1n])).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(2n, new MemoryStorage())).bootstrap([])).toThrow(ConfigError);
  });

  it('a vote is persisted (mustSync hard state) in the same Ready that carries the vote response', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    const n2 = c.node(2n).rn;
    n2.step(makeMessage({ type: MessageType.MsgVote, from: 1n, to: 2n, term: 5, index: 3, logTerm: 1 }));
    const rd = n2.ready();
    expect(rd.hardState).toEqual({ term: 5, vote: 1n, commit: 3 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
    n2.advance();
  });

  it('a leader commits its own entries only after advance() confirms they are persisted', () => {
    const st = new MemoryStorage();
    const rn = new RawNode(baseConfig(1n, st));
    rn.bootstrap([1n]);
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
    const c = new TestCluster([1n, 2n, 3n]);
    const n1 = c.node(1n).rn;
    n1.campaign();
    const rd = n1.ready();
    expect(rd.softState).toEqual({ lead: 0n, raftState: StateType.Candidate });
    n1.advance();
    expect(n1.hasReady()).toBe(false);
  });

  it('restarting from storage resumes term, vote, commit and configuration', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    const before = c.raft(2n).hardState();
    // Storage has no snapshot, so its ConfState is empty: restart from applied=0 and let the committed
    // conf changes be applied again (initialState's ConfState must match `applied`).
    const restarted = c.restart(2n, 0);
    expect(restarted.rn.raft.hardState()).toEqual(before);
    c.stabilize();
    expect(restarted.rn.raft.trk.voterIds()).toEqual([1n, 2n, 3n]);
    expect(c.appliedData(2n)).toEqual(['a']);
    restarted.applied = [];
    c.propose(1n, 'b');
    expect(c.appliedData(2n)).toEqual(['b']);
  });

  it('restarting with applied=0 hands committed entries out again', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    const n = c.restart(3n, 0);
    const rd = n.rn.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('rejects local message types and responses from unknown peers', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    expect(() => c.node(1n).rn.step(makeMessage({ type: MessageType.MsgHup, from: 1n, to: 1n }))).toThrow(
      StepLocalMessageError,
    );
    expect(() =>
      c.node(1n).rn.step(makeMessage({ type: MessageType.MsgAppResp, from: 9n, to: 1n, term: 1 })),
    ).toThrow(StepPeerNotFoundError);
  });

  it('status shows per-peer progress on the leader only', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    const st = c.node(1n).rn.status();
    expect(st.softState.raftState).toBe(StateType.Leader);
    expect([...st.progress!.keys()]).toEqual([1n, 2n, 3n]);
    expect(st.progress!.get(2n)!.match).toBe(c.raft(1n).log.lastIndex());
    expect(c.node(2n).rn.status().progress).toBeUndefined();
  });

  it('validates the configuration', () => {
    const st = new MemoryStorage();
    expect(() => new RawNode(baseConfig(0n, st))).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(1n, st, { electionTick: 1, heartbeatTick: 1 }))).toThrow(ConfigError);
    expect(() => new RawNode(baseConfig(1n, st, { maxInflightMsgs: 0 }))).toThrow(ConfigError);
  });

  it('maxCommittedSizePerReady splits committed entries across Readys', () => {
    const c = new TestCluster([1n], { maxCommittedSizePerReady: 1 });
    c.campaign(1n);
    const rn = c.node(1n).rn;
    const st = c.node(1n).storage;
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
      const c = new TestCluster([1n, 2n, 3n]);
      if (setup === 'candidate') {
        c.isolate(1n);
        c.campaign(1n);
      }
      if (setup === 'leader') c.campaign(1n);
      c.raft(1n).step(
        makeMessage({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 9, index: 0, logTerm: 0 }),
      );
      expect(c.raft(1n).term).toBe(9);
      expect(c.state(1n)).toBe(StateType.Follower);
      expect(c.raft(1n).lead).toBe(2n);
    }
  });

  it('messages from older terms are ignored (§5.1)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.campaign(2n);
    const r1 = c.raft(1n);
    const term = r1.term;
    r1.step(
      makeMessage({ type: MessageType.MsgApp, from: 3n, to: 1n, term: term - 1, index: 5, logTerm: 1 }),
    );
    expect(r1.term).toBe(term);
    expect(r1.lead).toBe(2n);
  });

  it('a candidate that hears from a leader of its term becomes follower (§5.2)', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.isolate(1n);
    c.campaign(1n);
    const r1 = c.raft(1n);
    r1.step(makeMessage({ type: MessageType.MsgHeartbeat, from: 2n, to: 1n, term: r1.term }));
    expect(r1.state).toBe(StateType.Follower);
    expect(r1.lead).toBe(2n);
  });

  it('the leader sends heartbeats every heartbeatTick (§5.2)', () => {
    const c = new TestCluster([1n, 2n, 3n], { heartbeatTick: 3, electionTick: 30 });
    c.campaign(1n);
    const count = () => c.deliveredOf(MessageType.MsgHeartbeat, { from: 1n }).length;
    const before = count();
    c.tick(1n, 2);
    expect(count()).toBe(before);
    c.tick(1n);
    expect(count()).toBe(before + 2);
  });
});

describe('RawNode.step error handling', () => {
  it('a forwarded proposal the leader cannot take is dropped silently; a local one throws', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    c.node(1n).rn.transferLeader(3n); // transfer in progress: the leader drops proposals
    c.stabilize();
    const forwarded = makeMessage({
      type: MessageType.MsgProp,
      from: 2n,
      to: 1n,
      entries: [{ term: 0, index: 0, type: 0, data: bytes('x') }],
    });
    expect(() => c.node(1n).rn.step(forwarded)).not.toThrow();
    expect(() => c.node(1n).rn.propose(bytes('y'))).toThrow(ProposalDroppedError);
  });

  it('installing a snapshot moves the applied index to it', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.isolate(3n);
    for (let i = 0; i < 3; i++) c.propose(1n, `v${i}`);
    const n1 = c.node(1n);
    const applied = n1.rn.raft.log.applied;
    n1.storage.createSnapshot(applied, n1.rn.raft.trk.confState(), new Uint8Array());
    n1.storage.compact(applied);
    c.heal();
    c.tick(1n);
    expect(c.node(3n).rn.status().applied).toBeGreaterThanOrEqual(applied);
  });
});

describe('work arriving while a Ready is outstanding (asynchronous persistence)', () => {
  it('steps between ready() and advance() wait for the next Ready; ready() cannot be called twice', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    const held: Message[] = [];
    c.filter = (m) => {
      if (m.to === 2n && m.type === MessageType.MsgApp) {
        held.push(m);
        return false;
      }
      return true;
    };
    c.propose(1n, 'a');
    const n2 = c.node(2n);
    for (const m of held.splice(0)) n2.rn.step(m);
    const rd = n2.rn.ready();
    expect(rd.entries.map((e) => text(e.data))).toEqual(['a']);
    expect(n2.rn.hasReady()).toBe(false);
    expect(() => n2.rn.ready()).toThrow(/before advance/);
    // While "fsync" of rd runs, the next append arrives and the clock ticks.
    c.propose(1n, 'b');
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
    c.tick(1n);
    c.tick(1n);
    const log2 = n2.storage
      .entries(n2.storage.firstIndex(), n2.storage.lastIndex() + 1)
      .filter((e) => e.data.length > 0);
    expect(log2.slice(-2).map((e) => text(e.data))).toEqual(['a', 'b']);
    expect(n2.rn.raft.log.committed).toBe(c.raft(1n).log.committed);
  });
});
