/**
 * Election: etcd's leader-election recipe (concurrency/election.go) on plain KV calls.
 *
 * Candidates create `<name>/<lease hex>` on their session's lease; the oldest key (lowest create
 * revision) is the leader and its value is the leader's proclamation. Observers follow the oldest key.
 */
import type { ResponseHeader } from '../api/index.js';
import { Event_EventType } from '../api/index.js';
import { type Bytes, toBytes } from '../bytes.js';
import type { CallOpts } from '../connection.js';
import { ElectionNoLeaderError, ElectionNotLeaderError, SessionExpiredError } from '../errors.js';
import type { Exact } from '../ids.js';
import { Cmp, Op } from '../kv.js';
import { concatBytes } from '../namespace.js';
import type { Session } from './session.js';
import { waitDeletes } from './wait.js';

/** A key-value as the client returns it (exact lease id). */
type LeaderKv = NonNullable<Exact<import('../api/index.js').RangeResponse>['kvs'][number]>;

const FIRST_CREATE = { prefix: true, sortTarget: 'create', sortOrder: 'ascend', limit: 1 } as const;

/**
 * A leader election over a {@link Session}; create it with `session.election(name)`.
 *
 * @example
 * ```ts
 * const session = await client.session({ ttl: 5 });
 * const election = session.election('elections/scheduler');
 * await election.campaign('node-1'); // resolves once this node leads
 * await election.proclaim('node-1 (draining)');
 * await election.resign();
 * ```
 */
export class Election {
  private readonly prefix: Uint8Array;
  private leaderKey: Uint8Array | undefined;
  private leaderRev = -1;
  private hdr: Exact<ResponseHeader> | undefined;

  constructor(
    private readonly session: Session,
    name: Bytes,
  ) {
    this.prefix = concatBytes(toBytes(name), toBytes('/'));
  }

  /**
   * Puts this session up as a candidate with `value` and resolves once it is the leader. On abort
   * or timeout the candidacy is withdrawn.
   */
  async campaign(value: Bytes, call: CallOpts = {}): Promise<void> {
    if (this.session.isDone) throw new SessionExpiredError('session is closed or lost');
    const client = this.session.client;
    const key = concatBytes(this.prefix, toBytes(this.session.lease.toString(16)));
    const res = await client
      .txn()
      .options(call)
      .if(Cmp.create(key, '=', 0))
      .then(Op.put(key, value, { lease: this.session.lease }))
      .else(Op.get(key))
      .commit()
      .catch(async (e: unknown) => {
        // Aborted or timed out, the transaction may still have created our key: withdraw it.
        await client.delete(key).catch(() => undefined);
        throw e;
      });
    this.leaderKey = key;
    this.leaderRev = res.header?.revision ?? 0;
    if (!res.succeeded) {
      const kv = res.responses[0]?.responseRange?.kvs[0];
      this.leaderRev = kv?.createRevision ?? this.leaderRev;
      if (kv && Buffer.compare(Buffer.from(kv.value), Buffer.from(toBytes(value))) !== 0) {
        try {
          await this.proclaim(value, call);
        } catch (e) {
          await this.resign().catch(() => undefined);
          throw e;
        }
      }
    }
    try {
      const budget: CallOpts = { ...call };
      if (call.timeoutMs !== undefined) {
        const deadline = AbortSignal.timeout(call.timeoutMs);
        budget.signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline;
        budget.timeoutMs = undefined;
      }
      await waitDeletes(client, this.prefix, this.leaderRev - 1, budget);
    } catch (e) {
      await this.resign().catch(() => undefined);
      throw e;
    }
    this.hdr = res.header;
  }

  /** Replaces the leader's value; fails with {@link ElectionNotLeaderError} when not leading. */
  async proclaim(value: Bytes, call: CallOpts = {}): Promise<void> {
    if (!this.leaderKey) throw new ElectionNotLeaderError('election: not leader');
    const res = await this.session.client
      .txn()
      .options(call)
      .if(Cmp.create(this.leaderKey, '=', this.leaderRev))
      .then(Op.put(this.leaderKey, value, { lease: this.session.lease }))
      .commit();
    if (!res.succeeded) {
      this.leaderKey = undefined;
      throw new ElectionNotLeaderError('election: not leader');
    }
    this.hdr = res.header;
  }

  /** Gives up leadership (or the candidacy); a no-op when not campaigning. */
  async resign(call: CallOpts = {}): Promise<void> {
    if (!this.leaderKey) return;
    const key = this.leaderKey;
    this.leaderKey = undefined;
    const res = await this.session.client
      .txn()
      .options(call)
      .if(Cmp.create(key, '=', this.leaderRev))
      .then(Op.delete(key))
      .commit();
    this.hdr = res.header;
  }

  /** The current leader's key-value; {@link ElectionNoLeaderError} when there is none. */
  async leader(call: CallOpts = {}): Promise<LeaderKv> {
    const res = await this.session.client.get(this.prefix, FIRST_CREATE, call);
    const kv = res.kvs[0];
    if (!kv) throw new ElectionNoLeaderError('election: no leader');
    return kv;
  }

  /**
   * The leader's key-value now and after every change (new leader or new proclamation), until the
   * signal aborts or the loop is left.
   *
   * @example
   * ```ts
   * for await (const kv of election.observe({ signal })) console.log('leader:', toText(kv.value));
   * ```
   */
  async *observe(call: CallOpts = {}): AsyncGenerator<LeaderKv> {
    const client = this.session.client;
    for (;;) {
      const res = await client.get(this.prefix, FIRST_CREATE, call);
      let kv: LeaderKv | undefined = res.kvs[0];
      let rev = res.header?.revision ?? 0;
      if (!kv) {
        const w = await client.watch(this.prefix, { prefix: true, startRevision: rev, signal: call.signal });
        for await (const ev of w.events()) {
          if (ev.type === Event_EventType.PUT && ev.kv) {
            kv = ev.kv;
            rev = ev.kv.modRevision;
            break;
          }
        }
        if (!kv) return;
      }
      yield kv;
      const w = await client.watch(kv.key, { startRevision: rev + 1, signal: call.signal });
      let deleted = false;
      for await (const ev of w.events()) {
        if (ev.type === Event_EventType.DELETE) {
          deleted = true;
          break;
        }
        if (ev.kv) yield ev.kv;
      }
      if (!deleted) return;
    }
  }

  /** The key this candidate campaigns with (undefined when not campaigning). */
  get key(): Uint8Array | undefined {
    return this.leaderKey;
  }

  /** Create revision of this candidate's key (-1 when not campaigning). */
  get rev(): number {
    return this.leaderRev;
  }

  /** Header of the last response that changed this candidate's state. */
  get header(): Exact<ResponseHeader> | undefined {
    return this.hdr;
  }
}
