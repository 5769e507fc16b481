/**
 * Every unary RPC as `async (request) => response`, keyed by `<service>/<methodKey>` (e.g.
 * `etcdserverpb.KV/range`), so the gRPC server and the JSON gateway share one implementation.
 */
import type { ServerConfig } from '../config/parse.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { AUTH_UNIMPLEMENTED, AuthApi } from './auth.js';
import { ClusterApi } from './cluster.js';
import { KvApi } from './kv.js';
import { LeaseApi } from './lease.js';
import { MaintenanceApi } from './maintenance.js';

// biome-ignore lint/suspicious/noExplicitAny: requests arrive decoded by the generated codecs per method
export type UnaryHandler = (req: any) => Promise<unknown>;

/** The API objects plus the unary handler table. */
export class Handlers {
  readonly kv: KvApi;
  readonly lease: LeaseApi;
  readonly cluster: ClusterApi;
  readonly maintenance: MaintenanceApi;
  readonly auth: AuthApi;
  readonly unary = new Map<string, UnaryHandler>();

  constructor(
    readonly etcd: EtcdServer,
    cfg: ServerConfig,
  ) {
    this.kv = new KvApi(etcd, cfg.maxTxnOps);
    this.lease = new LeaseApi(etcd);
    this.cluster = new ClusterApi(etcd, cfg.strictReconfigCheck);
    this.maintenance = new MaintenanceApi(etcd);
    this.auth = new AuthApi(etcd);
    const kv = this.kv;
    const add = (service: string, method: string, fn: UnaryHandler) =>
      this.unary.set(`${service}/${method}`, fn);
    add('etcdserverpb.KV', 'range', (r) => kv.range(r));
    add('etcdserverpb.KV', 'put', (r) => kv.put(r));
    add('etcdserverpb.KV', 'deleteRange', (r) => kv.deleteRange(r));
    add('etcdserverpb.KV', 'txn', (r) => kv.txn(r));
    add('etcdserverpb.KV', 'compact', (r) => kv.compact(r));
    add('etcdserverpb.Lease', 'leaseGrant', (r) => this.lease.grant(r));
    add('etcdserverpb.Lease', 'leaseRevoke', (r) => this.lease.revoke(r));
    add('etcdserverpb.Lease', 'leaseTimeToLive', (r) => this.lease.timeToLive(r));
    add('etcdserverpb.Lease', 'leaseLeases', () => this.lease.leases());
    add('etcdserverpb.Cluster', 'memberAdd', (r) => this.cluster.memberAdd(r));
    add('etcdserverpb.Cluster', 'memberRemove', (r) => this.cluster.memberRemove(r));
    add('etcdserverpb.Cluster', 'memberUpdate', (r) => this.cluster.memberUpdate(r));
    add('etcdserverpb.Cluster', 'memberList', () => this.cluster.memberList());
    add('etcdserverpb.Cluster', 'memberPromote', (r) => this.cluster.memberPromote(r));
    const m = this.maintenance;
    add('etcdserverpb.Maintenance', 'alarm', (r) => m.alarm(r));
    add('etcdserverpb.Maintenance', 'status', () => m.status());
    add('etcdserverpb.Maintenance', 'defragment', () => m.defragment());
    add('etcdserverpb.Maintenance', 'hash', () => m.hash());
    add('etcdserverpb.Maintenance', 'hashKV', (r) => m.hashKV(r));
    add('etcdserverpb.Maintenance', 'moveLeader', (r) => m.moveLeader(r));
    add('etcdserverpb.Auth', 'authStatus', () => this.auth.authStatus());
    add('etcdserverpb.Auth', 'authenticate', () => this.auth.authenticate());
    add('etcdserverpb.Auth', 'authDisable', () => this.auth.authDisable());
    for (const method of AUTH_UNIMPLEMENTED)
      add('etcdserverpb.Auth', method, () => this.auth.unimplemented(method));
  }
}
