/**
 * Mutex: etcd's lock recipe (concurrency/mutex.go) on plain KV calls, so it works on any etcd v3
 * server and inside a namespace.
 *
 * Each contender creates `<name>/<lease hex>` on its session's lease; the contender whose key has the
 * lowest create revision holds the lock, the others wait for the deletion of the key created just
 * before theirs. The holder's create revision is a fencing token: it only grows from one holder to
 * the next, so storage that remembers the largest token it saw can refuse a stale holder's writes.
 */
import type { ResponseHeader } from '../api/index.js';
import { type Bytes, toBytes } from '../bytes.js';
import type { CallOpts } from '../connection.js';
import { KvError, SessionExpiredError } from '../errors.js';
import type { Exact } from '../ids.js';
import { Cmp, Op } from '../kv.js';
import { concatBytes } from '../namespace.js';
import type { Session } from './session.js';
import { waitDeletes } from './wait.js';

/**
 * What `Mutex.lock` returns.
 *
 * @example
 * ```ts
 * const { key, revision, header } = await session.mutex('locks/job').lock();
 * console.log(toText(key), 'fencing token', revision, 'at', header?.revision);
 * ```
 */
export interface LockOwnership {
  /** The lock key this session holds (`<name>/<lease hex>`). */
  key: Uint8Array;
  /** Create revision of `key`: the fencing token, larger for every later holder. */
  revision: number;
  /** Header of the response that confirmed ownership. */
  header: Exact<ResponseHeader> | undefined;
}

/**
 * A distributed mutex held through a {@link Session}; create it with `session.mutex(name)`.
 *
 * @example
 * ```ts
 * const session = await client.session({ ttl: 10 });
 * const mutex = session.mutex('locks/billing');
 * const { revision } = await mutex.lock({ timeoutMs: 5000 });
 * try {
 *   // Guard writes with the lock: they fail once someone else holds it.
 *   await client.txn().if(mutex.isOwner()).then(Op.put('billing/run', String(revision))).commit();
 * } finally {
 *   await mutex.unlock();
 *   await session.close();
 * }
 * ```
 */
export class Mutex {
  private readonly prefix: Uint8Array;
  private myKey: Uint8Array | undefined;
  private myRev = -1;
  private hdr: Exact<ResponseHeader> | undefined;

  constructor(
    private readonly session: Session,
    name: Bytes,
  ) {
    this.prefix = concatBytes(toBytes(name), toBytes('/'));
  }

  /**
   * Waits until this session holds the lock. On abort, timeout or error the queued key is removed
   * again so later contenders are not stuck behind it.
   */
  async lock(call: CallOpts = {}): Promise<LockOwnership> {
    if (this.session.isDone) throw new SessionExpiredError('session is closed or lost');
    const client = this.session.client;
    const key = concatBytes(this.prefix, toBytes(this.session.lease.toString(16)));
    const ownerOpts = { prefix: true, sortTarget: 'create', sortOrder: 'ascend', limit: 1 } as const;
    const res = await client
      .txn()
      .options(call)
      .if(Cmp.create(key, '=', 0))
      .then(Op.put(key, '', { lease: this.session.lease }), Op.get(this.prefix, ownerOpts))
      .else(Op.get(key), Op.get(this.prefix, ownerOpts))
      .commit()
      .catch(async (e: unknown) => {
        // Aborted or timed out, the transaction may still have created our key: remove it so
        // nobody queues behind a contender that gave up.
        await client.delete(key).catch(() => undefined);
        throw e;
      });
    this.myKey = key;
    this.myRev = res.header?.revision ?? 0;
    if (!res.succeeded) this.myRev = res.responses[0]?.responseRange?.kvs[0]?.createRevision ?? this.myRev;
    const owner = res.responses[1]?.responseRange?.kvs[0];
    if (!owner || owner.createRevision === this.myRev) {
      this.hdr = res.header;
      return this.ownership();
    }
    try {
      // Timeouts cover the whole wait, not each step of it.
      const budget: CallOpts = { ...call };
      if (call.timeoutMs !== undefined) {
        const deadline = AbortSignal.timeout(call.timeoutMs);
        budget.signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline;
        budget.timeoutMs = undefined;
      }
      this.hdr = await waitDeletes(client, this.prefix, this.myRev - 1, budget);
    } catch (e) {
      await this.unlock().catch(() => undefined);
      throw e;
    }
    if (this.session.isDone) throw new SessionExpiredError('session lost while waiting for the lock');
    return this.ownership();
  }

  private ownership(): LockOwnership {
    if (!this.myKey) throw new KvError('mutex is not locked');
    return { key: this.myKey, revision: this.myRev, header: this.hdr };
  }

  /** Releases the lock (deletes this session's key). */
  async unlock(call: CallOpts = {}): Promise<void> {
    if (this.myKey) await this.session.client.delete(this.myKey, {}, call);
    this.myKey = undefined;
    this.myRev = -1;
  }

  /** A transaction guard that holds while this session owns the lock. */
  isOwner(): ReturnType<typeof Cmp.create> {
    return Cmp.create(this.myKey ?? new Uint8Array([0]), '=', this.myRev);
  }

  /** The lock key (undefined when not locked). */
  get key(): Uint8Array | undefined {
    return this.myKey;
  }

  /** The fencing revision of the current ownership (-1 when not locked). */
  get revision(): number {
    return this.myRev;
  }

  /** Header of the response that confirmed the current ownership. */
  get header(): Exact<ResponseHeader> | undefined {
    return this.hdr;
  }
}
