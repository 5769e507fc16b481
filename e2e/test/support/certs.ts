/**
 * Test certificates made with the system's `openssl` at test time: a CA, a server certificate for
 * 127.0.0.1/localhost, client certificates (CN = user name), one revoked client certificate with the
 * CA's CRL, and a client certificate from a second, untrusted CA.
 * Same generator as packages/server/test/tls-certs.ts (e2e does not import other packages' tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of one certificate and its key. */
export interface CertPair {
  cert: string;
  key: string;
}

/** Everything a TLS test needs, as file paths. */
export interface TestPki {
  dir: string;
  /** The trusted CA certificate. */
  ca: string;
  /** Server certificate (SAN IP:127.0.0.1, DNS:localhost) signed by the CA. */
  server: CertPair;
  /** Client certificate CN=alice (signed by the CA). */
  alice: CertPair;
  /** Client certificate CN=root (signed by the CA). */
  root: CertPair;
  /** Client certificate CN=mallory, signed by the CA and then revoked. */
  revoked: CertPair;
  /** The CA's CRL listing `revoked`. */
  crl: string;
  /** The CA's CRL from before the revocation (lists nothing). */
  crlEmpty: string;
  /** Client certificate CN=alice signed by an unrelated CA. */
  wrongCa: CertPair;
  /** The unrelated CA's certificate. */
  otherCa: string;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${name}`,
    '-days',
    '2',
    '-out',
    `${name}.crt`,
  );
}

function makeLeaf(dir: string, ca: string, name: string, cn: string, ext: string): CertPair {
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`);
  openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** Generates a fresh PKI in a temporary directory (about 0.3 s). */
export function generateTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kv-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  const server = makeLeaf(
    dir,
    'ca',
    'server',
    'kv-server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  const alice = makeLeaf(dir, 'ca', 'alice', 'alice', clientExt);
  const root = makeLeaf(dir, 'ca', 'root', 'root', clientExt);
  const revoked = makeLeaf(dir, 'ca', 'mallory', 'mallory', clientExt);
  const wrongCa = makeLeaf(dir, 'other-ca', 'alice-other', 'alice', clientExt);
  // `openssl ca` keeps its revocation database in files next to the CA.
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca=CA_default\n[CA_default]\ndir=${dir}\ndatabase=$dir/index.txt\ncrlnumber=$dir/crlnumber\ncertificate=$dir/ca.crt\nprivate_key=$dir/ca.key\ndefault_md=sha256\ndefault_crl_days=2\n`,
  );
  openssl(dir, 'ca', '-config', 'ca.cnf', '-gencrl', '-out', 'ca-empty.crl');
  openssl(dir, 'ca', '-config', 'ca.cnf', '-revoke', revoked.cert);
  openssl(dir, 'ca', '-config', 'ca.cnf', '-gencrl', '-out', 'ca.crl');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    server,
    alice,
    root,
    revoked,
    crl: join(dir, 'ca.crl'),
    crlEmpty: join(dir, 'ca-empty.crl'),
    wrongCa,
    otherCa: join(dir, 'other-ca.crt'),
  };
}
