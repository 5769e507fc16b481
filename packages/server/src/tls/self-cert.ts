/**
 * Self-signed certificates for `--auto-tls` / `--peer-auto-tls`, made the way etcd 3.4's
 * `transport.SelfCert` makes them: an ECDSA P-521 key, a certificate signed with ECDSA-SHA512 by that
 * same key, subject `O=etcd`, valid for one year, key usage digitalSignature + keyEncipherment, extended
 * key usage serverAuth, not a CA, and a subjectAltName entry per listen host (IP or DNS name).
 * Files go to `<dir>/cert.pem` and `<dir>/key.pem` (the key as SEC 1 "EC PRIVATE KEY", as Go's
 * x509.MarshalECPrivateKey writes it); existing files are reused, as etcd reuses them.
 *
 * The X.509 encoding is @peculiar/x509's (on Node's WebCrypto); it needs the reflect-metadata
 * polyfill loaded first (its dependency-injection container reads decorator metadata).
 */
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Logger } from '../log/logger.js';

/** The key pair type @peculiar/x509 declares (the DOM's CryptoKeyPair; Node's is the same object). */
type GeneratorKeys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

const VALIDITY_MS = 365 * 24 * 3600 * 1000;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-521', hash: 'SHA-512' } as const;

/** Paths of a certificate/key pair on disk. */
export interface CertKeyFiles {
  certFile: string;
  keyFile: string;
}

/** What a self-signed certificate is for. */
export interface SelfCertOptions {
  /** Listen hosts as `host:port` (URL.host); each host becomes a subjectAltName entry. */
  hosts: readonly string[];
  /** Also allow use as a TLS client certificate (extended key usage clientAuth). */
  clientAuth?: boolean;
  /** Validity start; defaults to now. */
  now?: Date;
}

/**
 * Returns `<dir>/cert.pem` and `<dir>/key.pem`, generating them first when either is missing.
 * Logs "created cert file" / "created key file" as etcd does.
 *
 * @example
 * const { certFile, keyFile } = await ensureSelfCert('/data/fixtures/client', { hosts: ['127.0.0.1:2379'] });
 */
export async function ensureSelfCert(
  dir: string,
  opts: SelfCertOptions,
  log?: Logger,
): Promise<CertKeyFiles> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = await createSelfSignedCert(opts);
  writeFileSync(certFile, certPem, { mode: 0o644 });
  log?.info('created cert file', { path: certFile });
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  log?.info('created key file', { path: keyFile });
  return { certFile, keyFile };
}

/**
 * Generates a key and a self-signed certificate; returns both as PEM text.
 *
 * @example
 * const { certPem, keyPem } = await createSelfSignedCert({ hosts: ['localhost:2379'] });
 */
export async function createSelfSignedCert(
  opts: SelfCertOptions,
): Promise<{ certPem: string; keyPem: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const now = opts.now ?? new Date();
  // etcd: a random serial below 2^128; the top bit cleared keeps the DER INTEGER positive in 16 bytes.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const usages = [
    x509.ExtendedKeyUsage.serverAuth,
    ...(opts.clientAuth ? [x509.ExtendedKeyUsage.clientAuth] : []),
  ];
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(usages, false),
    // Go's BasicConstraintsValid with IsCA false: an empty, critical basicConstraints.
    new x509.BasicConstraintsExtension(false, undefined, true),
  ];
  const names = opts.hosts.map(altName).filter((n): n is x509.JsonGeneralName => n !== undefined);
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'O=etcd',
    notBefore: now,
    notAfter: new Date(now.getTime() + VALIDITY_MS),
    signingAlgorithm: ALGORITHM,
    keys: keys as unknown as GeneratorKeys,
    extensions,
  });
  const certPem = cert.toString('pem');
  // Sanity check: Node must parse and verify what was built before anyone relies on it.
  const parsed = new X509Certificate(certPem);
  if (!parsed.verify(parsed.publicKey)) throw new Error('self-signed certificate failed verification');
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    .export({ type: 'sec1', format: 'pem' })
    .toString();
  return { certPem: certPem.endsWith('\n') ? certPem : `${certPem}\n`, keyPem };
}

/** The subjectAltName entry for one `host:port`: an IP address for IP literals, a DNS name otherwise. */
function altName(hostPort: string): x509.JsonGeneralName | undefined {
  const host = hostPort.replace(/:\d*$/, '').replace(/^\[|\]$/g, '');
  if (host === '') return undefined;
  return isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host };
}
