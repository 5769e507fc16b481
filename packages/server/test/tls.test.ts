/**
 * Client TLS of the embedded server over real loopback TLS: gRPC through grpc-js SSL credentials,
 * the JSON gateway and metrics over HTTPS, client-certificate policies (mutual TLS, wrong CA, CRL,
 * allowed hostname), auto TLS, peer TLS material, and etcd's configuration errors.
 */
import { X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { AuthService, KVService } from '@kv/client/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseArgs } from '../src/config/parse.js';
import { KvServer, type StartedServer, startServer } from '../src/embed.js';
import { Logger } from '../src/log/logger.js';
import { createSelfSignedCert } from '../src/tls/self-cert.js';
import { emptyTlsInfo, loadServerTls } from '../src/tls/tls-info.js';
import { ClientListener } from '../src/transport/cmux.js';
import type { ServerCall } from '../src/transport/grpc/call.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { call } from './helpers.js';
import { generateTestPki, type TestPki } from './tls-certs.js';

// biome-ignore lint/suspicious/noExplicitAny: generic grpc-js client
type Any = any;

let pki: TestPki;
beforeAll(() => {
  pki = generateTestPki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

/** `--cert-file` and `--key-file` of the test PKI's server certificate. */
const serverCertArgs = () => ['--cert-file', pki.server.cert, '--key-file', pki.server.key];

const read = (p: string) => readFileSync(p);

/** A KV client over TLS: trusts `ca` (or skips verification), optionally presents a client cert. */
function kvClient(
  address: string,
  opts: { ca?: string; client?: { cert: string; key: string }; insecureSkipVerify?: boolean },
): Any {
  const creds = grpc.credentials.createSsl(
    opts.ca ? read(opts.ca) : null,
    opts.client ? read(opts.client.key) : null,
    opts.client ? read(opts.client.cert) : null,
    opts.insecureSkipVerify ? { rejectUnauthorized: false } : {},
  );
  const Ctor = grpc.makeGenericClientConstructor(KVService as Any, 'KV');
  return new Ctor(address, creds);
}

/** One HTTPS request; resolves with status and body text. */
function httpsRequest(
  url: string,
  opts: {
    ca?: string;
    client?: { cert: string; key: string };
    body?: string;
    rejectUnauthorized?: boolean;
    /** ALPN protocols to offer (Node's https client offers none by default). */
    alpn?: string[];
  },
): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.body === undefined ? 'GET' : 'POST',
        ca: opts.ca ? read(opts.ca) : undefined,
        cert: opts.client ? read(opts.client.cert) : undefined,
        key: opts.client ? read(opts.client.key) : undefined,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
        ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? null,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The handshake is refused for both gRPC (UNAVAILABLE) and the HTTPS gateway (`reason` in the error). */
async function expectRefused(
  srv: { address: string; endpoint: string },
  creds: Parameters<typeof kvClient>[1],
  reason: RegExp,
): Promise<void> {
  const kv = kvClient(srv.address, creds);
  try {
    await expect(call(kv, 'range', { key: Buffer.from('m') })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
  } finally {
    kv.close();
  }
  await expect(httpsRequest(`${srv.endpoint}/health`, creds)).rejects.toThrow(reason);
}

describe('server certificate only', () => {
  let srv: StartedServer;
  beforeAll(async () => {
    srv = await startServer({
      scheme: 'https',
      args: [...serverCertArgs(), '--listen-metrics-urls', 'https://127.0.0.1:0'],
    });
  });
  afterAll(() => srv?.close());

  it('serves gRPC over TLS to a client that trusts the CA', async () => {
    expect(srv.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const kv = kvClient(srv.address, { ca: pki.ca });
    await call(kv, 'put', { key: Buffer.from('tls-k'), value: Buffer.from('v1') });
    const got = await call(kv, 'range', { key: Buffer.from('tls-k') });
    expect(Buffer.from(got.kvs[0].value).toString()).toBe('v1');
    kv.close();
  });

  it('serves the JSON gateway and /health over HTTPS', async () => {
    // No ALPN (Node's default): the decrypted stream is sniffed like a plaintext connection.
    const r = await httpsRequest(`${srv.endpoint}/v3/kv/range`, {
      ca: pki.ca,
      body: JSON.stringify({ key: b64('tls-k') }),
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).kvs[0].value).toBe(b64('v1'));
    expect(r.alpn).toBe(false);
    // A client offering only http/1.1 gets it (one offering h2 too gets h2, as from etcd: h2-gateway.test.ts).
    const health = await httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, alpn: ['http/1.1'] });
    expect(JSON.parse(health.body)).toEqual({ health: 'true' });
    expect(health.alpn).toBe('http/1.1');
  });

  it('serves metrics over HTTPS on an https:// --listen-metrics-urls', async () => {
    const url = srv.server.metricsUrls[0]!;
    expect(url).toMatch(/^https:/);
    const r = await httpsRequest(`${url}/metrics`, { ca: pki.ca });
    expect(r.status).toBe(200);
    expect(r.body).toContain('etcd_server_has_leader 1');
  });

  it('refuses a client that does not trust the server certificate', async () => {
    const kv = kvClient(srv.address, {}); // system roots only
    await expect(call(kv, 'range', { key: Buffer.from('tls-k') })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    kv.close();
    await expect(httpsRequest(`${srv.endpoint}/health`, {})).rejects.toThrow(
      /self.signed|unable to verify|local issuer/i,
    );
  });

  it('does not speak plaintext gRPC on the TLS port', async () => {
    const Ctor = grpc.makeGenericClientConstructor(KVService as Any, 'KV');
    const kv = new Ctor(srv.address, grpc.credentials.createInsecure()) as Any;
    await expect(call(kv, 'range', { key: Buffer.from('tls-k') })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    kv.close();
  });
});

describe('client certificate authentication', () => {
  let srv: StartedServer;
  beforeAll(async () => {
    srv = await startServer({
      scheme: 'https',
      args: [
        ...serverCertArgs(),
        '--trusted-ca-file',
        pki.ca,
        '--client-cert-auth',
        '--client-crl-file',
        pki.crl,
      ],
    });
  });
  afterAll(() => srv?.close());

  it('accepts a client certificate signed by the trusted CA (gRPC and gateway)', async () => {
    const kv = kvClient(srv.address, { ca: pki.ca, client: pki.alice });
    await call(kv, 'put', { key: Buffer.from('m'), value: Buffer.from('tls') });
    kv.close();
    const r = await httpsRequest(`${srv.endpoint}/v3/kv/range`, {
      ca: pki.ca,
      client: pki.alice,
      body: JSON.stringify({ key: b64('m') }),
    });
    expect(JSON.parse(r.body).kvs[0].value).toBe(b64('tls'));
  });

  it('refuses a client without a certificate', async () => {
    await expectRefused(srv, { ca: pki.ca }, /certificate required|socket hang up|ECONNRESET/i);
  });

  it('refuses a client certificate from a CA it does not trust', async () => {
    await expectRefused(srv, { ca: pki.ca, client: pki.wrongCa }, /unknown ca|socket hang up|ECONNRESET/i);
  });

  it('refuses a revoked client certificate listed in --client-crl-file', async () => {
    await expectRefused(srv, { ca: pki.ca, client: pki.revoked }, /revoked|socket hang up|ECONNRESET/i);
  });
});

describe('common-name authentication (--client-cert-auth with auth enabled)', () => {
  let srv: StartedServer;
  const clientFor = (def: Any, name: string, address: string, cert?: { cert: string; key: string }) => {
    const Ctor = grpc.makeGenericClientConstructor(def, name);
    const creds = grpc.credentials.createSsl(
      read(pki.ca),
      cert ? read(cert.key) : null,
      cert ? read(cert.cert) : null,
    );
    return new Ctor(address, creds) as Any;
  };
  beforeAll(async () => {
    srv = await startServer({
      scheme: 'https',
      args: [...serverCertArgs(), '--trusted-ca-file', pki.ca, '--client-cert-auth'],
    });
    // Set up users before auth is on (no token needed yet): root, and alice (no password) who may
    // read a/ but not write it.
    const auth = clientFor(AuthService, 'Auth', srv.address, pki.root);
    const kv = clientFor(KVService, 'KV', srv.address, pki.root);
    await call(kv, 'put', { key: Buffer.from('a/x'), value: Buffer.from('1') });
    await call(auth, 'userAdd', { name: 'root', password: 'rootpw' });
    await call(auth, 'userGrantRole', { user: 'root', role: 'root' });
    await call(auth, 'userAdd', { name: 'alice', options: { noPassword: true } });
    await call(auth, 'roleAdd', { name: 'reader' });
    await call(auth, 'roleGrantPermission', {
      name: 'reader',
      perm: { permType: 0, key: Buffer.from('a/'), rangeEnd: Buffer.from('a0') },
    });
    await call(auth, 'userGrantRole', { user: 'alice', role: 'reader' });
    await call(auth, 'authEnable', {});
    auth.close();
    kv.close();
  });
  afterAll(() => srv?.close());

  it('a client certificate with CN=alice acts as user alice without a token (gRPC)', async () => {
    const kv = clientFor(KVService, 'KV', srv.address, pki.alice);
    const got = await call(kv, 'range', { key: Buffer.from('a/x') });
    expect(Buffer.from(got.kvs[0].value).toString()).toBe('1');
    await expect(call(kv, 'put', { key: Buffer.from('a/x'), value: Buffer.from('2') })).rejects.toMatchObject(
      {
        code: grpc.status.PERMISSION_DENIED,
        details: 'etcdserver: permission denied',
      },
    );
    await expect(call(kv, 'range', { key: Buffer.from('b/x') })).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
    });
    kv.close();
  });

  it('CN=root acts as root', async () => {
    const kv = clientFor(KVService, 'KV', srv.address, pki.root);
    await call(kv, 'put', { key: Buffer.from('b/x'), value: Buffer.from('root-wrote') });
    kv.close();
  });

  it("the gateway refuses a certificate with a CN while auth is on (etcd's 400)", async () => {
    const r = await httpsRequest(`${srv.endpoint}/v3/kv/range`, {
      ca: pki.ca,
      client: pki.alice,
      body: JSON.stringify({ key: b64('a/x') }),
    });
    expect(r.status).toBe(400);
    expect(r.body).toBe(
      'CommonName of client sending a request against gateway will be ignored and not used as expected\n',
    );
    // Non-gateway paths are not affected.
    const health = await httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.alice });
    expect(health.status).toBe(200);
  });
});

describe('a trusted CA without --client-cert-auth verifies but does not log in', () => {
  it('requires a client certificate yet ignores its CN for auth (etcd: ClientCertAuthEnabled only)', async () => {
    const srv = await startServer({
      scheme: 'https',
      args: ['--cert-file', pki.server.cert, '--key-file', pki.server.key, '--trusted-ca-file', pki.ca],
    });
    try {
      const Ctor = grpc.makeGenericClientConstructor(AuthService as Any, 'Auth');
      const creds = grpc.credentials.createSsl(read(pki.ca), read(pki.root.key), read(pki.root.cert));
      const auth = new Ctor(srv.address, creds) as Any;
      await call(auth, 'userAdd', { name: 'root', password: 'rootpw' });
      await call(auth, 'userGrantRole', { user: 'root', role: 'root' });
      await call(auth, 'authEnable', {});
      const KvCtor = grpc.makeGenericClientConstructor(KVService as Any, 'KV');
      const kv = new KvCtor(srv.address, creds) as Any;
      await expect(call(kv, 'range', { key: Buffer.from('x') })).rejects.toMatchObject({
        details: 'etcdserver: user name is empty',
      });
      kv.close();
      auth.close();
      // Without a certificate the handshake itself is refused: the CA file alone requires one.
      const anon = kvClient(srv.address, { ca: pki.ca });
      await expect(call(anon, 'range', { key: Buffer.from('x') })).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
      });
      anon.close();
    } finally {
      await srv.close();
    }
  });
});

describe('TLS files changed while running', () => {
  it('a new CRL applies to the next connection without a restart (etcd re-reads it per connection)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-crl-'));
    const crl = join(dir, 'current.crl');
    copyFileSync(pki.crlEmpty, crl);
    const srv = await startServer({
      scheme: 'https',
      args: [
        ...serverCertArgs(),
        '--trusted-ca-file',
        pki.ca,
        '--client-cert-auth',
        '--client-crl-file',
        crl,
      ],
    });
    try {
      const before = await httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.revoked });
      expect(before.status).toBe(200);
      copyFileSync(pki.crl, crl);
      await expect(
        httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.revoked }),
      ).rejects.toThrow();
      const alice = await httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.alice });
      expect(alice.status).toBe(200);
      // A broken replacement is refused; the last good settings stay in force.
      writeFileSync(crl, 'not a crl');
      const still = await httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.alice });
      expect(still.status).toBe(200);
      await expect(
        httpsRequest(`${srv.endpoint}/health`, { ca: pki.ca, client: pki.revoked }),
      ).rejects.toThrow();
    } finally {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--client-cert-allowed-hostname', () => {
  let srv: StartedServer;
  beforeAll(async () => {
    srv = await startServer({
      scheme: 'https',
      args: [
        ...serverCertArgs(),
        '--trusted-ca-file',
        pki.ca,
        '--client-cert-auth',
        '--client-cert-allowed-hostname',
        'localhost',
      ],
    });
  });
  afterAll(() => srv?.close());

  it('accepts a client certificate valid for the hostname and refuses others', async () => {
    const good = kvClient(srv.address, { ca: pki.ca, client: pki.server }); // SAN DNS:localhost, clientAuth
    await call(good, 'put', { key: Buffer.from('h'), value: Buffer.from('1') });
    good.close();
    const bad = kvClient(srv.address, { ca: pki.ca, client: pki.alice });
    await expect(call(bad, 'range', { key: Buffer.from('h') })).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    bad.close();
  });
});

describe('--auto-tls', () => {
  let srv: StartedServer;
  beforeAll(async () => {
    srv = await startServer({ scheme: 'https', args: ['--auto-tls'] });
  });
  afterAll(() => srv?.close());

  it('generates a self-signed ECDSA certificate into <data-dir>/fixtures/client like etcd', () => {
    const dir = join(srv.dataDir, 'fixtures', 'client');
    const cert = new X509Certificate(read(join(dir, 'cert.pem')));
    expect(cert.subject).toBe('O=etcd');
    expect(cert.issuer).toBe('O=etcd');
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(cert.ca).toBe(false);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    const validDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(validDays).toBe(365);
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('serves gRPC and HTTPS to clients that skip verification', async () => {
    const kv = kvClient(srv.address, { insecureSkipVerify: true });
    await call(kv, 'put', { key: Buffer.from('auto'), value: Buffer.from('tls') });
    kv.close();
    const r = await httpsRequest(`${srv.endpoint}/v3/kv/range`, {
      rejectUnauthorized: false,
      body: JSON.stringify({ key: b64('auto') }),
    });
    expect(JSON.parse(r.body).kvs[0].value).toBe(b64('tls'));
  });

  it('reuses the generated pair on restart', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'kv-autotls-')), 'data');
    const first = await startServer({ scheme: 'https', args: ['--auto-tls'], dataDir });
    await first.close();
    const certPath = join(dataDir, 'fixtures', 'client', 'cert.pem');
    const before = readFileSync(certPath, 'utf8');
    const second = await startServer({ scheme: 'https', args: ['--auto-tls'], dataDir });
    await second.close();
    expect(readFileSync(certPath, 'utf8')).toBe(before);
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });
});

describe('cipher suites', () => {
  it('restricts TLS 1.2 to the Go-named suites of --cipher-suites', async () => {
    const srv = await startServer({
      scheme: 'https',
      args: [...serverCertArgs(), '--cipher-suites', 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
    });
    try {
      const port = Number(srv.address.split(':')[1]);
      const negotiated = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: read(pki.ca), maxVersion: 'TLSv1.2' }, () => {
          resolve(s.getCipher().standardName);
          s.end();
        });
        s.on('error', reject);
      });
      expect(negotiated).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
      const refused = new Promise<void>((resolve, reject) => {
        const s = tls.connect(
          {
            host: '127.0.0.1',
            port,
            ca: read(pki.ca),
            maxVersion: 'TLSv1.2',
            ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256',
          },
          () => reject(new Error('handshake should fail')),
        );
        s.on('error', () => resolve());
      });
      await refused;
    } finally {
      await srv.close();
    }
  });
});

describe('peer TLS', () => {
  it('generates the peer pair under --peer-auto-tls and exposes PeerTlsConfig', async () => {
    const srv = await startServer({ args: ['--peer-auto-tls'] });
    try {
      const dir = join(srv.dataDir, 'fixtures', 'peer');
      expect(existsSync(join(dir, 'cert.pem'))).toBe(true);
      const peer = srv.server.peerTls;
      expect(peer.info.selfSigned).toBe(true);
      expect(peer.info.certFile).toBe(join(dir, 'cert.pem'));
      expect(peer.server?.cert).toBeDefined();
      // Self-signed peers skip verification of each other, as etcd does.
      expect(peer.dial?.rejectUnauthorized).toBe(false);
    } finally {
      await srv.close();
    }
  });

  it('loads explicit peer certificates with mutual-TLS settings', async () => {
    const srv = await startServer({
      args: [
        '--peer-cert-file',
        pki.server.cert,
        '--peer-key-file',
        pki.server.key,
        '--peer-trusted-ca-file',
        pki.ca,
        '--peer-client-cert-auth',
        '--peer-cert-allowed-cn',
        'kv-server',
      ],
    });
    try {
      const peer = srv.server.peerTls;
      expect(peer.server?.requestCert).toBe(true);
      expect(peer.server?.rejectUnauthorized).toBe(true);
      expect(peer.dial?.rejectUnauthorized).toBe(true);
      expect(peer.dial?.ca).toEqual(read(pki.ca));
      expect(peer.allowedCn).toBe('kv-server');
    } finally {
      await srv.close();
    }
  });

  it('fails at startup when the peer key does not match the certificate', async () => {
    await expect(
      startServer({ args: ['--peer-cert-file', pki.server.cert, '--peer-key-file', pki.alice.key] }),
    ).rejects.toThrow('tls: private key does not match public key');
  });

  it('fails at startup when a peer file is missing', async () => {
    await expect(
      startServer({ args: ['--peer-cert-file', '/nonexistent/peer.crt', '--peer-key-file', pki.server.key] }),
    ).rejects.toThrow('open /nonexistent/peer.crt: no such file or directory');
  });
});

describe('startup errors (etcd messages)', () => {
  const base = [
    '--listen-peer-urls',
    'http://127.0.0.1:42990',
    '--advertise-client-urls',
    'https://127.0.0.1:42991',
  ];
  const parseError = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    try {
      parseArgs([...base, ...args], env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    return 'no error';
  };

  it('rejects an https client URL without certificate or auto TLS', () => {
    expect(parseError(['--listen-client-urls', 'https://127.0.0.1:42991'])).toBe(
      'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:42991 with HTTPS scheme',
    );
    expect(parseError(['--listen-client-urls', 'https://127.0.0.1:42991', '--auto-tls'])).toBe('no error');
  });

  it('rejects https peer and metrics URLs without certificates', () => {
    expect(parseError(['--listen-peer-urls', 'https://127.0.0.1:42992'])).toBe(
      'cannot listen on TLS for 127.0.0.1:42992: KeyFile and CertFile are not presented',
    );
    expect(parseError(['--listen-metrics-urls', 'https://127.0.0.1:42993'])).toBe(
      'cannot listen on TLS for 127.0.0.1:42993: KeyFile and CertFile are not presented',
    );
  });

  it('rejects unknown cipher suites', () => {
    expect(parseError(['--cipher-suites', 'FOO'])).toBe('unexpected TLS cipher suite "FOO"');
  });

  it('reads the TLS flags from ETCD_* environment variables', () => {
    const out = parseArgs(['--listen-client-urls', 'https://127.0.0.1:42991', ...base], {
      ETCD_CERT_FILE: pki.server.cert,
      ETCD_KEY_FILE: pki.server.key,
      ETCD_CLIENT_CERT_AUTH: 'true',
      ETCD_TRUSTED_CA_FILE: pki.ca,
      ETCD_CLIENT_CRL_FILE: pki.crl,
      ETCD_PEER_AUTO_TLS: 'true',
    });
    if (out.action !== 'run') throw new Error('expected run');
    expect(out.config.clientTls).toMatchObject({
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      clientCertAuth: true,
      trustedCaFile: pki.ca,
      crlFile: pki.crl,
    });
    expect(out.config.peerTls.autoTls).toBe(true);
  });

  it('fails at startup with a certificate but no key', async () => {
    await expect(startServer({ scheme: 'https', args: ['--cert-file', pki.server.cert] })).rejects.toThrow(
      `KeyFile and CertFile must both be present[key: , cert: ${pki.server.cert}]`,
    );
  });

  it('fails at startup when the client key does not match the certificate', async () => {
    await expect(
      startServer({ scheme: 'https', args: ['--cert-file', pki.server.cert, '--key-file', pki.alice.key] }),
    ).rejects.toThrow('tls: private key does not match public key');
  });

  it('fails at startup on a missing trusted CA file', async () => {
    await expect(
      startServer({
        scheme: 'https',
        args: [...serverCertArgs(), '--trusted-ca-file', '/nonexistent/ca.crt'],
      }),
    ).rejects.toThrow('open /nonexistent/ca.crt: no such file or directory');
  });
});

describe('self-signed certificate builder', () => {
  it('produces a certificate OpenSSL and Node accept for TLS, with IPv6 and DNS names', async () => {
    const { certPem, keyPem } = await createSelfSignedCert({
      hosts: ['[::1]:1', 'localhost:2', '127.0.0.1:3'],
    });
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe('IP Address:0:0:0:0:0:0:0:1, DNS:localhost, IP Address:127.0.0.1');
    const server = tls.createServer({ cert: certPem, key: keyPem }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const got = await new Promise<string>((resolve, reject) => {
      // Trusting the self-signed certificate itself verifies its signature and SAN end to end.
      const s = tls.connect(
        { host: '127.0.0.1', port, ca: certPem, servername: 'localhost' },
        () => undefined,
      );
      let data = '';
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    server.close();
    expect(got).toBe('hi');
  });
});

describe('TLS listener hands the TLSSocket itself to gRPC and HTTP', () => {
  // A one-method echo service that answers with the caller's certificate CN as grpc-js reports it.
  const whoAmI = {
    whoAmI: {
      path: '/test.Echo/WhoAmI',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  } as const;
  let listener: ClientListener;
  let grpcServer: GrpcServer;
  let port: number;
  beforeAll(async () => {
    grpcServer = new GrpcServer({ maxReceiveMessageLength: 1 << 20 });
    grpcServer.addService(whoAmI as Any, {
      whoAmI: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => {
        const ctx = call.getAuthContext();
        cb(null, Buffer.from(`${ctx.transportSecurityType}:${ctx.sslPeerCertificate?.subject?.CN}`));
      },
    });
    const httpServer = http.createServer((req, res) => {
      const sock = req.socket as tls.TLSSocket;
      res.end(`${sock.authorized}:${sock.getPeerCertificate().subject?.CN}`);
    });
    const loaded = loadServerTls({
      ...emptyTlsInfo(),
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      trustedCaFile: pki.ca,
      clientCertAuth: true,
    });
    listener = new ClientListener({
      grpc: grpcServer,
      http: httpServer,
      tls: { options: loaded.serverOptions },
    });
    port = await listener.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    grpcServer.forceShutdown();
    await listener.close(0);
  });

  it('grpc-js sees the verified client certificate through call.getAuthContext()', async () => {
    const Ctor = grpc.makeGenericClientConstructor(whoAmI as Any, 'Echo');
    const creds = grpc.credentials.createSsl(read(pki.ca), read(pki.alice.key), read(pki.alice.cert));
    const client = new Ctor(`127.0.0.1:${port}`, creds) as Any;
    const out = await call<Buffer>(client, 'whoAmI', Buffer.alloc(0));
    expect(out.toString()).toBe('ssl:alice');
    client.close();
  });

  it('a TLS client without ALPN speaking HTTP/2 with prior knowledge reaches gRPC', async () => {
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const firstFrameType = await new Promise<number>((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port, ca: read(pki.ca), cert: read(pki.alice.cert), key: read(pki.alice.key) },
        () => {
          expect(s.alpnProtocol).toBe(false);
          s.write(Buffer.concat([preface, emptySettings]));
        },
      );
      s.once('data', (d: Buffer) => {
        resolve(d[3]!);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(firstFrameType).toBe(0x4); // the server's SETTINGS frame: an HTTP/2 session answered
  });

  it('the HTTP server sees the verified client certificate through req.socket', async () => {
    const r = await httpsRequest(`https://127.0.0.1:${port}/`, { ca: pki.ca, client: pki.alice });
    expect(r.body).toBe('true:alice');
  });
});

describe("etcd's config file and log lines", () => {
  it('reads client-transport-security / peer-transport-security from --config-file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-tls-cfg-'));
    const file = join(dir, 'etcd.yml');
    writeFileSync(
      file,
      [
        'listen-client-urls: https://127.0.0.1:42995',
        'advertise-client-urls: https://127.0.0.1:42995',
        'client-transport-security:',
        `  cert-file: ${pki.server.cert}`,
        `  key-file: ${pki.server.key}`,
        '  client-cert-auth: true',
        `  trusted-ca-file: ${pki.ca}`,
        'peer-transport-security:',
        '  auto-tls: true',
        '',
      ].join('\n'),
    );
    const out = parseArgs(['--config-file', file]);
    if (out.action !== 'run') throw new Error('expected run');
    expect(out.config.clientTls).toMatchObject({
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      clientCertAuth: true,
      trustedCaFile: pki.ca,
    });
    expect(out.config.peerTls.autoTls).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs etcd\'s TLS lines, and handshake rejections as "rejected connection"', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = { write: (l: string) => lines.push(JSON.parse(l)) };
    const dataDir = join(mkdtempSync(join(tmpdir(), 'kv-tls-log-')), 'data');
    const parsed = parseArgs([
      '--data-dir',
      dataDir,
      '--backend',
      'memory',
      '--listen-client-urls',
      'https://127.0.0.1:0,http://127.0.0.1:0',
      '--advertise-client-urls',
      'https://127.0.0.1:0',
      '--listen-peer-urls',
      'http://127.0.0.1:0',
      ...serverCertArgs(),
      '--trusted-ca-file',
      pki.ca,
      '--client-cert-auth',
      '--peer-auto-tls',
    ]);
    if (parsed.action !== 'run') throw new Error('expected run');
    const server = await KvServer.start(parsed.config, {
      logger: new Logger('info', sink),
      unsafeNoFsync: true,
    });
    try {
      const msg = (m: string) => lines.filter((l) => l.msg === m);
      expect(msg('created cert file')[0]?.path).toBe(join(dataDir, 'fixtures', 'peer', 'cert.pem'));
      expect(msg('starting with peer TLS')).toHaveLength(1);
      expect(msg('starting with client TLS')[0]?.['tls-info']).toBe(
        `cert = ${pki.server.cert}, key = ${pki.server.key}, trusted-ca = ${pki.ca}, client-cert-auth = true, crl-file = `,
      );
      expect(msg('serving client traffic securely')).toHaveLength(1);
      expect(msg('serving client traffic insecurely; this is strongly discouraged!')).toHaveLength(1);
      expect(
        msg('scheme is HTTP while key and cert files are present; ignoring key and cert files'),
      ).toHaveLength(1);
      expect(
        msg('scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL'),
      ).toHaveLength(1);
      const secure = server.clientUrls.find((u) => u.startsWith('https:'))!;
      await expect(httpsRequest(`${secure}/health`, { ca: pki.ca })).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 50));
      expect(msg('rejected connection').map((l) => l.error)).toContain(
        "tls: client didn't provide a certificate",
      );
    } finally {
      await server.close();
      rmSync(join(dataDir, '..'), { recursive: true, force: true });
    }
  });
});

describe('allowed CN on a TLS listener (--peer-cert-allowed-cn semantics)', () => {
  it('accepts only client certificates whose CN matches', async () => {
    const loaded = loadServerTls({
      ...emptyTlsInfo(),
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      trustedCaFile: pki.ca,
      clientCertAuth: true,
    });
    const rejected: unknown[] = [];
    const log = new Logger('info', { write: (l: string) => rejected.push(JSON.parse(l).error) });
    const listener = new ClientListener({
      http: http.createServer((_req, res) => res.end('ok')),
      tls: { options: loaded.serverOptions, allowedCn: 'alice', log },
    });
    const port = await listener.listen(0, '127.0.0.1');
    try {
      const ok = await httpsRequest(`https://127.0.0.1:${port}/`, { ca: pki.ca, client: pki.alice });
      expect(ok.body).toBe('ok');
      await expect(
        httpsRequest(`https://127.0.0.1:${port}/`, { ca: pki.ca, client: pki.root }),
      ).rejects.toThrow();
      expect(rejected).toContain('CommonName authentication failed');
    } finally {
      await listener.close(0);
    }
  });
});
