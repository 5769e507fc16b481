/**
 * The leader's heartbeat gap detector (etcd's timeout detector behind
 * etcd_server_heartbeat_send_failures_total): a gap over twice the heartbeat interval to one peer is
 * reported by how much it exceeded; peers are tracked apart; reset() starts over.
 */
import { describe, expect, it } from 'vitest';
import { HeartbeatWatch } from '../src/etcdserver/heartbeat-watch.js';

describe('HeartbeatWatch', () => {
  it('reports only gaps beyond the limit, per peer', () => {
    const w = new HeartbeatWatch(200);
    expect(w.observe(2n, 1000)).toBe(0); // first heartbeat to 2
    expect(w.observe(2n, 1100)).toBe(0);
    expect(w.observe(2n, 1300)).toBe(0); // exactly the limit
    expect(w.observe(3n, 1300)).toBe(0); // first heartbeat to 3
    expect(w.observe(2n, 1750)).toBe(250);
    expect(w.observe(3n, 1400)).toBe(0);
  });

  it('reset() forgets every peer (a new term as leader)', () => {
    const w = new HeartbeatWatch(200);
    w.observe(2n, 0);
    w.reset();
    expect(w.observe(2n, 10_000)).toBe(0);
  });
});
