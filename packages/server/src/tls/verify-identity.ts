/**
 * etcd's extra checks on a verified client certificate, run after the handshake:
 * `--client-cert-allowed-hostname` / `--peer-cert-allowed-hostname` (the certificate must be valid for
 * that hostname, checked like a server name) and `--peer-cert-allowed-cn` (its CN must equal the given
 * name). Messages are etcd's (transport.TLSInfo.baseConfig's VerifyPeerCertificate).
 */
import * as tls from 'node:tls';

/** What a certificate must match; empty strings mean no restriction. */
export interface AllowedIdentity {
  allowedCn?: string;
  allowedHostname?: string;
}

/** Returns etcd's error text when `cert` is not allowed, undefined when it is. */
export function checkAllowedIdentity(
  cert: tls.PeerCertificate | undefined,
  allowed: AllowedIdentity,
): string | undefined {
  if (!allowed.allowedCn && !allowed.allowedHostname) return undefined;
  if (!cert?.raw) return 'client certificate authentication failed';
  if (allowed.allowedCn) {
    const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
    if (cn !== allowed.allowedCn) return 'CommonName authentication failed';
  }
  if (allowed.allowedHostname && tls.checkServerIdentity(allowed.allowedHostname, cert) !== undefined) {
    return 'client certificate authentication failed';
  }
  return undefined;
}
