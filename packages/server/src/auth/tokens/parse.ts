/**
 * `--auth-token` parsing and provider construction: `simple` or
 * `jwt,pub-key=<path>,priv-key=<path>,sign-method=<alg>,ttl=<go duration>` like etcd.
 */

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { JWT_SIGN_METHODS, JwtConfigError, type JwtSignMethod, JwtTokenProvider } from './jwt.js';
import type { TokenProvider } from './provider.js';
import { SimpleTokenProvider } from './simple.js';

/** A parsed `--auth-token` value. */
export type AuthTokenSpec =
  | { kind: 'simple' }
  | {
      kind: 'jwt';
      signMethod: JwtSignMethod;
      pubKeyPath?: string;
      privKeyPath?: string;
      ttlSeconds?: number;
    };

const UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** Parses a Go duration ("5m", "1h30m", "300s", "1.5h") into seconds. */
export function parseGoDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (s.length === 0 || pos !== s.length) throw new JwtConfigError(`invalid duration ${JSON.stringify(s)}`);
  return total;
}

/** Parses etcd's `--auth-token` flag value. */
export function parseAuthTokenSpec(value: string): AuthTokenSpec {
  const [kind, ...opts] = value.split(',');
  if (kind === 'simple') return { kind: 'simple' };
  if (kind !== 'jwt') throw new JwtConfigError(`unknown token type ${JSON.stringify(kind)}`);
  const out: { signMethod?: JwtSignMethod; pubKeyPath?: string; privKeyPath?: string; ttlSeconds?: number } =
    {};
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    if (eq < 0) throw new JwtConfigError(`invalid jwt option ${JSON.stringify(opt)}`);
    const k = opt.slice(0, eq);
    const v = opt.slice(eq + 1);
    switch (k) {
      case 'pub-key':
        out.pubKeyPath = v;
        break;
      case 'priv-key':
        out.privKeyPath = v;
        break;
      case 'sign-method':
        if (!(JWT_SIGN_METHODS as readonly string[]).includes(v))
          throw new JwtConfigError(`unsupported sign-method ${v}`);
        out.signMethod = v as JwtSignMethod;
        break;
      case 'ttl':
        out.ttlSeconds = parseGoDuration(v);
        break;
      default:
        throw new JwtConfigError(`unknown jwt option ${JSON.stringify(k)}`);
    }
  }
  if (!out.signMethod) throw new JwtConfigError('jwt: sign-method is required');
  return { kind: 'jwt', signMethod: out.signMethod, ...out };
}

/** Options shared by both providers. */
export interface ProviderOptions {
  /** `--auth-token-ttl` in seconds for simple tokens (default 300). */
  simpleTtlSeconds?: number;
  /** Clock in ms. */
  now?: () => number;
}

/** Builds the provider an `--auth-token` value describes (reads key files for jwt). */
export function createTokenProvider(spec: AuthTokenSpec | string, opts: ProviderOptions = {}): TokenProvider {
  const s = typeof spec === 'string' ? parseAuthTokenSpec(spec) : spec;
  if (s.kind === 'simple')
    return new SimpleTokenProvider({ ttlSeconds: opts.simpleTtlSeconds, now: opts.now });
  const common = { signMethod: s.signMethod, ttlSeconds: s.ttlSeconds, now: opts.now };
  if (s.signMethod.startsWith('HS')) {
    const path = s.privKeyPath ?? s.pubKeyPath;
    if (!path) throw new JwtConfigError('jwt: HS* sign methods need priv-key (the shared secret file)');
    return new JwtTokenProvider({ ...common, secret: readFileSync(path) });
  }
  return new JwtTokenProvider({
    ...common,
    privateKey: s.privKeyPath ? createPrivateKey(readFileSync(s.privKeyPath)) : undefined,
    publicKey: s.pubKeyPath ? createPublicKey(readFileSync(s.pubKeyPath)) : undefined,
  });
}
