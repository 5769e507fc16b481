/**
 * Per-user token buckets in front of Authenticate: every attempt takes a token before bcrypt runs and a
 * successful one gives it back, so a client guessing passwords for one user cannot keep bcrypt (~0.2 s
 * of CPU per attempt at cost 10) running flat out, while clients with the right password (scripts
 * running etcdctl --user=... many times a second) are never limited.
 */

/** Limits of {@link AuthRateLimiter}. */
export interface RateLimiterOptions {
  /** Attempts a user may make at once (bucket size). Default 5. */
  burst?: number;
  /**
   * Tokens added per second. Default 1: one bcrypt verification at cost 10 measured ~0.18-0.26 s of CPU
   * here, so a single user name can keep at most about a quarter of a core busy.
   */
  perSecond?: number;
  /** Buckets kept at most; beyond this, full (idle) buckets are dropped first. Default 10000. */
  maxUsers?: number;
  /** Clock in ms (injected in tests). Default Date.now. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Token-bucket rate limiter keyed by user name. */
export class AuthRateLimiter {
  private readonly burst: number;
  private readonly perMs: number;
  private readonly maxUsers: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: RateLimiterOptions = {}) {
    this.burst = opts.burst ?? 5;
    this.perMs = (opts.perSecond ?? 1) / 1000;
    this.maxUsers = opts.maxUsers ?? 10_000;
    this.now = opts.now ?? Date.now;
    if (!(this.burst >= 1) || !(this.perMs > 0))
      throw new RangeError('rate limiter: burst >= 1 and perSecond > 0');
  }

  /** Takes one token for `user`; false when the user is over the limit. */
  take(user: string): boolean {
    const now = this.now();
    let b = this.buckets.get(user);
    if (!b) {
      if (this.buckets.size >= this.maxUsers) this.evict(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(user, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Returns the token of an attempt that succeeded (only failures count against the limit). */
  refund(user: string): void {
    const b = this.buckets.get(user);
    if (b) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  /** Buckets currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled (they carry no state); if none, the oldest one. */
  private evict(now: number): void {
    for (const [user, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(user);
    }
    if (this.buckets.size >= this.maxUsers) {
      const first = this.buckets.keys().next();
      if (!first.done) this.buckets.delete(first.value);
    }
  }
}
