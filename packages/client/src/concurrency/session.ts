/**
 * Session: a lease owned by one client process and kept alive in the background, the liveness token
 * that locks and elections hang their keys on (etcd's concurrency.Session). When the lease is lost
 * (revoked, expired, or not renewed for a whole TTL) `done` resolves and every key on it is gone.
 */
import type { KvClient } from '../client.js';
import type { CallOpts } from '../connection.js';
import { type KvError, SessionExpiredError } from '../errors.js';
import type { Id } from '../ids.js';
import type { LeaseKeepAlive } from '../lease.js';
import { Election } from './election.js';
import { Mutex } from './mutex.js';

/**
 * Options of `KvClient.session`.
 *
 * @example
 * ```ts
 * const session = await client.session({ ttl: 15, signal: AbortSignal.timeout(5000) });
 * ```
 */
export interface SessionOptions {
  /** Lease TTL in seconds (default 60, etcd's default). */
  ttl?: number;
  /** Adopt an existing lease instead of granting a new one. */
  lease?: Id;
  /** Aborts granting the lease. */
  signal?: AbortSignal;
}

/**
 * A lease kept alive until {@link Session.close}; the base of {@link Mutex} and {@link Election}.
 *
 * @example
 * ```ts
 * const session = await client.session({ ttl: 10 });
 * session.done.then((reason) => reason && console.error('session lost', reason));
 * await client.put('services/api/1', '10.0.0.1:80', { lease: session.lease });
 * // ... on shutdown:
 * await session.close(); // revokes the lease: the key disappears at once
 * ```
 */
export class Session {
  /**
   * Resolves when the session ends: with a {@link SessionExpiredError} when the lease was lost, with
   * `undefined` after `close()` or `orphan()`. Never rejects.
   */
  readonly done: Promise<KvError | undefined>;
  private resolveDone!: (reason: KvError | undefined) => void;
  private ended = false;
  private lastRenewal = Date.now();
  private readonly watchdog: NodeJS.Timeout;

  private constructor(
    /** The client the session's lease lives on. */
    readonly client: KvClient,
    /** The session's lease id. */
    readonly lease: Id,
    /** The lease's TTL in seconds. */
    readonly ttl: number,
    private readonly keepAlive: LeaseKeepAlive,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    keepAlive.on('keepalive', () => {
      this.lastRenewal = Date.now();
    });
    keepAlive.on('lost', (e: KvError) => this.end(new SessionExpiredError(e.message, e.code)));
    // A lease not renewed for a whole TTL has expired on the server, whatever the stream says.
    this.watchdog = setInterval(
      () => {
        if (Date.now() - this.lastRenewal > ttl * 1000) {
          this.end(new SessionExpiredError('session lease not renewed within its TTL'));
        }
      },
      Math.max(100, (ttl * 1000) / 4),
    );
    this.watchdog.unref?.();
  }

  /** Grants (or adopts) the lease and starts keeping it alive. */
  static async create(client: KvClient, opts: SessionOptions = {}): Promise<Session> {
    const call: CallOpts = { signal: opts.signal };
    let lease: Id;
    let ttl: number;
    if (opts.lease !== undefined) {
      const res = await client.timeToLive(opts.lease, {}, call);
      if (res.TTL <= 0) throw new SessionExpiredError('etcdserver: requested lease not found');
      lease = opts.lease;
      ttl = res.grantedTTL;
    } else {
      const res = await client.grant(opts.ttl && opts.ttl > 0 ? opts.ttl : 60, 0, call);
      lease = res.ID;
      ttl = res.TTL;
    }
    const ka = await client.keepAlive(lease);
    return new Session(client, lease, ttl, ka);
  }

  /** True once the session ended (lost, closed or orphaned). */
  get isDone(): boolean {
    return this.ended;
  }

  private end(reason: KvError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.watchdog);
    this.keepAlive.close();
    this.resolveDone(reason);
  }

  /** Stops renewing without revoking: the lease expires after its TTL (clientv3's `Orphan`). */
  orphan(): void {
    this.end(undefined);
  }

  /** Stops renewing and revokes the lease, deleting every key attached to it. */
  async close(call: CallOpts = {}): Promise<void> {
    const wasDone = this.ended;
    this.end(undefined);
    if (wasDone) return;
    // A revoke slower than the TTL is pointless: the lease has expired by then anyway.
    await this.client.revoke(this.lease, { timeoutMs: this.ttl * 1000, ...call }).catch(() => undefined);
  }

  /**
   * A distributed lock named `name` held through this session.
   *
   * @example
   * ```ts
   * const mutex = session.mutex('locks/report');
   * const { revision } = await mutex.lock();
   * try {
   *   // pass `revision` to storage as a fencing token
   * } finally {
   *   await mutex.unlock();
   * }
   * ```
   */
  mutex(name: string | Uint8Array): Mutex {
    return new Mutex(this, name);
  }

  /**
   * A leader election named `name` in which this session campaigns.
   *
   * @example
   * ```ts
   * const election = session.election('elections/scheduler');
   * await election.campaign('node-1');
   * ```
   */
  election(name: string | Uint8Array): Election {
    return new Election(this, name);
  }
}
