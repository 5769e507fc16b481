/**
 * etcd's `simple` tokens: "<16 random letters>.<raft index>", kept in a member-local map with a TTL
 * that every successful lookup renews (etcd's simpleTokenTTLKeeper). The random prefix comes from the
 * proposer so all members store the same token. Expiry is checked lazily against the injected clock
 * and swept on assign, so there is no timer to stop.
 */
import { randomInt } from 'node:crypto';
import type { AssignContext, TokenInfo, TokenProvider } from './provider.js';

/** etcd's default --auth-token-ttl (seconds). */
export const DEFAULT_SIMPLE_TOKEN_TTL_S = 300;
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const PREFIX_LEN = 16;
const SWEEP_EVERY = 64;

/** Options of {@link SimpleTokenProvider}. */
export interface SimpleTokenOptions {
  /** Idle lifetime of a token in seconds (default 300). */
  ttlSeconds?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

interface Entry {
  username: string;
  expiresAt: number;
}

/** The `simple` token provider. */
export class SimpleTokenProvider implements TokenProvider {
  readonly kind = 'simple' as const;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly tokens = new Map<string, Entry>();
  private enabled = false;
  private assigns = 0;

  constructor(opts: SimpleTokenOptions = {}) {
    this.ttlMs = (opts.ttlSeconds ?? DEFAULT_SIMPLE_TOKEN_TTL_S) * 1000;
    this.now = opts.now ?? Date.now;
  }

  enable(): void {
    this.enabled = true;
  }

  disable(): void {
    this.enabled = false;
    this.tokens.clear();
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < PREFIX_LEN; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  assign(username: string, _revision: number, ctx: AssignContext): string {
    const token = `${ctx.simpleToken}.${ctx.index}`;
    if (!this.enabled) return token;
    if (++this.assigns % SWEEP_EVERY === 0) this.sweep();
    this.tokens.set(token, { username, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  info(token: string, currentRevision: number): TokenInfo | undefined {
    const e = this.tokens.get(token);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.expiresAt) {
      this.tokens.delete(token);
      return undefined;
    }
    e.expiresAt = now + this.ttlMs; // each use renews the TTL, as in etcd
    return { username: e.username, revision: currentRevision };
  }

  invalidateUser(username: string): void {
    for (const [t, e] of this.tokens) if (e.username === username) this.tokens.delete(t);
  }

  /** Live tokens (tests, metrics). */
  get size(): number {
    return this.tokens.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [t, e] of this.tokens) if (now >= e.expiresAt) this.tokens.delete(t);
  }
}
