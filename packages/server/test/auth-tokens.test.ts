/**
 * Tokens (simple and JWT with real keys from node:crypto), token expiry on an injected clock,
 * `--auth-token` parsing, the Authenticate rate limiter and bcrypt hashing.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MvccStore, openBackend } from '@kv/mvcc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthOldRevisionError,
  AuthRateLimitedError,
  AuthRateLimiter,
  AuthStore,
  checkRange,
  createTokenProvider,
  DEFAULT_BCRYPT_COST,
  hashCost,
  hashPassword,
  InvalidAuthTokenError,
  JWT_SIGN_METHODS,
  JwtConfigError,
  type JwtSignMethod,
  JwtTokenProvider,
  PermType,
  parseAuthTokenSpec,
  parseGoDuration,
  SimpleTokenProvider,
  verifyPassword,
} from '../src/auth/index.js';

/** A settable clock. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const ctx = (index: number) => ({ index, simpleToken: 'abcdefghijklmnop' });

describe('simple tokens', () => {
  it('are "<prefix>.<index>", expire after the TTL of inactivity and renew on use', () => {
    const c = clock();
    const p = new SimpleTokenProvider({ ttlSeconds: 300, now: c.now });
    p.enable();
    expect(p.genTokenPrefix()).toMatch(/^[a-zA-Z]{16}$/);
    expect(p.genTokenPrefix()).not.toBe(p.genTokenPrefix());
    const t = p.assign('alice', 5, ctx(42));
    expect(t).toBe('abcdefghijklmnop.42');
    c.advance(299_000);
    expect(p.info(t, 9)).toEqual({ username: 'alice', revision: 9 }); // current revision, as etcd
    c.advance(299_000); // renewed by the lookup above
    expect(p.info(t, 9)?.username).toBe('alice');
    c.advance(300_000);
    expect(p.info(t, 9)).toBeUndefined();
    expect(p.size).toBe(0);
  });

  it('are dropped per user and all at once on disable', () => {
    const p = new SimpleTokenProvider();
    p.enable();
    const a = p.assign('a', 1, ctx(1));
    const b = p.assign('b', 1, ctx(2));
    p.invalidateUser('a');
    expect(p.info(a, 1)).toBeUndefined();
    expect(p.info(b, 1)?.username).toBe('b');
    p.disable();
    expect(p.info(b, 1)).toBeUndefined();
  });
});

describe('JWT tokens', () => {
  const keys: Record<
    string,
    { privateKey: import('node:crypto').KeyObject; publicKey: import('node:crypto').KeyObject }
  > = {};
  beforeAll(() => {
    keys.rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keys.p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys.p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    keys.p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    keys.ed = generateKeyPairSync('ed25519');
  });
  const keyFor = (m: JwtSignMethod) =>
    m.startsWith('R') || m.startsWith('P')
      ? keys.rsa
      : m === 'ES256'
        ? keys.p256
        : m === 'ES384'
          ? keys.p384
          : m === 'ES512'
            ? keys.p521
            : keys.ed;

  it.each(JWT_SIGN_METHODS.filter((m) => !m.startsWith('HS')))(
    '%s: signs etcd claims, verifies, expires, rejects tampering',
    (m) => {
      const c = clock();
      const k = keyFor(m)!;
      const signer = new JwtTokenProvider({
        signMethod: m,
        privateKey: k.privateKey,
        ttlSeconds: 60,
        now: c.now,
      });
      const verifier = new JwtTokenProvider({ signMethod: m, publicKey: k.publicKey, now: c.now });
      const t = signer.assign('alice', 7, ctx(1));
      const [h, p] = t.split('.') as [string, string, string];
      expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: m, typ: 'JWT' });
      expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({
        exp: Math.floor(c.now() / 1000) + 60,
        revision: 7,
        username: 'alice',
      });
      expect(verifier.info(t, 99)).toEqual({ username: 'alice', revision: 7 }); // the token's revision
      // Tampered claims, another algorithm in the header, garbage.
      const forged = Buffer.from(JSON.stringify({ exp: 9e9, revision: 7, username: 'root' })).toString(
        'base64url',
      );
      expect(verifier.info(`${h}.${forged}.${t.split('.')[2]}`, 0)).toBeUndefined();
      const noneHdr = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      expect(verifier.info(`${noneHdr}.${p}.`, 0)).toBeUndefined();
      expect(verifier.info('not-a-jwt', 0)).toBeUndefined();
      c.advance(60_000);
      expect(verifier.info(t, 0)).toBeUndefined();
      // Verify-only members cannot issue.
      expect(() => verifier.assign('x', 1, ctx(1))).toThrow(JwtConfigError);
    },
  );

  it('HS256 with a shared secret; a different secret does not verify', () => {
    const secret = randomBytes(32);
    const p = new JwtTokenProvider({ signMethod: 'HS256', secret });
    const t = p.assign('bob', 3, ctx(1));
    expect(p.info(t, 0)).toEqual({ username: 'bob', revision: 3 });
    expect(new JwtTokenProvider({ signMethod: 'HS256', secret: randomBytes(32) }).info(t, 0)).toBeUndefined();
  });

  it('a token signed with another key pair is rejected', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const t = new JwtTokenProvider({ signMethod: 'ES256', privateKey: other.privateKey }).assign(
      'a',
      1,
      ctx(1),
    );
    expect(
      new JwtTokenProvider({ signMethod: 'ES256', publicKey: keys.p256!.publicKey }).info(t, 0),
    ).toBeUndefined();
  });

  describe('--auth-token parsing with key files', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kv-jwt-'));
      await writeFile(join(dir, 'priv.pem'), keys.rsa!.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      await writeFile(join(dir, 'pub.pem'), keys.rsa!.publicKey.export({ type: 'spki', format: 'pem' }));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("builds providers from etcd's flag syntax", () => {
      expect(parseAuthTokenSpec('simple')).toEqual({ kind: 'simple' });
      const spec = `jwt,pub-key=${join(dir, 'pub.pem')},priv-key=${join(dir, 'priv.pem')},sign-method=RS256,ttl=5m`;
      expect(parseAuthTokenSpec(spec)).toMatchObject({ kind: 'jwt', signMethod: 'RS256', ttlSeconds: 300 });
      const c = clock();
      const p = createTokenProvider(spec, { now: c.now });
      expect(p.kind).toBe('jwt');
      const t = p.assign('root', 2, ctx(1));
      expect(p.info(t, 0)).toEqual({ username: 'root', revision: 2 });
      c.advance(300_000);
      expect(p.info(t, 0)).toBeUndefined();
      const verifyOnly = createTokenProvider(`jwt,pub-key=${join(dir, 'pub.pem')},sign-method=RS256`);
      expect(verifyOnly.info(createTokenProvider(spec).assign('x', 1, ctx(1)), 0)?.username).toBe('x');
      expect(createTokenProvider('simple', { simpleTtlSeconds: 1 }).kind).toBe('simple');
    });

    it('rejects malformed values', () => {
      expect(() => parseAuthTokenSpec('opaque')).toThrow(JwtConfigError);
      expect(() => parseAuthTokenSpec('jwt,pub-key=x')).toThrow('sign-method is required');
      expect(() => parseAuthTokenSpec('jwt,sign-method=XX256')).toThrow('unsupported sign-method');
      expect(() => parseAuthTokenSpec('jwt,sign-method=RS256,foo=1')).toThrow('unknown jwt option');
      expect(() => parseAuthTokenSpec('jwt,sign-method=RS256,ttl=5x')).toThrow('invalid duration');
      expect(parseGoDuration('1h30m')).toBe(5400);
      expect(parseGoDuration('1.5s')).toBe(1.5);
      expect(parseGoDuration('250ms')).toBe(0.25);
    });
  });

  it('in the auth store: a JWT from before a permission change gets "revision of auth store is old"', async () => {
    const mvcc = await MvccStore.open(await openBackend({ engine: 'memory' }));
    try {
      const k = keys.p256!;
      const auth = await AuthStore.open(mvcc, {
        tokenProvider: new JwtTokenProvider({
          signMethod: 'ES256',
          privateKey: k.privateKey,
          publicKey: k.publicKey,
        }),
      });
      let i = 0;
      const ap = (r: Parameters<AuthStore['apply']>[0]) =>
        auth.apply(r, { index: ++i, authInfo: { username: 'root', revision: auth.revision() } });
      ap({ authUserAdd: { name: 'root', hashedPassword: await hashPassword('pw', 4) } });
      ap({ authUserGrantRole: { user: 'root', role: 'root' } });
      ap({ authRoleAdd: { name: 'r' } });
      ap({
        authRoleGrantPermission: { name: 'r', perm: { permType: PermType.READ, key: Buffer.from('k') } },
      });
      ap({ authEnable: {} });
      await auth.checkPassword('root', 'pw');
      const token = ap({ authenticate: { name: 'root', simpleToken: '' } }).token!;
      const info = auth.authInfoFromToken(token)!;
      expect(info).toEqual({ username: 'root', revision: auth.revision() });
      checkRange(auth, info, { key: Buffer.from('k') });
      ap({ authRoleAdd: { name: 'another' } });
      const again = auth.authInfoFromToken(token)!;
      expect(() => checkRange(auth, again, { key: Buffer.from('k') })).toThrow(AuthOldRevisionError);
      expect(() => auth.authInfoFromToken(`${token}x`)).toThrow(InvalidAuthTokenError);
    } finally {
      await mvcc.close();
    }
  });
});

describe('Authenticate rate limiter', () => {
  it('lets a burst through, then refills at the configured rate, per user', () => {
    const c = clock();
    const rl = new AuthRateLimiter({ burst: 3, perSecond: 2, now: c.now });
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([true, true, true, false]);
    expect(rl.take('b')).toBe(true); // other users are unaffected
    c.advance(499);
    expect(rl.take('a')).toBe(false);
    c.advance(1);
    expect(rl.take('a')).toBe(true);
    c.advance(10_000);
    expect([rl.take('a'), rl.take('a'), rl.take('a'), rl.take('a')]).toEqual([true, true, true, false]);
  });

  it('bounds its memory: idle buckets are evicted first', () => {
    const c = clock();
    const rl = new AuthRateLimiter({ burst: 2, perSecond: 1, maxUsers: 100, now: c.now });
    for (let i = 0; i < 1000; i++) rl.take(`u${i}`);
    expect(rl.size).toBeLessThanOrEqual(100);
    rl.take('hot');
    rl.take('hot');
    c.advance(3000);
    for (let i = 0; i < 100; i++) rl.take(`v${i}`);
    expect(rl.size).toBeLessThanOrEqual(100);
  });

  it('stops password guessing in the auth store before bcrypt runs', async () => {
    const mvcc = await MvccStore.open(await openBackend({ engine: 'memory' }));
    try {
      const c = clock();
      const auth = await AuthStore.open(mvcc, { rateLimit: { burst: 5, perSecond: 1, now: c.now } });
      let i = 0;
      const ap = (r: Parameters<AuthStore['apply']>[0]) => auth.apply(r, { index: ++i });
      ap({ authUserAdd: { name: 'root', hashedPassword: await hashPassword('right', 4) } });
      ap({ authUserGrantRole: { user: 'root', role: 'root' } });
      ap({ authEnable: {} });
      const results: string[] = [];
      for (let n = 0; n < 8; n++) {
        try {
          await auth.checkPassword('root', 'guess');
          results.push('ok');
        } catch (e) {
          results.push(e instanceof AuthRateLimitedError ? 'limited' : 'failed');
        }
      }
      expect(results).toEqual([
        'failed',
        'failed',
        'failed',
        'failed',
        'failed',
        'limited',
        'limited',
        'limited',
      ]);
      await expect(auth.checkPassword('root', 'right')).rejects.toMatchObject({
        message: 'etcdserver: too many requests',
        code: 8,
      });
      c.advance(1000);
      expect(await auth.checkPassword('root', 'right')).toBe(auth.revision());
      // Successful attempts give their token back: a script logging in correctly is never limited.
      for (let n = 0; n < 20; n++) await auth.checkPassword('root', 'right');
      await expect(auth.checkPassword('root', 'guess')).rejects.toThrow('authentication failed');
      await expect(auth.checkPassword('root', 'guess')).rejects.toBeInstanceOf(AuthRateLimitedError);
    } finally {
      await mvcc.close();
    }
  });
});

describe('bcrypt', () => {
  it("hashes at etcd's default cost 10 and verifies", async () => {
    expect(DEFAULT_BCRYPT_COST).toBe(10);
    const h = await hashPassword('s3cret');
    expect(hashCost(h)).toBe(10);
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('s3cret!', h)).toBe(false);
    expect(await verifyPassword('s3cret', 'not-a-hash')).toBe(false);
    // Go's bcrypt writes $2a$ hashes; they verify too (a member's hash from etcd 3.5).
    expect(await verifyPassword('s3cret', h.replace(/^\$2b\$/, '$2a$'))).toBe(true);
    await expect(hashPassword('x', 3)).rejects.toThrow(RangeError);
  });
});
