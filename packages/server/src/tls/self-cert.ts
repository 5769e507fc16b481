/**
 * Self-signed certificates for `--auto-tls` / `--peer-auto-tls`, made the way etcd 3.4's
 * `transport.SelfCert` makes them: an ECDSA P-521 key, a certificate signed with ECDSA-SHA512 by that
 * same key, subject `O=etcd`, valid for one year, key usage digitalSignature + keyEncipherment, extended
 * key usage serverAuth, not a CA, and a subjectAltName entry per listen host (IP or DNS name).
 * Files go to `<dir>/cert.pem` and `<dir>/key.pem`; existing files are reused, as etcd reuses them.
 *
 * The certificate is assembled with a small DER builder (./der.ts) and signed with `crypto.sign`, so
 * kv-server needs no X.509 library for this.
 */
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';
import * as der from './der.js';

const OID_ECDSA_WITH_SHA512 = '1.2.840.10045.4.3.4';
const OID_ORGANIZATION = '2.5.4.10';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const VALIDITY_MS = 365 * 24 * 3600 * 1000;

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
 */
export function ensureSelfCert(dir: string, opts: SelfCertOptions, log?: Logger): CertKeyFiles {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { certPem, keyPem } = createSelfSignedCert(opts);
  writeFileSync(certFile, certPem, { mode: 0o644 });
  log?.info('created cert file', { path: certFile });
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  log?.info('created key file', { path: keyFile });
  return { certFile, keyFile };
}

/** Generates a key and a self-signed certificate; returns both as PEM text. */
export function createSelfSignedCert(opts: SelfCertOptions): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const now = opts.now ?? new Date();
  const name = der.sequence(der.set(der.sequence(der.oid(OID_ORGANIZATION), der.printableString('etcd'))));
  const signatureAlgorithm = der.sequence(der.oid(OID_ECDSA_WITH_SHA512));
  const serial = randomBytes(16); // etcd: a random number below 2^128
  const tbs = der.sequence(
    der.explicit(0, der.smallInteger(2)), // v3
    der.unsignedInteger(serial),
    signatureAlgorithm,
    name,
    der.sequence(der.time(now), der.time(new Date(now.getTime() + VALIDITY_MS))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions(opts))),
  );
  const signature = sign('sha512', tbs, privateKey);
  const cert = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));
  const certPem = toPem('CERTIFICATE', cert);
  // Sanity check: Node must parse and verify what we built before anyone relies on it.
  if (!new X509Certificate(certPem).verify(publicKey)) {
    throw new Error('self-signed certificate failed verification');
  }
  const keyPem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  return { certPem, keyPem };
}

function extensions(opts: SelfCertOptions): Buffer[] {
  const ext = (id: string, critical: boolean, value: Buffer) =>
    der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
  // KeyUsage bits (RFC 5280): digitalSignature = bit 0, keyEncipherment = bit 2 → 0b101xxxxx, 5 unused.
  const keyUsage = der.tlv(0x03, Buffer.from([0x05, 0xa0]));
  const usages = [der.oid(OID_SERVER_AUTH), ...(opts.clientAuth ? [der.oid(OID_CLIENT_AUTH)] : [])];
  const out = [
    ext(OID_KEY_USAGE, true, keyUsage),
    ext(OID_EXT_KEY_USAGE, false, der.sequence(...usages)),
    ext(OID_BASIC_CONSTRAINTS, true, der.sequence()),
  ];
  const names = opts.hosts.map(altName).filter((n): n is Buffer => n !== undefined);
  if (names.length > 0) out.push(ext(OID_SUBJECT_ALT_NAME, false, der.sequence(...names)));
  return out;
}

/** GeneralName for one `host:port`: iPAddress [7] for IP literals, dNSName [2] otherwise. */
function altName(hostPort: string): Buffer | undefined {
  const host = hostPort.replace(/:\d*$/, '').replace(/^\[|\]$/g, '');
  if (host === '') return undefined;
  if (isIPv4(host)) return der.implicitPrimitive(7, Buffer.from(host.split('.').map(Number)));
  if (isIPv6(host)) return der.implicitPrimitive(7, ipv6Bytes(host));
  return der.implicitPrimitive(2, Buffer.from(host, 'ascii'));
}

/** The 16 bytes of an IPv6 literal (handles `::` and a trailing dotted IPv4 part). */
export function ipv6Bytes(text: string): Buffer {
  let groups = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    groups = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = groups.includes('::') ? groups.split('::') : [groups, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

function toPem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
