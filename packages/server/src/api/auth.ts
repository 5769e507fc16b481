/**
 * The Auth service. Authentication and RBAC arrive in a later issue; until then kv-server behaves like
 * an etcd cluster whose auth is disabled where that is meaningful (AuthStatus, Authenticate) and
 * answers the management calls with UNIMPLEMENTED instead of failing the connection.
 */
import { status as Status } from '@grpc/grpc-js';
import type { AuthStatusResponse, DeepPartial } from '@kv/client/api';
import { Errors, EtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { header } from './context.js';

/** Methods of etcdserverpb.Auth that are not implemented yet. */
export const AUTH_UNIMPLEMENTED = [
  'authEnable',
  'userAdd',
  'userGet',
  'userList',
  'userDelete',
  'userChangePassword',
  'userGrantRole',
  'userRevokeRole',
  'roleAdd',
  'roleGet',
  'roleList',
  'roleDelete',
  'roleGrantPermission',
  'roleRevokePermission',
] as const;

/** Handlers of etcdserverpb.Auth. */
export class AuthApi {
  constructor(private readonly etcd: EtcdServer) {}

  async authStatus(): Promise<DeepPartial<AuthStatusResponse>> {
    return { header: header(this.etcd), enabled: false, authRevision: 0 };
  }

  /** With auth disabled etcd rejects Authenticate. */
  async authenticate(): Promise<never> {
    throw Errors.authNotEnabled();
  }

  /** Disabling auth that is not enabled is a no-op in etcd. */
  async authDisable(): Promise<{ header: ReturnType<typeof header> }> {
    return { header: header(this.etcd) };
  }

  async unimplemented(method: string): Promise<never> {
    throw new EtcdError(Status.UNIMPLEMENTED, `kv-server: auth method ${method} is not supported yet`);
  }
}
