import { describe, expect, it } from 'vitest';
import { MessageType, makeMessage, ProgressState } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

function progress(c: TestCluster, leader: number, id: number) {
  return c.raft(leader).trk.progress.get(id)!;
}

describe('flow control', () => {
  it('a follower starts in probe and moves to replicate after a successful append', () => {
    const c = new TestCluster([1, 2, 3]);
    c.filter = (m) => m.type !== MessageType.MsgAppResp;
    c.campaign(1);
    expect(progress(c, 1, 2).state).toBe(ProgressState.Probe);
    c.filter = undefined;
    c.tick(1);
    expect(progress(c, 1, 2).state).toBe(ProgressState.Replicate);
  });

  it('probe: one MsgApp until the follower answers (then resume on heartbeat response)', () => {
    const c = new TestCluster([1, 2]);
    c.campaign(1);
    c.isolate(2);
    const pr = progress(c, 1, 2);
    pr.becomeProbe();
    c.propose(1, 'a');
    expect(pr.probeSent).toBe(true);
    const sentBefore = c.raft(1).msgs.length;
    c.propose(1, 'b');
    // Paused: no new MsgApp for 2 was generated for the second proposal.
    expect(c.raft(1).msgs.length).toBe(sentBefore);
    c.heal();
    c.tick(1); // heartbeat -> response unpauses and sends
    expect(c.appliedData(2)).toEqual(['a', 'b']);
  });

  it('replicate: at most maxInflightMsgs unacknowledged MsgApp, then paused', () => {
    const c = new TestCluster([1, 2], { maxInflightMsgs: 3, maxSizePerMsg: 0 });
    c.campaign(1);
    expect(progress(c, 1, 2).state).toBe(ProgressState.Replicate);
    c.filter = (m) => m.type !== MessageType.MsgAppResp; // acks are lost
    let appsTo2 = c.deliveredOf(MessageType.MsgApp, { to: 2 }).length;
    for (let i = 0; i < 6; i++) c.propose(1, `v${i}`);
    appsTo2 = c.deliveredOf(MessageType.MsgApp, { to: 2 }).length - appsTo2;
    expect(appsTo2).toBe(3);
    const pr = progress(c, 1, 2);
    expect(pr.inflights.full()).toBe(true);
    expect(pr.isPaused()).toBe(true);
    // A heartbeat response frees one slot; acks catch the follower up.
    c.filter = undefined;
    c.tick(1);
    c.tick(1);
    expect(c.appliedData(2)).toHaveLength(6);
    expect(pr.inflights.length).toBe(0);
  });

  it('a rejected append in replicate state falls back to probe', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    const pr = progress(c, 1, 2);
    expect(pr.state).toBe(ProgressState.Replicate);
    c.raft(1).step(
      makeMessage({
        type: MessageType.MsgAppResp,
        from: 2,
        to: 1,
        term: c.raft(1).term,
        index: pr.match + 1,
        reject: true,
        rejectHint: pr.match,
      }),
    );
    expect(pr.state).toBe(ProgressState.Probe);
  });

  it('reportUnreachable moves a replicating follower back to probe', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.node(1).rn.reportUnreachable(2);
    expect(progress(c, 1, 2).state).toBe(ProgressState.Probe);
  });

  it('stale and duplicate acknowledgements are ignored', () => {
    const c = new TestCluster([1, 2, 3]);
    c.campaign(1);
    c.propose(1, 'a');
    const pr = progress(c, 1, 2);
    const match = pr.match;
    c.raft(1).step(
      makeMessage({ type: MessageType.MsgAppResp, from: 2, to: 1, term: c.raft(1).term, index: match - 2 }),
    );
    expect(pr.match).toBe(match);
    expect(pr.state).toBe(ProgressState.Replicate);
  });

  it('maxInflightBytes pauses replication once the unacknowledged bytes reach the budget', () => {
    const c = new TestCluster([1, 2], { maxInflightMsgs: 100, maxInflightBytes: 300, maxSizePerMsg: 0 });
    c.campaign(1);
    c.filter = (m) => m.type !== MessageType.MsgAppResp;
    const before = c.deliveredOf(MessageType.MsgApp, { to: 2 }).length;
    for (let i = 0; i < 10; i++) c.propose(1, new Uint8Array(100));
    const sent = c.deliveredOf(MessageType.MsgApp, { to: 2 }).length - before;
    // Each MsgApp carries one ~124-byte entry: the third one crosses the 300-byte budget.
    expect(sent).toBe(3);
    expect(progress(c, 1, 2).isPaused()).toBe(true);
    c.filter = undefined;
    for (let i = 0; i < 5; i++) c.tick(1);
    expect(c.node(2).applied.filter((e) => e.data.length === 100)).toHaveLength(10);
  });
});
