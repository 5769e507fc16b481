/**
 * TLS and mutual TLS from the client, against kv-server and etcd: the server's certificate is
 * checked against the given CA, and with --client-cert-auth the client's certificate is required.
 * Certificates come from the server package's openssl-based test PKI.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTestPki, type TestPki } from '../../server/test/tls-certs.js';
import { KvError } from '../src/index.js';
import { SERVER_KINDS, startServer, type TestServer } from './servers.js';

let pki: TestPki;
beforeAll(() => {
  pki = generateTestPki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

describe.each(SERVER_KINDS)('TLS against %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(kind, {
      tls: { ...pki.server, ca: pki.ca, clientCert: pki.root },
      flags: [`--trusted-ca-file=${pki.ca}`, '--client-cert-auth'],
    });
  });
  afterAll(() => server?.destroy());

  it('talks mutual TLS with the CA and a client certificate', async () => {
    const client = server.client({
      tls: { ca: readFileSync(pki.ca), cert: readFileSync(pki.root.cert), key: readFileSync(pki.root.key) },
    });
    await client.put('tls/k', 'v');
    expect(await client.get('tls/k').string()).toBe('v');
  });

  it('fails without a client certificate, and with an untrusted server CA', async () => {
    const noCert = server.client({ tls: { ca: readFileSync(pki.ca) }, dialTimeoutMs: 1500 });
    await expect(noCert.get('tls/k')).rejects.toBeInstanceOf(KvError);
    const wrongCa = server.client({
      tls: {
        ca: readFileSync(pki.otherCa),
        cert: readFileSync(pki.root.cert),
        key: readFileSync(pki.root.key),
      },
      dialTimeoutMs: 1500,
    });
    await expect(wrongCa.get('tls/k')).rejects.toBeInstanceOf(KvError);
  });
});
