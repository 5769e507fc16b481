/**
 * Auth token providers (etcd's auth.TokenProvider): `simple` (random, server-side state, TTL) and `jwt`
 * (signed, stateless). `assign` runs in the apply path of an Authenticate entry on every member.
 */

/** Who a token stands for, and the auth revision the request is checked against. */
export interface TokenInfo {
  username: string;
  revision: number;
}

/** Extra inputs of {@link TokenProvider.assign}, fixed by the proposer so every member agrees. */
export interface AssignContext {
  /** Raft index of the Authenticate entry. */
  index: number;
  /** The proposer's random token prefix (InternalAuthenticateRequest.simple_token). */
  simpleToken: string;
}

/** A source of auth tokens. */
export interface TokenProvider {
  /** 'simple' or 'jwt'. */
  readonly kind: 'simple' | 'jwt';
  /** Called when auth becomes enabled (also on open when it is). */
  enable(): void;
  /** Called when auth is disabled: every outstanding token becomes invalid. */
  disable(): void;
  /** The random part the proposer puts in InternalAuthenticateRequest.simple_token ('' for jwt). */
  genTokenPrefix(): string;
  /** Issues the token for a successful Authenticate. */
  assign(username: string, revision: number, ctx: AssignContext): string;
  /**
   * Who `token` belongs to, or undefined if it is unknown, expired or forged. `currentRevision` is the
   * auth store's revision now: simple tokens carry none and take it (as etcd does); JWTs carry their own.
   */
  info(token: string, currentRevision: number): TokenInfo | undefined;
  /** Drops the user's tokens (user deleted or password changed; meaningful for simple tokens). */
  invalidateUser(username: string): void;
}
