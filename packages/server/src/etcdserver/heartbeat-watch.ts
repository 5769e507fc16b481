/**
 * etcd's timeout detector for leader heartbeats (etcdserver/raft.go, pkg/contention): the leader
 * should send each follower a heartbeat every heartbeat interval; a gap over twice the interval means
 * the leader's loop was stalled (slow disk, long GC) and is counted as a heartbeat send failure.
 * Pure: the caller passes the clock.
 */
export class HeartbeatWatch {
  private readonly last = new Map<bigint, number>();

  /** @param maxGapMs the longest acceptable gap between two heartbeats to one peer (2 × heartbeat). */
  constructor(private readonly maxGapMs: number) {}

  /**
   * Records a heartbeat to `to` sent at `nowMs`; returns by how many ms the gap since the previous one
   * exceeded the limit (0 when on time or the first one).
   *
   * @example
   * const w = new HeartbeatWatch(200);
   * w.observe(2, 0); // 0
   * w.observe(2, 450); // 250
   */
  observe(to: bigint, nowMs: number): number {
    const prev = this.last.get(to);
    this.last.set(to, nowMs);
    if (prev === undefined) return 0;
    const exceeded = nowMs - prev - this.maxGapMs;
    return Math.max(exceeded, 0);
  }

  /** Forgets every peer (after losing leadership: the next term starts a new series). */
  reset(): void {
    this.last.clear();
  }
}
