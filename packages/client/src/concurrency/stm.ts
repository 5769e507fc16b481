/**
 * Software transactional memory over etcd transactions (etcd's concurrency/stm.go): the apply
 * function reads and writes through an {@link Stm}; its writes are committed in one transaction
 * guarded by what it read, and the function runs again from scratch when the guard fails.
 *
 * Isolation levels, as in clientv3:
 * - `serializable-snapshot`: every read sees the revision of the first read; commit fails if any
 *   read key changed or any written key was modified after that revision (no write skew).
 * - `serializable`: every read sees the first read's revision; commit fails if any read key changed.
 * - `repeatable-reads`: each key is read once (latest) and cached; commit fails if any read key changed.
 * - `read-committed`: reads see the latest committed values; commit never conflicts.
 */
import type { RangeResponse, TxnResponse } from '../api/index.js';
import { toText } from '../bytes.js';
import type { KvClient } from '../client.js';
import type { CallOpts } from '../connection.js';
import { AbortedError, KvError } from '../errors.js';
import type { Exact } from '../ids.js';
import { Cmp, type GetOptions, Op, type PutOptions } from '../kv.js';

/**
 * clientv3's isolation levels, by name.
 *
 * @example
 * ```ts
 * await client.stm(apply, { isolation: Isolation.RepeatableReads });
 * ```
 */
export const Isolation = {
  SerializableSnapshot: 'serializable-snapshot',
  Serializable: 'serializable',
  RepeatableReads: 'repeatable-reads',
  ReadCommitted: 'read-committed',
} as const;
/**
 * One of {@link Isolation}'s values.
 *
 * @example
 * ```ts
 * const level: IsolationLevel = Isolation.ReadCommitted; // 'read-committed'
 * ```
 */
export type IsolationLevel = (typeof Isolation)[keyof typeof Isolation];

/**
 * Options of `KvClient.stm`.
 *
 * @example
 * ```ts
 * await client.stm(apply, {
 *   isolation: Isolation.Serializable,
 *   prefetch: ['accounts/alice', 'accounts/bob'],
 *   maxAttempts: 10,
 *   timeoutMs: 2000,
 * });
 * ```
 */
export interface StmOptions extends CallOpts {
  /** Default `serializable-snapshot`, as in clientv3. */
  isolation?: IsolationLevel;
  /** Keys read in one round trip before `apply` runs (clientv3's `WithPrefetch`). */
  prefetch?: string[];
  /** Give up after this many conflicting attempts (default: unlimited, as in clientv3). */
  maxAttempts?: number;
}

/**
 * What `apply` reads and writes through. Values are UTF-8 text, as in clientv3 (an absent key reads
 * as `''`).
 *
 * @example
 * ```ts
 * await client.stm(async (stm) => {
 *   const from = Number(await stm.get('accounts/alice'));
 *   const to = Number(await stm.get('accounts/bob'));
 *   stm.put('accounts/alice', String(from - 10));
 *   stm.put('accounts/bob', String(to + 10));
 * });
 * ```
 */
export interface Stm {
  /** Value of the first of `keys` that is written or exists in the read set, else of `keys[0]`. */
  get(...keys: string[]): Promise<string>;
  /** Buffers a put, committed with the transaction. */
  put(key: string, value: string, opts?: PutOptions): void;
  /** Buffers a delete, committed with the transaction. */
  del(key: string): void;
  /** Mod revision of `key` as read (0 when absent). */
  rev(key: string): Promise<number>;
}

type GetResponse = Exact<RangeResponse>;
type Write = { value: string; op: ReturnType<typeof Op.put> };

/** One STM run's read set, write set and read options (reset before every attempt). */
class StmState implements Stm {
  rset = new Map<string, GetResponse>();
  wset = new Map<string, Write>();
  /** Options of reads after the first (a pinned revision for the serializable levels). */
  getOpts: GetOptions;
  /** Responses read by a failed commit, used instead of fresh reads by the next attempt. */
  prefetched = new Map<string, GetResponse>();

  constructor(
    private readonly client: KvClient,
    readonly iso: IsolationLevel,
    private readonly call: CallOpts,
  ) {
    this.getOpts = this.baseGetOpts();
  }

  private baseGetOpts(): GetOptions {
    return this.iso === 'repeatable-reads' || this.iso === 'read-committed' ? { serializable: true } : {};
  }

  private get pinsRevision(): boolean {
    return this.iso === 'serializable' || this.iso === 'serializable-snapshot';
  }

  reset(): void {
    this.rset = new Map();
    this.wset = new Map();
    this.getOpts = this.baseGetOpts();
  }

  async get(...keys: string[]): Promise<string> {
    for (const k of keys) {
      const w = this.wset.get(k);
      if (w) return w.value;
    }
    const firstRead = this.rset.size === 0;
    if (this.pinsRevision) {
      for (const k of keys) {
        const p = this.prefetched.get(k);
        if (p) {
          this.prefetched.delete(k);
          this.rset.set(k, p);
        }
      }
    }
    const resp = await this.fetch(keys);
    if (this.pinsRevision && firstRead && resp) {
      this.getOpts = { revision: resp.header?.revision ?? 0, serializable: true };
    }
    return resp?.kvs[0] ? toText(resp.kvs[0].value) : '';
  }

  put(key: string, value: string, opts?: PutOptions): void {
    this.wset.set(key, { value, op: Op.put(key, value, opts) });
  }

  del(key: string): void {
    this.wset.set(key, { value: '', op: Op.delete(key) });
  }

  async rev(key: string): Promise<number> {
    if (this.pinsRevision) await this.get(key);
    const resp = await this.fetch([key]);
    return resp?.kvs[0]?.modRevision ?? 0;
  }

  /** Reads keys not yet in the read set in one transaction; returns the response for `keys[0]`. */
  private async fetch(keys: string[]): Promise<GetResponse | undefined> {
    if (keys.length === 0) return undefined;
    for (const k of keys) {
      const cached = this.rset.get(k);
      if (cached) return cached;
    }
    const res = await this.client
      .txn()
      .options(this.call)
      .then(...keys.map((k) => Op.get(k, this.getOpts)))
      .commit();
    keys.forEach((k, i) => {
      const r = res.responses[i]?.responseRange;
      if (r) this.rset.set(k, r);
    });
    return this.rset.get(keys[0] as string);
  }

  /** The first revision any read saw. */
  private firstRev(): number {
    let first = Number.MAX_SAFE_INTEGER;
    for (const r of this.rset.values()) first = Math.min(first, r.header?.revision ?? first);
    return first;
  }

  /** Guards: read keys unchanged (and, for snapshots, written keys untouched since the first read). */
  private conflicts(): ReturnType<typeof Cmp.mod>[] {
    if (this.iso === 'read-committed') return [];
    const cmps = [...this.rset].map(([k, r]) => Cmp.mod(k, '=', r.kvs[0]?.modRevision ?? 0));
    if (this.iso === 'serializable-snapshot') {
      const rev = this.firstRev() + 1;
      for (const k of this.wset.keys()) cmps.push(Cmp.mod(k, '<', rev));
    }
    return cmps;
  }

  /** Tries to commit; undefined when a guard failed (the caller retries). */
  async commit(): Promise<Exact<TxnResponse> | undefined> {
    const keys = this.pinsRevision ? [...this.rset.keys()] : [];
    const res = await this.client
      .txn()
      .options(this.call)
      .if(...this.conflicts())
      .then(...[...this.wset.values()].map((w) => w.op))
      .else(...keys.map((k) => Op.get(k)))
      .commit();
    if (res.succeeded) return res;
    if (this.pinsRevision) {
      // The failed commit read the keys' current values: the next attempt starts from those.
      this.prefetched = new Map();
      keys.forEach((k, i) => {
        const r = res.responses[i]?.responseRange;
        if (r) this.prefetched.set(k, r);
      });
      this.getOpts = {};
    }
    return undefined;
  }
}

/**
 * Runs `apply` until its writes commit without conflict, then returns the committing transaction's
 * response. An error thrown by `apply` ends the STM and is rethrown; nothing is written.
 */
export async function runStm(
  client: KvClient,
  apply: (stm: Stm) => Promise<void> | void,
  opts: StmOptions = {},
): Promise<Exact<TxnResponse>> {
  const call: CallOpts = { signal: opts.signal, timeoutMs: opts.timeoutMs };
  const state = new StmState(client, opts.isolation ?? 'serializable-snapshot', call);
  const prefetch = opts.prefetch ?? [];
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new AbortedError(undefined, undefined, opts.signal.reason);
    state.reset();
    if (prefetch.length > 0) await state.get(...prefetch);
    await apply(state);
    const res = await state.commit();
    if (res) return res;
    if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) {
      throw new KvError(`stm: gave up after ${attempt} conflicting attempts`);
    }
  }
}
