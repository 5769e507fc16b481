import { describe, expect, it } from 'vitest';
import { MessageType, makeMessage, ProgressState } from '../src/index.js';
import { TestCluster } from './helpers/cluster.js';

function progress(c: TestCluster, leader: bigint, id: bigint) {
  return c.raft(leader).trk.progress.get(id)!;
}

describe('flow control', () => {
  it('a follower starts in probe and moves to replicate after a successful append', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.filter = (m) => m.type !== MessageType.MsgAppResp;
    c.campaign(1n);
    expect(progress(c, 1n, 2n).state).toBe(ProgressState.Probe);
    c.filter = undefined;
    c.tick(1n);
    expect(progress(c, 1n, 2n).state).toBe(ProgressState.Replicate);
  });

  it('probe: one MsgApp until the follower answers (then resume on heartbeat response)', () => {
    const c = new TestCluster([1n, 2n]);
    c.campaign(1n);
    c.isolate(2n);
    const pr = progress(c, 1n, 2n);
    pr.becomeProbe();
    c.propose(1n, 'a');
    expect(pr.probeSent).toBe(true);
    const sentBefore = c.raft(1n).msgs.length;
    c.propose(1n, 'b');
    // Paused: no new MsgApp for 2 was generated for the second proposal.
    expect(c.raft(1n).msgs.length).toBe(sentBefore);
    c.heal();
    c.tick(1n); // heartbeat -> response unpauses and sends
    expect(c.appliedData(2n)).toEqual(['a', 'b']);
  });

  it('replicate: at most maxInflightMsgs unacknowledged MsgApp, then paused', () => {
    const c = new TestCluster([1n, 2n], { maxInflightMsgs: 3, maxSizePerMsg: 0 });
    c.campaign(1n);
    expect(progress(c, 1n, 2n).state).toBe(ProgressState.Replicate);
    c.filter = (m) => m.type !== MessageType.MsgAppResp; // acks are lost
    let appsTo2 = c.deliveredOf(MessageType.MsgApp, { to: 2n }).length;
    for (let i = 0; i < 6; i++) c.propose(1n, `v${i}`);
    appsTo2 = c.deliveredOf(MessageType.MsgApp, { to: 2n }).length - appsTo2;
    expect(appsTo2).toBe(3);
    const pr = progress(c, 1n, 2n);
    expect(pr.inflights.full()).toBe(true);
    expect(pr.isPaused()).toBe(true);
    // A heartbeat response frees one slot; acks catch the follower up.
    c.filter = undefined;
    c.tick(1n);
    c.tick(1n);
    expect(c.appliedData(2n)).toHaveLength(6);
    expect(pr.inflights.length).toBe(0);
  });

  it('a rejected append in replicate state falls back to probe', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    const pr = progress(c, 1n, 2n);
    expect(pr.state).toBe(ProgressState.Replicate);
    c.raft(1n).step(
      makeMessage({
        type: MessageType.MsgAppResp,
        from: 2n,
        to: 1n,
        term: c.raft(1n).term,
        index: pr.match + 1,
        reject: true,
        rejectHint: pr.match,
      }),
    );
    expect(pr.state).toBe(ProgressState.Probe);
  });

  it('reportUnreachable moves a replicating follower back to probe', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.node(1n).rn.reportUnreachable(2n);
    expect(progress(c, 1n, 2n).state).toBe(ProgressState.Probe);
  });

  it('stale and duplicate acknowledgements are ignored', () => {
    const c = new TestCluster([1n, 2n, 3n]);
    c.campaign(1n);
    c.propose(1n, 'a');
    const pr = progress(c, 1n, 2n);
    const match = pr.match;
    c.raft(1n).step(
      makeMessage({
        type: MessageType.MsgAppResp,
        from: 2n,
        to: 1n,
        term: c.raft(1n).term,
        index: match - 2,
      }),
    );
    expect(pr.match).toBe(match);
    expect(pr.state).toBe(ProgressState.Replicate);
  });

  it('maxInflightBytes pauses replication once the unacknowledged bytes reach the budget', () => {
    const c = new TestCluster([1n, 2n], { maxInflightMsgs: 100, maxInflightBytes: 300, maxSizePerMsg: 0 });
    c.campaign(1n);
    c.filter = (m) => m.type !== MessageType.MsgAppResp;
    const before = c.deliveredOf(MessageType.MsgApp, { to: 2n }).length;
    for (let i = 0; i < 10; i++) c.propose(1n, new Uint8Array(100));
    const sent = c.deliveredOf(MessageType.MsgApp, { to: 2n }).length - before;
    // Each MsgApp carries one ~124-byte entry: the third one crosses the 300-byte budget.
    expect(sent).toBe(3);
    expect(progress(c, 1n, 2n).isPaused()).toBe(true);
    c.filter = undefined;
    for (let i = 0; i < 5; i++) c.tick(1n);
    expect(c.node(2n).applied.filter((e) => e.data.length === 100)).toHaveLength(10);
  });
});
