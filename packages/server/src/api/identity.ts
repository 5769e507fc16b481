/**
 * Who a request comes from (etcd's AuthInfoFromCtx + AuthInfoFromTLS): the auth token of the call, or,
 * when the call carries no token and its connection presented a verified client certificate, the
 * certificate's common name. Everything here returns at once while auth is disabled, so the hot path
 * pays one boolean check.
 */
import type * as http from 'node:http';
import type * as tls from 'node:tls';
import type { AuthInfo, AuthStore } from '../auth/store.js';

/** The identity a handler acts for; `authInfo` is undefined while auth is disabled or for anonymous calls. */
export interface CallContext {
  authInfo?: AuthInfo;
  /**
   * The caller's call, when it can go away (a gRPC call the client cancels or whose deadline passes).
   * A proposal still waiting for a leader is abandoned once its caller is gone, as etcd's request
   * context does: it must not be committed after the client was told it failed.
   */
  caller?: { readonly cancelled: boolean };
}

/** The context of calls while auth is disabled (shared: it holds nothing). */
export const ANONYMOUS: CallContext = Object.freeze({});

/** Request metadata by key (the gRPC server's CallMetadata; grpc-js's Metadata has the same `get`). */
export interface MetadataLike {
  get(key: string): (string | Buffer)[];
}

/** The parts of a gRPC call the resolver reads (unary, streaming and duplex calls all have them). */
export interface GrpcCallLike {
  metadata: MetadataLike;
  /** True once the client cancelled the call (or its deadline passed) or the connection went away. */
  readonly cancelled?: boolean;
  getAuthContext?: () => { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } | undefined;
}

/** Resolves tokens and certificate names against the auth store. */
export class IdentityResolver {
  /**
   * @param useCertCommonName etcd's `ClientCertAuthEnabled` (`--client-cert-auth`): only then is a
   *   verified certificate's CN an identity (a `--trusted-ca-file` alone verifies but does not log in).
   */
  constructor(
    private readonly auth: AuthStore,
    private readonly useCertCommonName = true,
  ) {}

  /** True while auth is enabled (the only check on the hot path). */
  get enabled(): boolean {
    return this.auth.isEnabled();
  }

  /**
   * The identity for a token and/or a verified certificate's common name. A token wins; an invalid or
   * expired token throws `etcdserver: invalid auth token` (UNAUTHENTICATED). Without a token the CN is
   * the user name, checked at the current auth revision (etcd's AuthInfoFromTLS).
   */
  resolve(token?: string, commonName?: string): AuthInfo | undefined {
    if (!this.auth.isEnabled()) return undefined;
    if (token !== undefined && token !== '') return this.auth.authInfoFromToken(token);
    if (commonName && this.useCertCommonName) return { username: commonName, revision: this.auth.revision() };
    return undefined;
  }

  /** The context of one gRPC call (metadata `token`, else the TLS peer certificate's CN). */
  fromGrpcCall(call: GrpcCallLike): CallContext {
    const caller = call.cancelled === undefined ? undefined : (call as { readonly cancelled: boolean });
    if (!this.auth.isEnabled()) return caller ? { caller } : ANONYMOUS;
    return { authInfo: this.resolve(grpcToken(call.metadata), grpcCommonName(call)), caller };
  }

  /** The context of one gateway request (`Authorization` header, else the TLS client certificate's CN). */
  fromHttpRequest(req: http.IncomingMessage): CallContext {
    if (!this.auth.isEnabled()) return ANONYMOUS;
    return { authInfo: this.resolve(httpToken(req), httpCommonName(req)) };
  }
}

/** The `token` metadata value (etcd also accepts `authorization`, which its gateway forwards). */
export function grpcToken(md: MetadataLike): string | undefined {
  const v = md.get('token')[0] ?? md.get('authorization')[0];
  return v === undefined ? undefined : String(v);
}

/** The common name of the call's verified client certificate (undefined without one). */
export function grpcCommonName(call: GrpcCallLike): string | undefined {
  return firstName(call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN);
}

/** etcd's gateway forwards the `Authorization` header verbatim as the token. */
export function httpToken(req: http.IncomingMessage): string | undefined {
  const v = req.headers.authorization;
  return v === undefined || v === '' ? undefined : v;
}

/** The CN of the client certificate when the request came over TLS and the certificate was verified. */
export function httpCommonName(req: http.IncomingMessage): string | undefined {
  const sock = req.socket as Partial<tls.TLSSocket>;
  if (!sock.encrypted || !sock.authorized || typeof sock.getPeerCertificate !== 'function') return undefined;
  return firstName(sock.getPeerCertificate()?.subject?.CN);
}

function firstName(cn: string | string[] | undefined): string | undefined {
  const v = Array.isArray(cn) ? cn[0] : cn;
  return v === undefined || v === '' ? undefined : v;
}
