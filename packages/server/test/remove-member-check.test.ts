/**
 * etcd's mayRemoveMember quorum rule under --strict-reconfig-check (etcdserver/server.go): a peer that
 * has never been active may always go; otherwise the voters connected for the 5 s health interval, less
 * one, must still be a quorum. Each case is what etcd 3.4 answers for the same connection times (the
 * two-member case was checked against Debian's etcd: a removal right after the cluster formed is refused
 * with "etcdserver: unhealthy cluster").
 */
import { describe, expect, it } from 'vitest';
import { breaksActiveQuorum } from '../src/api/cluster.js';

const now = 1_000_000;
/** activeSince for peers connected `ago` ms before now (absent: never active). */
const since = (ago: Record<string, number>) => (peer: bigint) => {
  const a = ago[String(peer)];
  return a === undefined ? 0 : now - a;
};

describe('breaksActiveQuorum (etcd mayRemoveMember)', () => {
  it('two voters: refused until the peer has been connected for 5 s, for either member', () => {
    const fresh = since({ 2: 2000 });
    expect(breaksActiveQuorum(2n, [1n, 2n], 1n, fresh, now)).toBe(true);
    expect(breaksActiveQuorum(1n, [1n, 2n], 1n, fresh, now)).toBe(true);
    const settled = since({ 2: 6000 });
    expect(breaksActiveQuorum(2n, [1n, 2n], 1n, settled, now)).toBe(false);
    expect(breaksActiveQuorum(1n, [1n, 2n], 1n, settled, now)).toBe(false);
  });

  it('a peer that has never been active may always be removed', () => {
    expect(breaksActiveQuorum(3n, [1n, 2n, 3n], 1n, since({ 2: 6000 }), now)).toBe(false);
    expect(breaksActiveQuorum(2n, [1n, 2n], 1n, since({}), now)).toBe(false);
  });

  it('three voters: one taken off the connected count whether or not the removed one is in it', () => {
    const both = since({ 2: 6000, 3: 6000 });
    expect(breaksActiveQuorum(3n, [1n, 2n, 3n], 1n, both, now)).toBe(false);
    // 3 connected 1 s ago does not count as connected, and is not "down" either: 2 connected, less one.
    const oneFresh = since({ 2: 6000, 3: 1000 });
    expect(breaksActiveQuorum(3n, [1n, 2n, 3n], 1n, oneFresh, now)).toBe(true);
    // Removing the one connected peer while the other is down leaves no quorum.
    expect(breaksActiveQuorum(2n, [1n, 2n, 3n], 1n, since({ 2: 6000 }), now)).toBe(true);
  });
});
