/**
 * The apply layer: turns one committed InternalRaftRequest into state changes, in raft order, on every
 * member. KV writes go to MVCC with the entry's raft index (stored as the consistent index in the same
 * backend commit, so replaying an already-applied entry after a crash is skipped); leases, alarms and
 * compaction are handled here.
 */
import { bytesToKey, ErrStorage, toId } from '@kv/mvcc';
import { checkDeleteRange, checkLeaseRevoke, checkPut, checkTxn } from '../auth/permissions.js';
import { AUTH_REQUEST_FIELDS, type AuthInfo, type AuthRequest, type AuthStore } from '../auth/store.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { alarmKey, decodeAlarmRecord, encodeAlarmRecord } from './alarm-record.js';
import type { InternalRequest } from './envelope.js';
import { Errors, type EtcdError, toEtcdError } from './errors.js';
import { decodeLeaseRecord, encodeLeaseRecord, leaseBucketKey } from './lease-record.js';
import { keyBytes, type Lease, type Lessor, MAX_LEASE_TTL } from './lessor.js';
import { txnCost } from './quota.js';
import type { KvEvent, KvStore, PutRequest, RequestOp, TxnRequest, WriteResult } from './store.js';

/** Outcome of applying one request. */
export interface ApplyResult {
  /** Response message (shape depends on the request). */
  response?: unknown;
  /** Store revision after the apply (header revision). */
  revision?: number;
  err?: EtcdError;
}

/** etcd's alarm types. */
export enum AlarmType {
  NONE = 0,
  NOSPACE = 1,
  CORRUPT = 2,
}

/** etcd's AlarmRequest actions. */
export enum AlarmAction {
  GET = 0,
  ACTIVATE = 1,
  DEACTIVATE = 2,
}

/** An active alarm. */
export interface AlarmMember {
  memberID: bigint;
  alarm: AlarmType;
}

/**
 * An alarm as etcd prints it (protobuf text of AlarmMember, zero fields left out), e.g.
 * `memberID:7513118786937086536 alarm:NOSPACE ` — what Maintenance.Status lists in `errors`.
 */
export function formatAlarm(a: AlarmMember): string {
  const id = a.memberID ? `memberID:${a.memberID} ` : '';
  const kind = a.alarm ? `alarm:${AlarmType[a.alarm] ?? a.alarm} ` : '';
  return id + kind;
}

const LEASE_BUCKET = 'lease';

const ALARM_BUCKET = 'alarm';

/** The requester an entry carries (RequestHeader.username/auth_revision), as the auth store takes it. */
function requestAuthInfo(req: InternalRequest): AuthInfo | undefined {
  const h = req.header;
  if (!h?.username) return undefined;
  return { username: h.username, revision: Number(h.authRevision ?? 0) };
}

/** Applies committed requests. */
export class Applier {
  readonly alarms: AlarmMember[] = [];
  /** key (latin1) → lease id, to move keys between leases as they are overwritten or deleted. */
  private readonly keyLease = new Map<string, bigint>();

  constructor(
    private readonly store: KvStore,
    private readonly lessor: Lessor,
    private readonly metrics: ServerMetrics,
    private readonly auth: AuthStore,
  ) {}

  /** Keys attached to a lease, as bytes (the permission checks of lease puts and revokes need them). */
  private readonly leaseKeys = (id: bigint): Uint8Array[] =>
    [...(this.lessor.lookup(id)?.keys ?? [])].map(keyBytes);

  /** Rebuilds leases and alarms from the backend, and key→lease links from the key space. */
  async loadState(): Promise<void> {
    // A snapshot from the leader replaces everything loaded before.
    this.lessor.clear();
    this.keyLease.clear();
    this.alarms.length = 0;
    for (const [, value] of await this.store.rangeMeta(LEASE_BUCKET)) {
      const { id, ttl, remainingTtl } = decodeLeaseRecord(value);
      this.lessor.grant(id, ttl, remainingTtl);
    }
    for (const [, value] of await this.store.rangeMeta(ALARM_BUCKET)) {
      this.alarms.push(decodeAlarmRecord(value));
    }
    for (const [lease, keys] of await this.store.keysWithLease()) {
      for (const key of keys) {
        const k = bytesToKey(key);
        this.keyLease.set(k, lease);
        this.lessor.attach(lease, k);
      }
    }
  }

  /**
   * Applies one request at raft index `index`. Request errors go into the result; a storage failure is
   * thrown (the apply loop then stops the member, as etcd panics): recording it as the entry's answer
   * would move the consistent index past a write this member never made. Entries at or
   * below the store's consistent index were applied (and committed to the backend, leases and alarms
   * included) before a restart, so they are skipped.
   */
  async apply(req: InternalRequest, index: number): Promise<ApplyResult> {
    return this.applySync(req, index) ?? (await this.applyAsync(req, index));
  }

  /**
   * {@link apply} in the calling turn, for a request that needs no I/O (a put, delete or txn whose
   * reads are in memory while the store's write lock is idle; lease grants, alarms, auth). Returns
   * undefined, having applied nothing, when the request needs the asynchronous path: call
   * {@link applyAsync} then, before applying anything else.
   * @example
   * const result = applier.applySync(req, index) ?? (await applier.applyAsync(req, index));
   */
  applySync(req: InternalRequest, index: number): ApplyResult | undefined {
    if (index <= this.store.consistentIndex()) return { revision: this.store.rev() };
    let result: ApplyResult | undefined;
    try {
      result = this.applyNow(req, { index });
      if (result === undefined) return undefined;
    } catch (err) {
      if (err instanceof ErrStorage) throw err;
      result = { err: toEtcdError(err), revision: this.store.rev() };
    }
    // Entries that wrote nothing still advance the consistent index (etcd does this for every entry).
    if (index > this.store.consistentIndex()) this.store.setConsistentIndex(index);
    return result;
  }

  /** {@link apply} through the asynchronous store path (after {@link applySync} returned undefined). */
  async applyAsync(req: InternalRequest, index: number): Promise<ApplyResult> {
    if (index <= this.store.consistentIndex()) return { revision: this.store.rev() };
    const ctx = { index };
    let result: ApplyResult;
    try {
      result = await this.applyOne(req, ctx);
    } catch (err) {
      if (err instanceof ErrStorage) throw err;
      result = { err: toEtcdError(err), revision: this.store.rev() };
    }
    if (index > this.store.consistentIndex()) this.store.setConsistentIndex(index);
    return result;
  }

  /** What refuses any write before it is looked at: active alarms, then auth. Undefined: go ahead. */
  private refusal(req: InternalRequest): ApplyResult | undefined {
    // Active alarms refuse writes before anything else, like etcd's outermost applier wrappers.
    const refused = this.alarms.length > 0 ? this.refusedByAlarm(req) : undefined;
    if (refused) return { err: refused, revision: this.store.rev() };
    // Writes are checked here, against the auth state at this entry, so every member decides alike
    // (etcd's applierV3Auth). While auth is disabled this is the only cost.
    if (this.auth.isEnabled()) return this.checkWrite(req, requestAuthInfo(req));
    return undefined;
  }

  /** The synchronous half of {@link applyOne}: a result, or undefined when the request needs I/O. */
  private applyNow(req: InternalRequest, ctx: { index: number }): ApplyResult | undefined {
    const refused = this.refusal(req);
    if (refused) return refused;
    if (req.put) {
      this.checkPutLease(req.put);
      const r = this.store.tryPut(req.put, ctx);
      return r && this.wrote(r, this.metrics.putTotal);
    }
    if (req.deleteRange) {
      const r = this.store.tryDeleteRange(req.deleteRange, ctx);
      return r && this.wrote(r, this.metrics.deleteTotal);
    }
    if (req.txn) {
      this.checkLeasesTxn(req.txn);
      const r = this.store.tryTxn(req.txn, ctx);
      return r && this.wrote(r, this.metrics.txnTotal);
    }
    if (req.compaction || req.leaseRevoke) return undefined;
    return this.applyOther(req, ctx);
  }

  private async applyOne(req: InternalRequest, ctx: { index: number }): Promise<ApplyResult> {
    const refused = this.refusal(req);
    if (refused) return refused;
    if (req.put) {
      this.checkPutLease(req.put);
      return this.wrote(await this.store.put(req.put, ctx), this.metrics.putTotal);
    }
    if (req.deleteRange) {
      return this.wrote(await this.store.deleteRange(req.deleteRange, ctx), this.metrics.deleteTotal);
    }
    if (req.txn) {
      this.checkLeasesTxn(req.txn);
      return this.wrote(await this.store.txn(req.txn, ctx), this.metrics.txnTotal);
    }
    if (req.compaction) {
      const started = performance.now();
      const r = await this.store.compact(req.compaction.revision ?? 0, ctx);
      // etcd's dbCompactionTotalMs: from the compaction's start until the dead revisions are gone.
      void r.physical.then(
        () => this.metrics.compactionTotalMs.observe(Math.round(performance.now() - started)),
        () => {},
      );
      return { response: { physical: r.physical }, revision: r.revision };
    }
    if (req.leaseRevoke) return await this.applyLeaseRevoke(req.leaseRevoke.ID ?? 0n, ctx);
    return this.applyOther(req, ctx);
  }

  /** Counts a KV write and moves its keys between leases. */
  private wrote(r: WriteResult<unknown>, counter: { inc(): void }): ApplyResult {
    counter.inc();
    this.track(r.events);
    return { response: r.response, revision: r.revision };
  }

  /** Requests that touch only memory and the store's batched meta buckets: leases, alarms, auth. */
  private applyOther(req: InternalRequest, ctx: { index: number }): ApplyResult {
    if (req.leaseGrant) return this.applyLeaseGrant(req.leaseGrant.ID ?? 0n, req.leaseGrant.TTL ?? 0, ctx);
    if (req.alarm) return this.applyAlarm(req.alarm, ctx);
    if (req.leaseCheckpoint) return this.applyLeaseCheckpoint(req.leaseCheckpoint.checkpoints ?? [], ctx);
    for (const field of AUTH_REQUEST_FIELDS) {
      if (req[field]) {
        const body = this.auth.apply({ [field]: req[field] } as AuthRequest, {
          index: ctx.index,
          authInfo: requestAuthInfo(req),
        });
        return { response: body, revision: this.store.rev() };
      }
    }
    return { err: Errors.notCapable(), revision: this.store.rev() };
  }

  /** Permission checks of KV writes and lease revokes; returns the denial, or undefined to go ahead. */
  private checkWrite(req: InternalRequest, info: AuthInfo | undefined): ApplyResult | undefined {
    try {
      if (req.put) checkPut(this.auth, info, req.put, this.leaseKeys);
      else if (req.deleteRange) checkDeleteRange(this.auth, info, req.deleteRange);
      else if (req.txn) checkTxn(this.auth, info, req.txn, this.leaseKeys);
      else if (req.leaseRevoke) checkLeaseRevoke(this.auth, info, this.leaseKeys(req.leaseRevoke.ID ?? 0n));
      return undefined;
    } catch (err) {
      return { err: toEtcdError(err), revision: this.store.rev() };
    }
  }

  /** A put's lease must exist (checked again at apply: the lease may be revoked meanwhile). */
  private checkPutLease(put: PutRequest): void {
    const lease = toId(put.lease);
    if (lease !== 0n && !this.lessor.lookup(lease)) throw Errors.leaseNotFound();
  }

  private checkLeases(ops: RequestOp[]): void {
    for (const op of ops) {
      if (op.requestPut) this.checkPutLease(op.requestPut);
      if (op.requestTxn) this.checkLeasesTxn(op.requestTxn);
    }
  }

  private checkLeasesTxn(txn: TxnRequest): void {
    this.checkLeases(txn.success ?? []);
    this.checkLeases(txn.failure ?? []);
  }

  /** Moves key→lease links according to the events a write produced. */
  private track(events: readonly KvEvent[]): void {
    let putSize = 0;
    for (const ev of events) {
      // etcd's totalPutSizeGauge: key plus value bytes of every put.
      if (ev.type === 0) putSize += ev.kv.key.length + (ev.kv.value?.length ?? 0);
      const next = ev.type === 0 ? ev.kv.lease : 0n;
      // No key carries a lease and this one gets none: nothing to move (and no key string to build,
      // the common case of every plain put).
      if (next === 0n && this.keyLease.size === 0) continue;
      const k = bytesToKey(ev.kv.key);
      const old = this.keyLease.get(k);
      if (old === next) continue;
      if (old !== undefined) this.lessor.detach(old, k);
      if (next !== 0n) {
        this.keyLease.set(k, next);
        this.lessor.attach(next, k);
      } else {
        this.keyLease.delete(k);
      }
    }
    if (putSize > 0) this.metrics.totalPutSize.inc(undefined, putSize);
  }

  /** The lease bucket's record (remainingTtl only once checkpointed). */
  private persistLease(lease: Lease, ctx: { index: number }): void {
    const rec = { id: lease.id, ttl: lease.ttl, remainingTtl: lease.remainingTtl };
    this.store.putMeta(LEASE_BUCKET, leaseBucketKey(lease.id), encodeLeaseRecord(rec), ctx);
  }

  /** etcd's lessor.Checkpoint for each lease: the remaining TTL is kept and persisted. */
  private applyLeaseCheckpoint(
    checkpoints: ReadonlyArray<{ ID?: bigint; remainingTTL?: number }>,
    ctx: { index: number },
  ): ApplyResult {
    for (const c of checkpoints) {
      const lease = this.lessor.checkpoint(c.ID ?? 0n, Number(c.remainingTTL ?? 0));
      if (lease) this.persistLease(lease, ctx);
    }
    return { revision: this.store.rev() };
  }

  private applyLeaseGrant(id: bigint, ttl: number, ctx: { index: number }): ApplyResult {
    if (ttl > MAX_LEASE_TTL) return { err: Errors.leaseTTLTooLarge(), revision: this.store.rev() };
    const lease = this.lessor.grant(id, ttl);
    if (!lease) return { err: Errors.leaseExist(), revision: this.store.rev() };
    this.persistLease(lease, ctx);
    this.metrics.leaseGranted.inc();
    this.metrics.leaseTtl.observe(lease.ttl);
    return { response: { ID: id, TTL: lease.ttl, error: '' }, revision: this.store.rev() };
  }

  private async applyLeaseRevoke(id: bigint, ctx: { index: number }): Promise<ApplyResult> {
    const keys = this.lessor.revoke(id);
    if (!keys) return { err: Errors.leaseNotFound(), revision: this.store.rev() };
    this.metrics.leaseRevoked.inc();
    const list = [...keys].sort();
    for (const k of list) if (this.keyLease.get(k) === id) this.keyLease.delete(k);
    let revision = this.store.rev();
    if (list.length) {
      // All keys of the lease go in one revision, like etcd's lessor.Revoke (one txn). The KV write
      // must come first: it is skipped if the consistent index already covers ctx.index.
      const r = await this.store.txn(
        {
          compare: [],
          success: list.map((k) => ({ requestDeleteRange: { key: keyBytes(k) } })),
          failure: [],
        },
        ctx,
      );
      this.metrics.deleteTotal.inc();
      revision = r.revision;
    }
    this.store.deleteMeta(LEASE_BUCKET, leaseBucketKey(id), ctx);
    return { response: {}, revision };
  }

  /**
   * etcd's applierV3Capped (NOSPACE: puts, txns with puts and lease grants fail) and applierV3Corrupt
   * (CORRUPT: every write, compaction and lease grant/revoke fails). Reads never reach apply.
   */
  private refusedByAlarm(req: InternalRequest): EtcdError | undefined {
    const active = (t: AlarmType) => this.alarms.some((a) => a.alarm === t);
    if (active(AlarmType.NOSPACE) && (req.put || req.leaseGrant || (req.txn && txnCost(req.txn) > 0))) {
      return Errors.noSpace();
    }
    if (
      active(AlarmType.CORRUPT) &&
      (req.put || req.deleteRange || req.txn || req.compaction || req.leaseGrant || req.leaseRevoke)
    ) {
      return Errors.corrupt();
    }
    return undefined;
  }

  private applyAlarm(
    req: { action?: number; memberID?: bigint; alarm?: number },
    ctx: { index: number },
  ): ApplyResult {
    const action = req.action ?? 0; // GET=0 ACTIVATE=1 DEACTIVATE=2
    const memberID = req.memberID ?? 0n;
    const alarm = (req.alarm ?? 0) as AlarmType;
    const key = Buffer.from(alarmKey({ memberID, alarm }));
    if (action === AlarmAction.ACTIVATE && alarm !== AlarmType.NONE) {
      if (!this.alarms.some((a) => a.memberID === memberID && a.alarm === alarm)) {
        this.alarms.push({ memberID, alarm });
        this.store.putMeta(ALARM_BUCKET, key, encodeAlarmRecord({ memberID, alarm }), ctx);
      }
      return { response: { alarms: [{ memberID, alarm }] }, revision: this.store.rev() };
    }
    if (action === AlarmAction.DEACTIVATE) {
      const i = this.alarms.findIndex((a) => a.memberID === memberID && a.alarm === alarm);
      if (i < 0) return { response: { alarms: [] }, revision: this.store.rev() };
      const [removed] = this.alarms.splice(i, 1);
      this.store.deleteMeta(ALARM_BUCKET, key, ctx);
      return { response: { alarms: [removed] }, revision: this.store.rev() };
    }
    return { response: { alarms: [...this.alarms] }, revision: this.store.rev() };
  }

  /** The put's lease must exist (checked again at apply: the lease may be revoked meanwhile). */
  static leaseOf(put: PutRequest): bigint {
    return toId(put.lease);
  }
}
