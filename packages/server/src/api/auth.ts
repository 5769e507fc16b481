/**
 * The Auth service (etcdserverpb.Auth). Every RPC becomes an auth entry proposed through raft, carrying
 * the caller's identity in its header; the auth store applies it on every member (root-only management
 * is checked there). Work that must not run in apply happens here first, on the member that received
 * the call: bcrypt hashing of new passwords and the password check of Authenticate (rate-limited per
 * user), like etcd 3.5.
 */

import type {
  AuthDisableResponse,
  AuthEnableResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  DeepPartial,
  ResponseHeader,
} from '@kv/client/api';
import { hashPassword } from '../auth/password.js';
import type { AuthRequest, AuthResponseBody } from '../auth/store.js';
import { EtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import { Status } from '../transport/grpc/status.js';
import { header } from './context.js';
import type { CallContext } from './identity.js';
import { withIdentity } from './propose.js';

type Resp<T> = DeepPartial<T>;

/** How often Authenticate is retried when the auth state changed between password check and apply. */
const AUTHENTICATE_ATTEMPTS = 5;

/** Handlers of etcdserverpb.Auth. */
export class AuthApi {
  constructor(
    private readonly etcd: EtcdServer,
    private readonly bcryptCost: number,
  ) {}

  /** Proposes one auth request and returns the response body with this member's header. */
  private async propose(
    req: AuthRequest,
    ctx: CallContext,
  ): Promise<AuthResponseBody & { header: ResponseHeader }> {
    const r = await this.etcd.propose(withIdentity(req, ctx), ctx?.caller);
    return { header: header(this.etcd, r.revision), ...(r.response as AuthResponseBody) };
  }

  async authEnable(_req: unknown, ctx: CallContext): Promise<Resp<AuthEnableResponse>> {
    return await this.propose({ authEnable: {} }, ctx);
  }

  async authDisable(_req: unknown, ctx: CallContext): Promise<Resp<AuthDisableResponse>> {
    return await this.propose({ authDisable: {} }, ctx);
  }

  async authStatus(_req: unknown, ctx: CallContext): Promise<Resp<AuthStatusResponse>> {
    const r = await this.propose({ authStatus: {} }, ctx);
    return { header: r.header, enabled: r.enabled ?? false, authRevision: r.authRevision ?? 0 };
  }

  /**
   * Checks the password here (bcrypt, rate-limited per user), then proposes the Authenticate entry
   * with a token prefix chosen here; every member then issues the same token. If the auth state moved
   * on between the check and the apply, the check is repeated (etcd does the same).
   */
  async authenticate(req: AuthenticateRequest, ctx: CallContext): Promise<Resp<AuthenticateResponse>> {
    const auth = this.etcd.auth;
    // etcd 3.4.23 answers a password login of a --no-password user with the auth store's own error
    // (status UNKNOWN); no bcrypt runs, so the rate limiter is not involved.
    if (auth.isEnabled() && auth.getUser(req.name)?.noPassword) {
      throw new EtcdError(
        Status.UNKNOWN,
        'auth: authentication failed, password was given for no password user',
      );
    }
    for (let attempt = 1; ; attempt++) {
      const checkedAt = await auth.checkPassword(req.name, req.password);
      const r = await this.propose(
        { authenticate: { name: req.name, password: '', simpleToken: auth.genTokenPrefix() } },
        ctx,
      );
      if (auth.revision() === checkedAt || attempt >= AUTHENTICATE_ATTEMPTS) {
        return { header: r.header, token: r.token ?? '' };
      }
    }
  }

  async userAdd(req: AuthUserAddRequest, ctx: CallContext): Promise<Resp<unknown>> {
    const noPassword = req.options?.noPassword ?? false;
    const hashedPassword =
      noPassword || req.name === '' ? '' : await hashPassword(req.password, this.bcryptCost);
    return await this.propose(
      { authUserAdd: { name: req.name, password: '', hashedPassword, options: req.options } },
      ctx,
    );
  }

  async userChangePassword(req: AuthUserChangePasswordRequest, ctx: CallContext): Promise<Resp<unknown>> {
    const hashedPassword = await hashPassword(req.password, this.bcryptCost);
    return await this.propose(
      { authUserChangePassword: { name: req.name, password: '', hashedPassword } },
      ctx,
    );
  }

  async userGet(req: AuthUserGetRequest, ctx: CallContext): Promise<Resp<AuthUserGetResponse>> {
    const r = await this.propose({ authUserGet: req }, ctx);
    return { header: r.header, roles: r.roles ?? [] };
  }

  async userList(_req: unknown, ctx: CallContext): Promise<Resp<AuthUserListResponse>> {
    const r = await this.propose({ authUserList: {} }, ctx);
    return { header: r.header, users: r.users ?? [] };
  }

  async userDelete(req: AuthUserDeleteRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authUserDelete: req }, ctx);
  }

  async userGrantRole(req: AuthUserGrantRoleRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authUserGrantRole: req }, ctx);
  }

  async userRevokeRole(req: AuthUserRevokeRoleRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authUserRevokeRole: req }, ctx);
  }

  async roleAdd(req: AuthRoleAddRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authRoleAdd: req }, ctx);
  }

  async roleGet(req: AuthRoleGetRequest, ctx: CallContext): Promise<Resp<AuthRoleGetResponse>> {
    const r = await this.propose({ authRoleGet: req }, ctx);
    return { header: r.header, perm: r.perm ?? [] };
  }

  async roleList(_req: unknown, ctx: CallContext): Promise<Resp<AuthRoleListResponse>> {
    const r = await this.propose({ authRoleList: {} }, ctx);
    return { header: r.header, roles: r.roles ?? [] };
  }

  async roleDelete(req: AuthRoleDeleteRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authRoleDelete: req }, ctx);
  }

  async roleGrantPermission(req: AuthRoleGrantPermissionRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authRoleGrantPermission: req }, ctx);
  }

  async roleRevokePermission(req: AuthRoleRevokePermissionRequest, ctx: CallContext): Promise<Resp<unknown>> {
    return await this.propose({ authRoleRevokePermission: req }, ctx);
  }
}
