/**
 * Every unary RPC as `async (request) => response`, keyed by `<service>/<methodKey>` (e.g.
 * `etcdserverpb.KV/range`), so the gRPC server and the JSON gateway share one implementation.
 */
import type { ServerConfig } from '../config/parse.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { AuthApi } from './auth.js';
import { ClusterApi } from './cluster.js';
import { type CallContext, IdentityResolver } from './identity.js';
import { KvApi } from './kv.js';
import { LeaseApi } from './lease.js';
import { MaintenanceApi } from './maintenance.js';

// biome-ignore lint/suspicious/noExplicitAny: requests arrive decoded by the generated codecs per method
export type UnaryHandler = (req: any, ctx: CallContext) => Promise<unknown>;

/** The API objects plus the unary handler table. */
export class Handlers {
  readonly kv: KvApi;
  readonly lease: LeaseApi;
  readonly cluster: ClusterApi;
  readonly maintenance: MaintenanceApi;
  readonly auth: AuthApi;
  /** Resolves each call's identity (token or certificate CN) against the auth store. */
  readonly identity: IdentityResolver;
  readonly unary = new Map<string, UnaryHandler>();

  constructor(
    readonly etcd: EtcdServer,
    cfg: ServerConfig,
  ) {
    this.kv = new KvApi(etcd, cfg.maxTxnOps);
    this.lease = new LeaseApi(etcd);
    this.cluster = new ClusterApi(etcd, cfg.strictReconfigCheck);
    this.maintenance = new MaintenanceApi(etcd);
    this.auth = new AuthApi(etcd, cfg.bcryptCost);
    this.identity = new IdentityResolver(etcd.auth, cfg.clientTls.clientCertAuth);
    const kv = this.kv;
    const add = (service: string, method: string, fn: UnaryHandler) =>
      this.unary.set(`${service}/${method}`, fn);
    add('etcdserverpb.KV', 'range', (r, c) => kv.range(r, c));
    add('etcdserverpb.KV', 'put', (r, c) => kv.put(r, c));
    add('etcdserverpb.KV', 'deleteRange', (r, c) => kv.deleteRange(r, c));
    add('etcdserverpb.KV', 'txn', (r, c) => kv.txn(r, c));
    add('etcdserverpb.KV', 'compact', (r, c) => kv.compact(r, c));
    add('etcdserverpb.Lease', 'leaseGrant', (r, c) => this.lease.grant(r, c));
    add('etcdserverpb.Lease', 'leaseRevoke', (r, c) => this.lease.revoke(r, c));
    add('etcdserverpb.Lease', 'leaseTimeToLive', (r) => this.lease.timeToLive(r));
    add('etcdserverpb.Lease', 'leaseLeases', () => this.lease.leases());
    add('etcdserverpb.Cluster', 'memberAdd', (r, c) => this.cluster.memberAdd(r, c));
    add('etcdserverpb.Cluster', 'memberRemove', (r, c) => this.cluster.memberRemove(r, c));
    add('etcdserverpb.Cluster', 'memberUpdate', (r, c) => this.cluster.memberUpdate(r, c));
    add('etcdserverpb.Cluster', 'memberList', () => this.cluster.memberList());
    add('etcdserverpb.Cluster', 'memberPromote', (r, c) => this.cluster.memberPromote(r, c));
    const m = this.maintenance;
    add('etcdserverpb.Maintenance', 'alarm', (r) => m.alarm(r));
    add('etcdserverpb.Maintenance', 'status', () => m.status());
    add('etcdserverpb.Maintenance', 'defragment', (_r, c) => m.defragment(c));
    add('etcdserverpb.Maintenance', 'hash', (_r, c) => m.hash(c));
    add('etcdserverpb.Maintenance', 'hashKV', (r, c) => m.hashKV(r, c));
    add('etcdserverpb.Maintenance', 'moveLeader', (r) => m.moveLeader(r));
    const a = this.auth;
    add('etcdserverpb.Auth', 'authEnable', (r, c) => a.authEnable(r, c));
    add('etcdserverpb.Auth', 'authDisable', (r, c) => a.authDisable(r, c));
    add('etcdserverpb.Auth', 'authStatus', (r, c) => a.authStatus(r, c));
    add('etcdserverpb.Auth', 'authenticate', (r, c) => a.authenticate(r, c));
    add('etcdserverpb.Auth', 'userAdd', (r, c) => a.userAdd(r, c));
    add('etcdserverpb.Auth', 'userGet', (r, c) => a.userGet(r, c));
    add('etcdserverpb.Auth', 'userList', (r, c) => a.userList(r, c));
    add('etcdserverpb.Auth', 'userDelete', (r, c) => a.userDelete(r, c));
    add('etcdserverpb.Auth', 'userChangePassword', (r, c) => a.userChangePassword(r, c));
    add('etcdserverpb.Auth', 'userGrantRole', (r, c) => a.userGrantRole(r, c));
    add('etcdserverpb.Auth', 'userRevokeRole', (r, c) => a.userRevokeRole(r, c));
    add('etcdserverpb.Auth', 'roleAdd', (r, c) => a.roleAdd(r, c));
    add('etcdserverpb.Auth', 'roleGet', (r, c) => a.roleGet(r, c));
    add('etcdserverpb.Auth', 'roleList', (r, c) => a.roleList(r, c));
    add('etcdserverpb.Auth', 'roleDelete', (r, c) => a.roleDelete(r, c));
    add('etcdserverpb.Auth', 'roleGrantPermission', (r, c) => a.roleGrantPermission(r, c));
    add('etcdserverpb.Auth', 'roleRevokePermission', (r, c) => a.roleRevokePermission(r, c));
  }
}
