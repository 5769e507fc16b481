// Client TLS end to end: a real server process serving https:// with certificates made by openssl at
// test time, driven by Debian's etcdctl (--cacert/--cert/--key), the npm etcd3 client (grpc-js SSL
// credentials: KV, watch, lease, lock, election) and curl against the gateway. Runs against etcd too
// (KV_E2E_TARGET=etcd), which checks that the expectations describe etcd.
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CertPair, generateTestPki, type TestPki } from './support/certs.js';
import { b64, etcdctl, run, ServerProcess, sleep } from './support/server.js';

let pki: TestPki;
beforeAll(() => {
  pki = generateTestPki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

/** etcdctl flags that trust the CA and, optionally, present a client certificate. */
const tlsFlags = (client?: CertPair) => [
  '--cacert',
  pki.ca,
  ...(client ? ['--cert', client.cert, '--key', client.key] : []),
];

/** etcd3 client over TLS. */
function etcd3Client(endpoint: string, client?: CertPair): Etcd3 {
  return new Etcd3({
    hosts: endpoint,
    credentials: {
      rootCertificate: readFileSync(pki.ca),
      ...(client ? { privateKey: readFileSync(client.key), certChain: readFileSync(client.cert) } : {}),
    },
  });
}

/** Exercises KV, watch, lease, lock and election through etcd3 over one TLS client. */
async function etcd3Workout(client: Etcd3, prefix: string): Promise<void> {
  // KV
  await client.put(`${prefix}/a`).value('1');
  expect(await client.get(`${prefix}/a`).string()).toBe('1');
  // Watch: a live put arrives.
  const watcher = await client.watch().key(`${prefix}/w`).create();
  const seen = new Promise<string>((ok) => watcher.on('put', (kv) => ok(kv.value.toString())));
  await client.put(`${prefix}/w`).value('watched');
  expect(await seen).toBe('watched');
  await watcher.cancel();
  // Lease: a key attached to a lease disappears when the lease is revoked.
  const lease = client.lease(10, { autoKeepAlive: false });
  await lease.put(`${prefix}/leased`).value('x');
  expect(await client.get(`${prefix}/leased`).string()).toBe('x');
  expect(await lease.grant()).toMatch(/^\d+$/);
  await lease.revoke();
  expect(await client.get(`${prefix}/leased`).string()).toBeNull();
  // Lock (etcd3's Lock is a try-lock): a held lock refuses a second holder until it is released.
  const first = await client.lock(`${prefix}/lock`).ttl(10).acquire();
  await expect(client.lock(`${prefix}/lock`).ttl(10).acquire()).rejects.toThrow(/Failed to acquire a lock/);
  await first.release();
  const second = await client.lock(`${prefix}/lock`).ttl(10).acquire();
  await second.release();
  // Election: a campaign becomes leader and its value is visible to observers.
  const election = client.election(`${prefix}/election`, 10);
  const campaign = election.campaign('candidate-1');
  await campaign.wait();
  expect(await election.leader()).toBe('candidate-1');
  await campaign.proclaim('candidate-1b');
  expect(await election.leader()).toBe('candidate-1b');
  await campaign.resign();
}

/** Runs `etcdctl watch` until it prints `want`; resolves with its output. */
function watchUntil(endpoint: string, args: string[], want: string): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn('etcdctl', [`--endpoints=${endpoint}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    const timer = setTimeout(() => {
      p.kill();
      fail(new Error(`watch timed out; got: ${out}`));
    }, 15_000);
    p.stdout.on('data', (d) => {
      out += d;
      if (out.includes(want)) {
        clearTimeout(timer);
        p.kill();
        ok(out);
      }
    });
  });
}

describe('TLS with a server certificate only', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({
      scheme: 'https',
      flags: ['--cert-file', pki.server.cert, '--key-file', pki.server.key],
      etcdctlFlags: tlsFlags(),
    });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('etcdctl --cacert: put, get, watch, endpoint status', async () => {
    expect((await etcdctl(server.endpoint, [...tlsFlags(), 'put', 'tls/a', '1'])).stdout).toBe('OK\n');
    expect((await etcdctl(server.endpoint, [...tlsFlags(), 'get', 'tls/a'])).stdout).toBe('tls/a\n1\n');
    const watching = watchUntil(server.endpoint, [...tlsFlags(), 'watch', 'tls/w'], 'hello');
    await sleep(500);
    await etcdctl(server.endpoint, [...tlsFlags(), 'put', 'tls/w', 'hello']);
    expect(await watching).toBe('PUT\ntls/w\nhello\n');
    const status = await etcdctl(server.endpoint, [...tlsFlags(), 'endpoint', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(server.endpoint);
  });

  it('etcdctl without the CA refuses the server certificate', async () => {
    const r = await etcdctl(server.endpoint, ['get', 'tls/a', '--command-timeout=2s']);
    expect(r.code).not.toBe(0);
  });

  it('etcd3 npm client: KV, watch, lease, lock and election', async () => {
    const client = etcd3Client(server.endpoint);
    try {
      await etcd3Workout(client, 'e3-server-only');
    } finally {
      client.close();
    }
  });

  it('curl --cacert against the gateway', async () => {
    const r = await run('curl', [
      '-sS',
      '--cacert',
      pki.ca,
      '-X',
      'POST',
      `${server.endpoint}/v3/kv/range`,
      '-d',
      JSON.stringify({ key: b64('tls/a') }),
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).kvs[0].value).toBe(b64('1'));
    const health = await run('curl', ['-sS', '--cacert', pki.ca, `${server.endpoint}/health`]);
    expect(JSON.parse(health.stdout)).toEqual({ health: 'true' });
  });
});

describe('mutual TLS (--client-cert-auth, --trusted-ca-file, --client-crl-file)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({
      scheme: 'https',
      flags: [
        '--cert-file',
        pki.server.cert,
        '--key-file',
        pki.server.key,
        '--trusted-ca-file',
        pki.ca,
        '--client-cert-auth',
        '--client-crl-file',
        pki.crl,
      ],
      etcdctlFlags: tlsFlags(pki.alice),
    });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('etcdctl with a client certificate: put, get, watch', async () => {
    const f = tlsFlags(pki.alice);
    expect((await etcdctl(server.endpoint, [...f, 'put', 'm/a', '1'])).stdout).toBe('OK\n');
    expect((await etcdctl(server.endpoint, [...f, 'get', 'm/a', '--print-value-only'])).stdout).toBe('1\n');
    const watching = watchUntil(server.endpoint, [...f, 'watch', 'm/w'], 'hi');
    await sleep(500);
    await etcdctl(server.endpoint, [...f, 'put', 'm/w', 'hi']);
    expect(await watching).toBe('PUT\nm/w\nhi\n');
  });

  it('etcdctl without a client certificate, with a wrong-CA or a revoked one is refused', async () => {
    for (const client of [undefined, pki.wrongCa, pki.revoked]) {
      const r = await etcdctl(server.endpoint, [...tlsFlags(client), 'get', 'm/a', '--command-timeout=2s']);
      expect(r.code, `client ${client?.cert ?? 'none'}`).not.toBe(0);
      expect(r.stderr).toMatch(/context deadline exceeded|certificate|connection/i);
    }
  });

  it('etcd3 npm client with a client certificate: KV, watch, lease, lock and election', async () => {
    const client = etcd3Client(server.endpoint, pki.alice);
    try {
      await etcd3Workout(client, 'e3-mutual');
    } finally {
      client.close();
    }
  });

  it('curl needs the client certificate', async () => {
    const ok = await run('curl', [
      '-sS',
      '--cacert',
      pki.ca,
      '--cert',
      pki.alice.cert,
      '--key',
      pki.alice.key,
      `${server.endpoint}/v3/kv/range`,
      '-d',
      JSON.stringify({ key: b64('m/a') }),
    ]);
    expect(JSON.parse(ok.stdout).kvs[0].value).toBe(b64('1'));
    const refused = await run('curl', ['-sS', '--cacert', pki.ca, `${server.endpoint}/health`]);
    expect(refused.code).not.toBe(0);
    const revoked = await run('curl', [
      '-sS',
      '--cacert',
      pki.ca,
      '--cert',
      pki.revoked.cert,
      '--key',
      pki.revoked.key,
      `${server.endpoint}/health`,
    ]);
    expect(revoked.code).not.toBe(0);
  });

  // Last in this block: it turns auth on.
  it('with auth enabled, the client certificate CN is the user (no --user needed)', async () => {
    const asRoot = (...args: string[]) => etcdctl(server.endpoint, [...tlsFlags(pki.root), ...args]);
    const asAlice = (...args: string[]) => etcdctl(server.endpoint, [...tlsFlags(pki.alice), ...args]);
    await asRoot('put', 'cn/x', '1');
    for (const args of [
      ['user', 'add', 'root:rootpw'],
      ['user', 'grant-role', 'root', 'root'],
      ['user', 'add', 'alice', '--no-password'],
      ['role', 'add', 'reader'],
      ['role', 'grant-permission', 'reader', 'read', 'cn/', '--prefix'],
      ['user', 'grant-role', 'alice', 'reader'],
      ['auth', 'enable'],
    ]) {
      const r = await asRoot(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    expect((await asAlice('get', 'cn/x', '--print-value-only')).stdout).toBe('1\n');
    const denied = await asAlice('put', 'cn/x', '2');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('etcdserver: permission denied');
    expect((await asRoot('put', 'cn/y', 'root')).stdout).toBe('OK\n');
    const gateway = await run('curl', [
      '-sS',
      '--cacert',
      pki.ca,
      '--cert',
      pki.alice.cert,
      '--key',
      pki.alice.key,
      `${server.endpoint}/v3/kv/range`,
      '-d',
      JSON.stringify({ key: b64('cn/x') }),
    ]);
    // etcd's gateway does not act on a certificate's CN; with auth on it refuses such callers.
    expect(gateway.stdout).toBe(
      'CommonName of client sending a request against gateway will be ignored and not used as expected\n',
    );
    expect((await asRoot('auth', 'disable')).code).toBe(0);
  });
});

describe('--auto-tls', () => {
  let server: ServerProcess;
  // etcdctl 3.4 speaks plaintext unless a TLS flag is given or --insecure-transport=false.
  const skipVerify = ['--insecure-transport=false', '--insecure-skip-tls-verify'];
  beforeAll(async () => {
    server = await ServerProcess.start({
      scheme: 'https',
      peerScheme: 'https',
      flags: ['--auto-tls', '--peer-auto-tls'],
      etcdctlFlags: skipVerify,
    });
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('serves etcdctl --insecure-skip-tls-verify with a generated certificate in <data-dir>/fixtures/client', async () => {
    expect((await etcdctl(server.endpoint, [...skipVerify, 'put', 'auto', 'tls'])).stdout).toBe('OK\n');
    expect(
      (await etcdctl(server.endpoint, [...skipVerify, 'get', 'auto', '--print-value-only'])).stdout,
    ).toBe('tls\n');
    const cert = readFileSync(join(server.dataDir, 'fixtures', 'client', 'cert.pem'), 'utf8');
    expect(new X509Certificate(cert).subject).toBe('O=etcd');
    // Verification against the system roots fails: the certificate is self-signed.
    const verified = await etcdctl(server.endpoint, [
      '--insecure-transport=false',
      'get',
      'auto',
      '--command-timeout=2s',
    ]);
    expect(verified.code).not.toBe(0);
  });

  it("makes client and peer certificates as etcd's transport.SelfCert does", () => {
    for (const which of ['client', 'peer']) {
      const dir = join(server.dataDir, 'fixtures', which);
      const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem'), 'utf8'));
      const key = readFileSync(join(dir, 'key.pem'), 'utf8');
      expect(cert.subject).toBe('O=etcd');
      expect(cert.issuer).toBe('O=etcd');
      expect(cert.ca).toBe(false);
      expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
      expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extended key usage serverAuth
      // One year of validity.
      const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
      expect(days).toBe(365);
      expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp521r1');
      expect(cert.verify(cert.publicKey)).toBe(true);
      // Go's x509.MarshalECPrivateKey: SEC 1.
      expect(key.startsWith('-----BEGIN EC PRIVATE KEY-----')).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
    }
  });
});
