/**
 * KvClient: the typed, promise-based facade over every etcd v3 service.
 *
 * Responses are the generated wire types from `@kv/client/api` (complete objects: absent scalars are
 * 0/''/empty), so nothing is lost between what the server says and what the caller sees.
 */
import type { ClientReadableStream } from '@grpc/grpc-js';
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
  AuthService,
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
  type Permission_Type,
  type ProclaimResponse,
  type PutResponse,
  type RangeResponse,
  type ResignResponse,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type UnlockResponse,
} from './api/index.js';
import { type Bytes, toBytes } from './bytes.js';
import { type CallOpts, Connection, type ConnectionOptions } from './connection.js';
import { toKvError } from './errors.js';
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
import { Cluster, Election, type ExactLeaderKey, KV, Lease, Lock, Maintenance } from './methods.js';
import { Watcher, type WatchOptions } from './watch.js';

/** Options of {@link KvClient}. */
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

/** A client for etcd v3 and kv-server. Call {@link KvClient.close} when done. */
export class KvClient {
  /** The underlying connection (endpoints, auth, failover). */
  readonly conn: Connection;

  constructor(options: KvClientOptions) {
    this.conn = new Connection(options);
  }

  /** Closes all channels. Running watchers and keep-alives stop with an error. */
  close(): void {
    this.conn.close();
  }

  // ---- KV ----

  /** Reads a key or range (see {@link GetOptions}). */
  get(key: Bytes, opts?: GetOptions, call?: CallOpts): Promise<Exact<RangeResponse>> {
    return this.conn.unary(KV.range, rangeRequest(key, opts), call);
  }

  /** Alias of {@link KvClient.get}. */
  range(key: Bytes, opts?: GetOptions, call?: CallOpts): Promise<Exact<RangeResponse>> {
    return this.get(key, opts, call);
  }

  /** Value of one key as UTF-8 text, or undefined when absent. */
  async getValue(key: Bytes, call?: CallOpts): Promise<string | undefined> {
    const res = await this.get(key, {}, call);
    const kv = res.kvs[0];
    return kv ? new TextDecoder().decode(kv.value) : undefined;
  }

  /** Writes one key. */
  put(key: Bytes, value: Bytes, opts?: PutOptions, call?: CallOpts): Promise<Exact<PutResponse>> {
    return this.conn.unary(KV.put, putRequest(key, value, opts), call);
  }

  /** Deletes a key or range. */
  delete(key: Bytes, opts?: DeleteOptions, call?: CallOpts): Promise<Exact<DeleteRangeResponse>> {
    return this.conn.unary(KV.deleteRange, deleteRequest(key, opts), call);
  }

  /** Starts a transaction builder (no argument) or sends a complete request object. */
  txn(): TxnBuilder<Exact<TxnResponse>>;
  txn(request: DeepPartial<TxnRequest>, call?: CallOpts): Promise<Exact<TxnResponse>>;
  txn(
    request?: DeepPartial<TxnRequest>,
    call?: CallOpts,
  ): TxnBuilder<Exact<TxnResponse>> | Promise<Exact<TxnResponse>> {
    if (request === undefined) return new TxnBuilder((req) => this.conn.unary(KV.txn, req, call));
    return this.conn.unary(KV.txn, request, call);
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
   * Watches a key or range. Resolves once the server has confirmed the watch; iterate the result
   * (`for await (const res of watcher)`) or listen to its `'response'` events. Stream failures are
   * resumed from the next undelivered revision; compaction past that revision ends the watch with a
   * `CompactedError`.
   */
  watch(key: Bytes, opts?: WatchOptions): Promise<Watcher> {
    return new Watcher(this.conn, key, opts).start();
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
  keepAliveOnce(id: Id): Promise<Exact<LeaseKeepAliveResponse>> {
    return keepAliveOnce(this.conn, id);
  }

  /** Keeps a lease alive until `close()`; emits `'keepalive'` and `'lost'`. */
  async keepAlive(id: Id): Promise<LeaseKeepAlive> {
    const ttl = await this.timeToLive(id);
    return new LeaseKeepAlive(this.conn, id, Math.max(ttl.TTL, 1)).start();
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
  async snapshot(): Promise<AsyncIterable<Exact<SnapshotResponse>>> {
    return typedStream(await this.conn.serverStream(Maintenance.snapshot, {}));
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
    return this.conn.unary(AuthService.authEnable, {}, call);
  }
  authDisable(call?: CallOpts): Promise<AuthDisableResponse> {
    return this.conn.unary(AuthService.authDisable, {}, call);
  }
  /** Whether auth is enabled (etcd 3.5+ and kv-server; etcd 3.4 answers "unknown method"). */
  authStatus(call?: CallOpts): Promise<AuthStatusResponse> {
    return this.conn.unary(AuthService.authStatus, {}, call);
  }
  userAdd(
    name: string,
    password: string,
    opts: { noPassword?: boolean } = {},
    call?: CallOpts,
  ): Promise<AuthUserAddResponse> {
    return this.conn.unary(
      AuthService.userAdd,
      { name, password, options: { noPassword: opts.noPassword ?? false } },
      call,
    );
  }
  userGet(name: string, call?: CallOpts): Promise<AuthUserGetResponse> {
    return this.conn.unary(AuthService.userGet, { name }, call);
  }
  userList(call?: CallOpts): Promise<AuthUserListResponse> {
    return this.conn.unary(AuthService.userList, {}, call);
  }
  userDelete(name: string, call?: CallOpts): Promise<AuthUserDeleteResponse> {
    return this.conn.unary(AuthService.userDelete, { name }, call);
  }
  userChangePassword(
    name: string,
    password: string,
    call?: CallOpts,
  ): Promise<AuthUserChangePasswordResponse> {
    return this.conn.unary(AuthService.userChangePassword, { name, password }, call);
  }
  userGrantRole(user: string, role: string, call?: CallOpts): Promise<AuthUserGrantRoleResponse> {
    return this.conn.unary(AuthService.userGrantRole, { user, role }, call);
  }
  userRevokeRole(name: string, role: string, call?: CallOpts): Promise<AuthUserRevokeRoleResponse> {
    return this.conn.unary(AuthService.userRevokeRole, { name, role }, call);
  }
  roleAdd(name: string, call?: CallOpts): Promise<AuthRoleAddResponse> {
    return this.conn.unary(AuthService.roleAdd, { name }, call);
  }
  roleGet(role: string, call?: CallOpts): Promise<AuthRoleGetResponse> {
    return this.conn.unary(AuthService.roleGet, { role }, call);
  }
  roleList(call?: CallOpts): Promise<AuthRoleListResponse> {
    return this.conn.unary(AuthService.roleList, {}, call);
  }
  roleDelete(role: string, call?: CallOpts): Promise<AuthRoleDeleteResponse> {
    return this.conn.unary(AuthService.roleDelete, { role }, call);
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
      AuthService.roleGrantPermission,
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
      AuthService.roleRevokePermission,
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
  async observe(name: Bytes): Promise<AsyncIterable<Exact<LeaderResponse>>> {
    return typedStream(await this.conn.serverStream(Election.observe, { name: toBytes(name) }));
  }
  /** Gives up leadership. */
  resign(leader: ExactLeaderKey, call?: CallOpts): Promise<Exact<ResignResponse>> {
    return this.conn.unary(Election.resign, { leader }, call);
  }
}
