/**
 * The lessor: leases granted through raft, their TTLs, attached keys and expiry. Grant/revoke/attach
 * run in the apply layer (every member, same order); expiry and keep-alive are the leader's business:
 * only the primary lessor (the leader) has finite deadlines, and it revokes expired leases by
 * proposing LeaseRevoke through raft, like etcd's lessor.
 */

/** etcd's MaxLeaseTTL (9,000,000,000 s). */
export const MAX_LEASE_TTL = 9_000_000_000;

/** One lease. */
export interface Lease {
  /** Lease id: a positive int64, exact. */
  readonly id: bigint;
  /** TTL in seconds as granted (after the minimum-TTL rule). */
  ttl: number;
  /** Absolute deadline in ms (Date.now() clock); Infinity on a non-primary lessor. */
  expiry: number;
  /** Attached keys as latin1 strings of their bytes. */
  readonly keys: Set<string>;
  /** A revoke for this lease has been proposed and not yet applied. */
  revoking: boolean;
  /**
   * The remaining TTL (s) the leader last checkpointed through raft, 0 when none: a new leader restarts
   * the lease from it instead of from the full TTL (`--experimental-enable-lease-checkpoint`).
   */
  remainingTtl: number;
  /** When the primary checkpoints this lease next (ms; Infinity: not scheduled). */
  checkpointAt: number;
}

/** Lease checkpointing (etcd's lessor checkpointer): off unless `--experimental-enable-lease-checkpoint`. */
export interface CheckpointPolicy {
  enabled: boolean;
  /** etcd's checkpoint interval (5 minutes). */
  intervalMs: number;
}

/** Inverse of @kv/mvcc's `bytesToKey` (the lessor's key strings). */
export const keyBytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** Lease bookkeeping; no I/O. */
export class Lessor {
  private readonly leases = new Map<bigint, Lease>();
  private primary = false;

  /**
   * @param minTtlSec etcd's minimum TTL: ceil(3/2 * electionTicks * heartbeat), so a lease cannot
   *   expire before a leader change could be noticed.
   * @param now clock in ms (injectable for tests)
   */
  constructor(
    readonly minTtlSec: number,
    private readonly now: () => number = Date.now,
    private readonly checkpoints: CheckpointPolicy = { enabled: false, intervalMs: 5 * 60_000 },
  ) {}

  /** Drops every lease (a snapshot from the leader replaces the lessor's state). */
  clear(): void {
    this.leases.clear();
  }

  /** True on the leader. */
  isPrimary(): boolean {
    return this.primary;
  }

  /** Applies a grant; returns undefined if the id exists already. */
  grant(id: bigint, ttlSec: number, remainingTtl = 0): Lease | undefined {
    if (this.leases.has(id)) return undefined;
    const ttl = Math.max(ttlSec, this.minTtlSec);
    const lease: Lease = {
      id,
      ttl,
      expiry: this.primary ? this.now() + ttl * 1000 : Number.POSITIVE_INFINITY,
      keys: new Set(),
      revoking: false,
      remainingTtl,
      checkpointAt: Number.POSITIVE_INFINITY,
    };
    this.leases.set(id, lease);
    if (this.primary) this.scheduleCheckpoint(lease);
    return lease;
  }

  /** Applies a checkpoint: the lease's remaining TTL as the leader saw it (0 clears it). */
  checkpoint(id: bigint, remainingTtl: number): Lease | undefined {
    const lease = this.leases.get(id);
    if (!lease) return undefined;
    lease.remainingTtl = remainingTtl;
    if (this.primary) this.scheduleCheckpoint(lease);
    return lease;
  }

  /** On the primary: the checkpoints due now (remaining TTL in whole seconds), each unscheduled until applied. */
  takeDueCheckpoints(limit = 1000): Array<{ ID: bigint; remainingTTL: number }> {
    if (!this.primary || !this.checkpoints.enabled) return [];
    const now = this.now();
    const out: Array<{ ID: bigint; remainingTTL: number }> = [];
    for (const l of this.leases.values()) {
      if (l.checkpointAt > now || l.revoking) continue;
      l.checkpointAt = Number.POSITIVE_INFINITY;
      out.push({ ID: l.id, remainingTTL: Math.max(0, Math.floor((l.expiry - now) / 1000)) });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** etcd's scheduleCheckpointIfNeeded: only leases with more left than one interval. */
  private scheduleCheckpoint(lease: Lease): void {
    if (!this.checkpoints.enabled) return;
    const left = lease.remainingTtl > 0 ? lease.remainingTtl : lease.ttl;
    lease.checkpointAt =
      left > this.checkpoints.intervalMs / 1000
        ? this.now() + this.checkpoints.intervalMs
        : Number.POSITIVE_INFINITY;
  }

  /** Applies a revoke: forgets the lease and returns the keys that were attached to it. */
  revoke(id: bigint): Set<string> | undefined {
    const lease = this.leases.get(id);
    if (!lease) return undefined;
    this.leases.delete(id);
    return lease.keys;
  }

  lookup(id: bigint): Lease | undefined {
    return this.leases.get(id);
  }

  /** All leases (unordered). */
  all(): Lease[] {
    return [...this.leases.values()];
  }

  get size(): number {
    return this.leases.size;
  }

  attach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.add(key);
  }

  detach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /** Keep-alive on the primary: pushes the deadline out by the TTL. Returns the TTL, or -1 if unknown. */
  renew(id: bigint): number {
    const lease = this.leases.get(id);
    if (!lease) return -1;
    if (this.primary) lease.expiry = this.now() + lease.ttl * 1000;
    return lease.ttl;
  }

  /**
   * Whether a keep-alive must also clear a checkpointed remaining TTL through raft (etcd proposes a
   * checkpoint of 0 then, at most twice per lease and interval).
   */
  needsClear(id: bigint): boolean {
    return this.checkpoints.enabled && (this.leases.get(id)?.remainingTtl ?? 0) > 0;
  }

  /** Seconds left (truncated, like etcd's int64(Remaining().Seconds())); ttl when not primary. */
  remaining(lease: Lease): number {
    if (!Number.isFinite(lease.expiry)) return lease.ttl;
    return Math.max(0, Math.floor((lease.expiry - this.now()) / 1000));
  }

  /**
   * Becoming leader: every lease restarts from now (plus extendMs) with its checkpointed remaining TTL,
   * or its full TTL when it has none, like etcd's Promote.
   */
  promote(extendMs = 0): void {
    this.primary = true;
    const now = this.now();
    for (const l of this.leases.values()) {
      l.expiry = now + extendMs + (l.remainingTtl > 0 ? l.remainingTtl : l.ttl) * 1000;
      l.revoking = false;
      this.scheduleCheckpoint(l);
    }
  }

  /** Losing leadership: deadlines are suspended. */
  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) {
      l.expiry = Number.POSITIVE_INFINITY;
      l.revoking = false;
      l.checkpointAt = Number.POSITIVE_INFINITY;
    }
  }

  /** On the primary: leases past their deadline and not already being revoked (marked revoking). */
  takeExpired(limit = 1000): Lease[] {
    if (!this.primary) return [];
    const now = this.now();
    const out: Lease[] = [];
    for (const l of this.leases.values()) {
      if (!l.revoking && l.expiry <= now) {
        l.revoking = true;
        out.push(l);
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  /** A revoke proposal failed or timed out: let the expiry loop try again. */
  unmarkRevoking(id: bigint): void {
    const l = this.leases.get(id);
    if (l) l.revoking = false;
  }
}
