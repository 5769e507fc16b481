/**
 * KvClient: the typed, promise-based facade over every etcd v3 service.
 *
 * Responses are the generated wire types from `@kv/client/api` (complete objects: absent scalars are
 * 0/''/empty), so nothing is lost between what the server says and what the caller sees.
 */
import { type ClientReadableStream, status as GrpcStatus } from '@grpc/grpc-js';
import {
  type AlarmMember,
  AlarmRequest_AlarmAction,
  type AlarmResponse,
  AlarmType,
  type AuthDisableResponse,
  type AuthEnableResponse,
  type AuthRoleAddResponse,
  type AuthRoleDeleteResponse,
  type AuthRoleGetResponse,
  type AuthRoleGrantPermissionResponse,
  type AuthRoleListResponse,
  type AuthRoleRevokePermissionResponse,
  type AuthStatusResponse,
  type AuthUserAddResponse,
  type AuthUserChangePasswordResponse,
  type AuthUserDeleteResponse,
  type AuthUserGetResponse,
  type AuthUserGrantRoleResponse,
  type AuthUserListResponse,
  type AuthUserRevokeRoleResponse,
  type CampaignResponse,
  type CompactionResponse,
  type DeepPartial,
  type DefragmentResponse,
  type DeleteRangeResponse,
  type HashKVResponse,
  type HashResponse,
  type LeaderResponse,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type LockResponse,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  type Permission_Type,
  type ProclaimResponse,
  type PutResponse,
  type ResignResponse,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type UnlockResponse,
} from './api/index.js';
import { RangeBuilder, WatchBuilder } from './builders.js';
import { type Bytes, toBytes } from './bytes.js';
import { Session, type SessionOptions } from './concurrency/session.js';
import { runStm, type Stm, type StmOptions } from './concurrency/stm.js';
import { type CallOpts, Connection, type ConnectionOptions } from './connection.js';
import { NoLeaderError, toKvError } from './errors.js';
import type { Exact, Id } from './ids.js';
import {
  type DeleteOptions,
  deleteRequest,
  type GetOptions,
  type PutOptions,
  putRequest,
  type RangeScope,
  rangeEndFor,
  rangeRequest,
  TxnBuilder,
} from './kv.js';
import { keepAliveOnce, LeaseKeepAlive } from './lease.js';
import { Auth, Cluster, Election, type ExactLeaderKey, KV, Lease, Lock, Maintenance } from './methods.js';
import {
  concatBytes,
  prefixRange,
  prefixTxn,
  stripDelete,
  stripPut,
  stripRange,
  stripTxn,
} from './namespace.js';
import { Watcher, type WatchOptions } from './watch.js';

/**
 * Options of {@link KvClient}.
 *
 * @example
 * ```ts
 * const client = new KvClient({
 *   endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
 *   username: 'app',
 *   password: process.env.ETCD_PASSWORD,
 *   tls: { ca: readFileSync('ca.pem') },
 *   commandTimeoutMs: 5000,
 *   retry: { attempts: 4, backoffMs: 100 },
 * });
 * ```
 */
export type KvClientOptions = ConnectionOptions;

/** Wraps a grpc-js server stream so iteration throws typed errors. */
async function* typedStream<T>(stream: ClientReadableStream<T>): AsyncGenerator<T> {
  try {
    for await (const item of stream) yield item as T;
  } catch (e) {
    throw toKvError(e);
  } finally {
    stream.cancel();
  }
}

/**
 * A client for etcd v3 and kv-server. Every call takes optional {@link CallOpts} last
 * (`{ signal, timeoutMs }`). Call {@link KvClient.close} when done.
 *
 * @example
 * ```ts
 * import { KvClient } from '@kv/client';
 *
 * const client = new KvClient({ endpoints: ['http://127.0.0.1:2379'], commandTimeoutMs: 5000 });
 * await client.put('greeting', 'hello');
 * console.log(await client.get('greeting').string()); // 'hello'
 * client.close();
 * ```
 */
export class KvClient {
  /** The underlying connection (endpoints, auth, failover); shared by namespaced views. */
  readonly conn: Connection;
  /** Namespace prefix of this view (empty for the root client). */
  readonly prefix: Uint8Array = new Uint8Array(0);

  constructor(options: KvClientOptions) {
    this.conn = new Connection(options);
  }

  /** Closes all channels (of every namespaced view too). Running watchers and keep-alives stop with an error. */
  close(): void {
    this.conn.close();
  }

  /**
   * A view of this client in which every key lives under `prefix`: keys, ranges, transaction
   * compares and operations and watches are prefixed on the way out, and the prefix is removed from
   * every key that comes back. Leases, cluster and maintenance calls are shared with the parent;
   * sessions, mutexes, elections and STM built on the view stay inside the namespace. The etcd
   * v3lock/v3election gRPC calls (`lock`, `campaign`, `leader`, `observe`, ...) are not namespaced:
   * use `session.mutex()`/`session.election()` on the view instead. The view shares the connection:
   * closing either closes both.
   *
   * @example
   * ```ts
   * const app = client.namespace('/app/');
   * await app.put('config', 'v1'); // writes '/app/config'
   * const keys = await app.get('').prefix().keys(); // ['config'] — only keys under '/app/'
   * ```
   */
  namespace(prefix: Bytes): KvClient {
    const view = Object.create(KvClient.prototype) as KvClient;
    Object.assign(view, { conn: this.conn, prefix: concatBytes(this.prefix, toBytes(prefix)) });
    return view;
  }

  // ---- KV ----

  /**
   * Reads a key or range (see {@link GetOptions}). Returns a {@link RangeBuilder}: await it for the
   * response, or chain options first.
   *
   * @example
   * ```ts
   * const one = await client.get('config/a');
   * const rev = one.header!.revision;
   * const page = await client.get('pods/').prefix().limit(100).revision(rev);
   * const same = await client.get('pods/', { prefix: true, limit: 100, revision: rev });
   * ```
   */
  get(key: Bytes, opts?: GetOptions, call?: CallOpts): RangeBuilder {
    const ns = this.prefix;
    return new RangeBuilder(
      async (o, c) => {
        const req = rangeRequest(key, o);
        if (ns.length === 0) return this.conn.unary(KV.range, req, c);
        return stripRange(ns, await this.conn.unary(KV.range, prefixRange(ns, req), c));
      },
      opts,
      call,
    );
  }

  /**
   * Alias of {@link KvClient.get}.
   *
   * @example
   * ```ts
   * const res = await client.range('a', { rangeEnd: 'c' });
   * ```
   */
  range(key: Bytes, opts?: GetOptions, call?: CallOpts): RangeBuilder {
    return this.get(key, opts, call);
  }

  /**
   * Value of one key as UTF-8 text, or undefined when absent.
   *
   * @example
   * ```ts
   * const v = await client.getValue('config/a');
   * ```
   */
  async getValue(key: Bytes, call?: CallOpts): Promise<string | undefined> {
    return this.get(key, {}, call).string();
  }

  /**
   * Writes one key.
   *
   * @example
   * ```ts
   * const res = await client.put('k', 'v', { prevKv: true });
   * console.log(res.header?.revision, res.prevKv?.value);
   * ```
   */
  async put(key: Bytes, value: Bytes, opts?: PutOptions, call?: CallOpts): Promise<Exact<PutResponse>> {
    const ns = this.prefix;
    if (ns.length === 0) return this.conn.unary(KV.put, putRequest(key, value, opts), call);
    const req = putRequest(concatBytes(ns, toBytes(key)), value, opts);
    return stripPut(ns, await this.conn.unary(KV.put, req, call));
  }

  /**
   * Deletes a key or range.
   *
   * @example
   * ```ts
   * const { deleted } = await client.delete('jobs/', { prefix: true });
   * ```
   */
  async delete(key: Bytes, opts?: DeleteOptions, call?: CallOpts): Promise<Exact<DeleteRangeResponse>> {
    const ns = this.prefix;
    const req = deleteRequest(key, opts);
    if (ns.length === 0) return this.conn.unary(KV.deleteRange, req, call);
    return stripDelete(ns, await this.conn.unary(KV.deleteRange, prefixRange(ns, req), call));
  }

  /**
   * Starts a transaction builder (no argument) or sends a complete request object.
   *
   * @example
   * ```ts
   * const res = await client
   *   .txn()
   *   .if(Cmp.create('leader', '=', 0))
   *   .then(Op.put('leader', 'me'))
   *   .else(Op.get('leader'))
   *   .commit();
   * ```
   */
  txn(): TxnBuilder<Exact<TxnResponse>>;
  txn(request: DeepPartial<TxnRequest>, call?: CallOpts): Promise<Exact<TxnResponse>>;
  txn(
    request?: DeepPartial<TxnRequest>,
    call?: CallOpts,
  ): TxnBuilder<Exact<TxnResponse>> | Promise<Exact<TxnResponse>> {
    const send = async (req: DeepPartial<TxnRequest>, c: CallOpts | undefined) => {
      const ns = this.prefix;
      if (ns.length === 0) return this.conn.unary(KV.txn, req, c);
      return stripTxn(ns, await this.conn.unary(KV.txn, prefixTxn(ns, req), c));
    };
    if (request === undefined) return new TxnBuilder((req, c) => send(req, { ...call, ...c }));
    return send(request, call);
  }

  /** Compacts history up to `revision`; `physical` waits until the space is reclaimed. */
  compact(
    revision: number,
    opts: { physical?: boolean } = {},
    call?: CallOpts,
  ): Promise<Exact<CompactionResponse>> {
    return this.conn.unary(KV.compact, { revision, physical: opts.physical ?? false }, call);
  }

  // ---- Watch ----

  /**
   * Watches a key or range. Returns a {@link WatchBuilder}: iterate it for events
   * (`for await (const ev of client.watch(k, { prefix: true }))`), or await it for the
   * {@link Watcher} (responses, `'response'` events, `cancel()`), which resolves once the server
   * confirmed the watch. Stream failures and server restarts are resumed from the revision after the
   * last delivered one; compaction past that revision ends the watch with a `CompactedError`
   * carrying `compactRevision`.
   *
   * @example
   * ```ts
   * const ac = new AbortController();
   * for await (const ev of client.watch('config/', { prefix: true, signal: ac.signal })) {
   *   console.log(toText(ev.kv!.key), toText(ev.kv!.value));
   * }
   * ```
   */
  watch(key: Bytes, opts?: WatchOptions): WatchBuilder {
    return new WatchBuilder((o) => new Watcher(this.conn, key, o, { ns: this.prefix }).start(), opts);
  }

  // ---- Lease ----

  /** Grants a lease of `ttlSeconds`; `id` 0 lets the server choose. */
  grant(ttlSeconds: number, id: Id = 0, call?: CallOpts): Promise<Exact<LeaseGrantResponse>> {
    return this.conn.unary(Lease.leaseGrant, { TTL: ttlSeconds, ID: id }, call);
  }

  /** Revokes a lease and deletes its keys. */
  revoke(id: Id, call?: CallOpts): Promise<Exact<LeaseRevokeResponse>> {
    return this.conn.unary(Lease.leaseRevoke, { ID: id }, call);
  }

  /** Remaining and granted TTL of a lease (TTL -1 when it does not exist); `keys` lists its keys. */
  timeToLive(
    id: Id,
    opts: { keys?: boolean } = {},
    call?: CallOpts,
  ): Promise<Exact<LeaseTimeToLiveResponse>> {
    return this.conn.unary(Lease.leaseTimeToLive, { ID: id, keys: opts.keys ?? false }, call);
  }

  /** All live leases. */
  leases(call?: CallOpts): Promise<Exact<LeaseLeasesResponse>> {
    return this.conn.unary(Lease.leaseLeases, {}, call);
  }

  /** Renews a lease once; the response's TTL is 0 when the lease no longer exists. */
  keepAliveOnce(id: Id, call?: CallOpts): Promise<Exact<LeaseKeepAliveResponse>> {
    return keepAliveOnce(this.conn, id, call);
  }

  /** Keeps a lease alive until `close()`; emits `'keepalive'` and `'lost'`. */
  async keepAlive(id: Id, call?: CallOpts): Promise<LeaseKeepAlive> {
    const ttl = await this.timeToLive(id, {}, call);
    return new LeaseKeepAlive(this.conn, id, Math.max(ttl.TTL, 1)).start();
  }

  // ---- Sessions, locks, elections, STM (client-side recipes on KV calls) ----

  /**
   * Starts a {@link Session}: a lease of its own, kept alive until `close()`; `done` resolves when it
   * is lost. Mutexes and elections are made from a session.
   *
   * @example
   * ```ts
   * const session = await client.session({ ttl: 10 });
   * const mutex = session.mutex('locks/job');
   * ```
   */
  session(opts?: SessionOptions): Promise<Session> {
    return Session.create(this, opts);
  }

  /**
   * Runs `fn` while holding the lock `name` (etcd's mutex recipe on a fresh session), passing the
   * lock's fencing revision; releases the lock and the session afterwards, also when `fn` throws.
   *
   * @example
   * ```ts
   * await client.withLock('locks/migrate', async (fencing) => {
   *   await client.put('schema/version', '7', {}); // only one process runs this at a time
   *   console.log('holding lock with fencing revision', fencing);
   * });
   * ```
   */
  async withLock<T>(
    name: Bytes,
    fn: (fencingRevision: number) => Promise<T> | T,
    opts: { ttl?: number } & CallOpts = {},
  ): Promise<T> {
    const session = await this.session({ ttl: opts.ttl, signal: opts.signal });
    try {
      const mutex = session.mutex(name);
      const { revision } = await mutex.lock({ signal: opts.signal, timeoutMs: opts.timeoutMs });
      try {
        return await fn(revision);
      } finally {
        await mutex.unlock().catch(() => undefined);
      }
    } finally {
      await session.close();
    }
  }

  /**
   * Runs `apply` as a software transaction (clientv3's STM) with the chosen isolation level; retries
   * it on conflict and returns the committing transaction's response.
   *
   * @example
   * ```ts
   * await client.stm(
   *   async (stm) => {
   *     const n = Number((await stm.get('counter')) || '0');
   *     stm.put('counter', String(n + 1));
   *   },
   *   { isolation: Isolation.Serializable },
   * );
   * ```
   */
  stm(apply: (stm: Stm) => Promise<void> | void, opts?: StmOptions): Promise<Exact<TxnResponse>> {
    return runStm(this, apply, opts);
  }

  // ---- Cluster ----

  /** Members of the cluster. `linearizable` (etcd 3.5+) is ignored by 3.4 servers. */
  memberList(opts: { linearizable?: boolean } = {}, call?: CallOpts): Promise<Exact<MemberListResponse>> {
    return this.conn.unary(Cluster.memberList, { linearizable: opts.linearizable ?? false }, call);
  }

  /** Adds a member (a non-voting learner with `isLearner`). */
  memberAdd(
    peerURLs: string[],
    opts: { isLearner?: boolean } = {},
    call?: CallOpts,
  ): Promise<Exact<MemberAddResponse>> {
    return this.conn.unary(Cluster.memberAdd, { peerURLs, isLearner: opts.isLearner ?? false }, call);
  }

  /** Removes a member. */
  memberRemove(id: Id, call?: CallOpts): Promise<Exact<MemberRemoveResponse>> {
    return this.conn.unary(Cluster.memberRemove, { ID: id }, call);
  }

  /** Replaces a member's peer URLs. */
  memberUpdate(id: Id, peerURLs: string[], call?: CallOpts): Promise<Exact<MemberUpdateResponse>> {
    return this.conn.unary(Cluster.memberUpdate, { ID: id, peerURLs }, call);
  }

  /** Promotes a learner to a voting member. */
  memberPromote(id: Id, call?: CallOpts): Promise<Exact<MemberPromoteResponse>> {
    return this.conn.unary(Cluster.memberPromote, { ID: id }, call);
  }

  // ---- Maintenance ----

  /**
   * Makes `targetId` the raft leader. The request must reach the current leader, so the client asks
   * any member who leads and sends MoveLeader to the leader's client URLs. Resolves once the target
   * leads; fails with `MemberError` (`bad leader transferee`) for an unknown member or a learner.
   *
   * @example
   * ```ts
   * const { members } = await client.memberList();
   * await client.moveLeader(members[1]!.ID);
   * ```
   */
  async moveLeader(targetId: Id, call?: CallOpts): Promise<Exact<MoveLeaderResponse>> {
    const status = await this.status(call);
    const { members } = await this.memberList({}, call);
    const leader = members.find((m) => String(m.ID) === String(status.leader));
    if (!leader || leader.clientURLs.length === 0) {
      throw new NoLeaderError('etcdserver: no leader', GrpcStatus.UNAVAILABLE);
    }
    const conn = new Connection({ ...this.conn.options, endpoints: leader.clientURLs });
    try {
      return await conn.unary(Maintenance.moveLeader, { targetID: targetId }, call);
    } finally {
      conn.close();
    }
  }

  /** Status of the member behind the next endpoint. */
  status(call?: CallOpts): Promise<Exact<StatusResponse>> {
    return this.conn.unary(Maintenance.status, {}, call);
  }

  /** Defragments the backend of the member behind the next endpoint. */
  defragment(call?: CallOpts): Promise<Exact<DefragmentResponse>> {
    return this.conn.unary(Maintenance.defragment, {}, call);
  }

  /** Hash of the whole backend. */
  hash(call?: CallOpts): Promise<Exact<HashResponse>> {
    return this.conn.unary(Maintenance.hash, {}, call);
  }

  /** Hash of the key space up to `revision` (0 = latest). */
  hashKV(revision = 0, call?: CallOpts): Promise<Exact<HashKVResponse>> {
    return this.conn.unary(Maintenance.hashKV, { revision }, call);
  }

  /** Streams a snapshot of the backend; concatenate the `blob`s to get the file. */
  async snapshot(call?: CallOpts): Promise<AsyncIterable<Exact<SnapshotResponse>>> {
    return typedStream(await this.conn.serverStream(Maintenance.snapshot, {}, call));
  }

  /** Raw alarm call (get, activate, deactivate). */
  alarm(
    action: AlarmRequest_AlarmAction,
    memberID: Id = 0,
    alarm: AlarmType = AlarmType.NONE,
    call?: CallOpts,
  ): Promise<Exact<AlarmResponse>> {
    return this.conn.unary(Maintenance.alarm, { action, memberID, alarm }, call);
  }

  /** Active alarms. */
  async alarmList(call?: CallOpts): Promise<Exact<AlarmMember>[]> {
    return (await this.alarm(AlarmRequest_AlarmAction.GET, 0, AlarmType.NONE, call)).alarms;
  }

  /** Disarms every active alarm; returns the alarms that were disarmed. */
  async alarmDisarmAll(call?: CallOpts): Promise<Exact<AlarmMember>[]> {
    const disarmed: Exact<AlarmMember>[] = [];
    for (const a of await this.alarmList(call)) {
      const res = await this.alarm(AlarmRequest_AlarmAction.DEACTIVATE, a.memberID, a.alarm, call);
      disarmed.push(...res.alarms);
    }
    return disarmed;
  }

  // ---- Auth ----

  authEnable(call?: CallOpts): Promise<AuthEnableResponse> {
    return this.conn.unary(Auth.authEnable, {}, call);
  }
  authDisable(call?: CallOpts): Promise<AuthDisableResponse> {
    return this.conn.unary(Auth.authDisable, {}, call);
  }
  /** Whether auth is enabled (etcd 3.5+ and kv-server; etcd 3.4 answers "unknown method"). */
  authStatus(call?: CallOpts): Promise<AuthStatusResponse> {
    return this.conn.unary(Auth.authStatus, {}, call);
  }
  userAdd(
    name: string,
    password: string,
    opts: { noPassword?: boolean } = {},
    call?: CallOpts,
  ): Promise<AuthUserAddResponse> {
    return this.conn.unary(
      Auth.userAdd,
      { name, password, options: { noPassword: opts.noPassword ?? false } },
      call,
    );
  }
  userGet(name: string, call?: CallOpts): Promise<AuthUserGetResponse> {
    return this.conn.unary(Auth.userGet, { name }, call);
  }
  userList(call?: CallOpts): Promise<AuthUserListResponse> {
    return this.conn.unary(Auth.userList, {}, call);
  }
  userDelete(name: string, call?: CallOpts): Promise<AuthUserDeleteResponse> {
    return this.conn.unary(Auth.userDelete, { name }, call);
  }
  userChangePassword(
    name: string,
    password: string,
    call?: CallOpts,
  ): Promise<AuthUserChangePasswordResponse> {
    return this.conn.unary(Auth.userChangePassword, { name, password }, call);
  }
  userGrantRole(user: string, role: string, call?: CallOpts): Promise<AuthUserGrantRoleResponse> {
    return this.conn.unary(Auth.userGrantRole, { user, role }, call);
  }
  userRevokeRole(name: string, role: string, call?: CallOpts): Promise<AuthUserRevokeRoleResponse> {
    return this.conn.unary(Auth.userRevokeRole, { name, role }, call);
  }
  roleAdd(name: string, call?: CallOpts): Promise<AuthRoleAddResponse> {
    return this.conn.unary(Auth.roleAdd, { name }, call);
  }
  roleGet(role: string, call?: CallOpts): Promise<AuthRoleGetResponse> {
    return this.conn.unary(Auth.roleGet, { role }, call);
  }
  roleList(call?: CallOpts): Promise<AuthRoleListResponse> {
    return this.conn.unary(Auth.roleList, {}, call);
  }
  roleDelete(role: string, call?: CallOpts): Promise<AuthRoleDeleteResponse> {
    return this.conn.unary(Auth.roleDelete, { role }, call);
  }
  /** Grants `permType` on a key or range (`prefix`/`fromKey`/`rangeEnd` as for `get`). */
  roleGrantPermission(
    name: string,
    permType: Permission_Type,
    key: Bytes,
    scope: RangeScope = {},
    call?: CallOpts,
  ): Promise<AuthRoleGrantPermissionResponse> {
    const k = toBytes(key);
    return this.conn.unary(
      Auth.roleGrantPermission,
      { name, perm: { permType, key: k, rangeEnd: rangeEndFor(k, scope) } },
      call,
    );
  }
  roleRevokePermission(
    role: string,
    key: Bytes,
    scope: RangeScope = {},
    call?: CallOpts,
  ): Promise<AuthRoleRevokePermissionResponse> {
    const k = toBytes(key);
    return this.conn.unary(
      Auth.roleRevokePermission,
      { role, key: k, rangeEnd: rangeEndFor(k, scope) },
      call,
    );
  }

  // ---- Lock / Election (etcd's v3lock and v3election services) ----

  /** Acquires the named lock, held while `lease` lives; resolves with the ownership key. */
  lock(name: Bytes, lease: Id, call?: CallOpts): Promise<Exact<LockResponse>> {
    return this.conn.unary(Lock.lock, { name: toBytes(name), lease }, call);
  }
  /** Releases a lock by its ownership key. */
  unlock(key: Uint8Array, call?: CallOpts): Promise<Exact<UnlockResponse>> {
    return this.conn.unary(Lock.unlock, { key }, call);
  }
  /** Waits to become leader of `name`, announcing `value`. */
  campaign(name: Bytes, lease: Id, value: Bytes, call?: CallOpts): Promise<Exact<CampaignResponse>> {
    return this.conn.unary(Election.campaign, { name: toBytes(name), lease, value: toBytes(value) }, call);
  }
  /** Updates the leader's value. */
  proclaim(leader: ExactLeaderKey, value: Bytes, call?: CallOpts): Promise<Exact<ProclaimResponse>> {
    return this.conn.unary(Election.proclaim, { leader, value: toBytes(value) }, call);
  }
  /** Current leader of an election. */
  leader(name: Bytes, call?: CallOpts): Promise<Exact<LeaderResponse>> {
    return this.conn.unary(Election.leader, { name: toBytes(name) }, call);
  }
  /** Streams leader changes of an election. */
  async observe(name: Bytes, call?: CallOpts): Promise<AsyncIterable<Exact<LeaderResponse>>> {
    return typedStream(await this.conn.serverStream(Election.observe, { name: toBytes(name) }, call));
  }
  /** Gives up leadership. */
  resign(leader: ExactLeaderKey, call?: CallOpts): Promise<Exact<ResignResponse>> {
    return this.conn.unary(Election.resign, { leader }, call);
  }
}
