/**
 * etcd's `jwt` tokens, signed and verified with node:crypto only. Claims are etcd's: `username`,
 * `revision` (the auth revision at Authenticate time; requests carrying an older one fail with "revision
 * of auth store is old" and clients re-authenticate) and `exp` (seconds since the epoch).
 */
import {
  constants,
  createHmac,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import type { AssignContext, TokenInfo, TokenProvider } from './provider.js';

/** Algorithms accepted in `sign-method`. */
export const JWT_SIGN_METHODS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
] as const;
export type JwtSignMethod = (typeof JWT_SIGN_METHODS)[number];

/** etcd's default JWT lifetime (5 minutes). */
export const DEFAULT_JWT_TTL_S = 300;

/** Options of {@link JwtTokenProvider}. */
export interface JwtOptions {
  signMethod: JwtSignMethod;
  /** Signing key (asymmetric methods). Without it the provider only verifies. */
  privateKey?: KeyObject;
  /** Verification key (asymmetric methods); derived from privateKey when absent. */
  publicKey?: KeyObject;
  /** Shared secret for HS* methods. */
  secret?: Uint8Array;
  /** Token lifetime in seconds (default 300). */
  ttlSeconds?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

/** Raised when a JWT provider is misconfigured (bad method, missing key). */
export class JwtConfigError extends Error {
  override readonly name = 'JwtConfigError';
}

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');

function hashOf(method: JwtSignMethod): string {
  return `sha${method.slice(2)}`;
}

/** The `jwt` token provider. */
export class JwtTokenProvider implements TokenProvider {
  readonly kind = 'jwt' as const;
  private readonly method: JwtSignMethod;
  private readonly privateKey?: KeyObject;
  private readonly publicKey?: KeyObject;
  private readonly secret?: Uint8Array;
  private readonly ttlS: number;
  private readonly now: () => number;
  private readonly header: string;

  constructor(opts: JwtOptions) {
    if (!JWT_SIGN_METHODS.includes(opts.signMethod))
      throw new JwtConfigError(`jwt: unsupported sign-method ${opts.signMethod}`);
    this.method = opts.signMethod;
    this.ttlS = opts.ttlSeconds ?? DEFAULT_JWT_TTL_S;
    this.now = opts.now ?? Date.now;
    if (this.method.startsWith('HS')) {
      if (!opts.secret || opts.secret.length === 0)
        throw new JwtConfigError('jwt: HS* sign methods need a secret');
      this.secret = opts.secret;
    } else {
      this.privateKey = opts.privateKey;
      this.publicKey = opts.publicKey;
      if (!this.publicKey && !this.privateKey) throw new JwtConfigError('jwt: need pub-key or priv-key');
      if (!this.publicKey && this.privateKey) {
        // A private KeyObject can stand in for verification: node derives the public half.
        this.publicKey = this.privateKey;
      }
    }
    this.header = b64url(JSON.stringify({ alg: this.method, typ: 'JWT' }));
  }

  enable(): void {}

  disable(): void {}

  genTokenPrefix(): string {
    return '';
  }

  assign(username: string, revision: number, _ctx: AssignContext): string {
    const exp = Math.floor(this.now() / 1000) + this.ttlS;
    const payload = b64url(JSON.stringify({ exp, revision, username }));
    const input = `${this.header}.${payload}`;
    return `${input}.${b64url(this.signature(input))}`;
  }

  info(token: string, _currentRevision: number): TokenInfo | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: unknown };
    let claims: { username?: unknown; revision?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    // The algorithm is ours, never the token's choice (no "alg: none" or HS/RS confusion).
    if (header.alg !== this.method) return undefined;
    if (!this.verifySignature(`${h}.${p}`, Buffer.from(s, 'base64url'))) return undefined;
    if (typeof claims.username !== 'string' || typeof claims.revision !== 'number') return undefined;
    if (typeof claims.exp === 'number' && this.now() / 1000 >= claims.exp) return undefined;
    return { username: claims.username, revision: claims.revision };
  }

  invalidateUser(_username: string): void {}

  private signature(input: string): Uint8Array {
    const data = Buffer.from(input);
    const m = this.method;
    if (m.startsWith('HS')) return createHmac(hashOf(m), this.secret!).update(data).digest();
    if (!this.privateKey)
      throw new JwtConfigError('jwt: no priv-key configured; this member can only verify tokens');
    if (m === 'EdDSA') return cryptoSign(null, data, this.privateKey);
    return cryptoSign(hashOf(m), data, this.keyOptions(this.privateKey));
  }

  private verifySignature(input: string, sig: Uint8Array): boolean {
    const data = Buffer.from(input);
    const m = this.method;
    try {
      if (m.startsWith('HS')) {
        const want = createHmac(hashOf(m), this.secret!).update(data).digest();
        return want.length === sig.length && timingSafeEqual(want, sig);
      }
      if (m === 'EdDSA') return cryptoVerify(null, data, this.publicKey!, sig);
      return cryptoVerify(hashOf(m), data, this.keyOptions(this.publicKey!), sig);
    } catch {
      return false;
    }
  }

  /** RS*: PKCS#1 v1.5; PS*: PSS with salt = digest length (jwt-go); ES*: raw r||s (JWS). */
  private keyOptions(key: KeyObject) {
    const m = this.method;
    if (m.startsWith('PS')) {
      return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
    }
    if (m.startsWith('ES')) return { key, dsaEncoding: 'ieee-p1363' as const };
    return { key };
  }
}
