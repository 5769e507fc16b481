/**
 * The client's TLS handshake: an IP endpoint is checked against the certificate's IP SANs and never
 * sent as the TLS server name (RFC 6066; Node 26 refuses the connection outright when a client tries),
 * a DNS endpoint is sent as SNI. The server is node:http2 over real TLS on loopback, answering the
 * gRPC Maintenance.Status call with an empty message, and it records each connection's SNI.
 */

import { readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTestPki, type TestPki } from '../../server/test/tls-certs.js';
import { KvClient, KvError, tlsChannelCredentials } from '../src/index.js';
import { tlsHostOf } from '../src/tls-credentials.js';

let pki: TestPki;
let server: Http2SecureServer;
let port: number;
/** The SNI of every TLS connection the server accepted, in order (false: none sent). */
const serverNames: (string | false)[] = [];
const warnings: string[] = [];
const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code ?? ''} ${w.message}`);

beforeAll(async () => {
  pki = generateTestPki();
  server = createSecureServer({
    cert: readFileSync(pki.server.cert),
    key: readFileSync(pki.server.key),
    ALPNProtocols: ['h2'],
  });
  server.on('secureConnection', (s: TLSSocket) => {
    serverNames.push((s as TLSSocket & { servername?: string | false }).servername || false);
  });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.alloc(5)); // one uncompressed, empty StatusResponse
    stream.resume();
  });
  // 0.0.0.0: reachable as 127.0.0.1 (in the certificate) and as 127.0.0.2 (not in it).
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  port = (server.address() as AddressInfo).port;
  process.on('warning', onWarning);
});

afterAll(async () => {
  process.off('warning', onWarning);
  await new Promise((resolve) => server?.close(resolve));
  rmSync(pki.dir, { recursive: true, force: true });
});

async function statusVia(endpoint: string, tls: Parameters<typeof tlsChannelCredentials>[0]) {
  const before = serverNames.length;
  const client = new KvClient({ endpoints: [endpoint], tls, dialTimeoutMs: 2000 });
  try {
    await client.status();
    return serverNames.slice(before);
  } finally {
    client.close();
  }
}

describe('tlsChannelCredentials', () => {
  it('dials an IP address without SNI and checks the certificate against the IP', async () => {
    const names = await statusVia(`https://127.0.0.1:${port}`, { ca: readFileSync(pki.ca) });
    expect(names).toEqual([false]);
    expect(warnings.filter((w) => w.includes('DEP0123') || w.includes('ServerName'))).toEqual([]);
  });

  it('sends a DNS name as SNI', async () => {
    const names = await statusVia(`https://localhost:${port}`, { ca: readFileSync(pki.ca) });
    expect(names).toEqual(['localhost']);
  });

  it('refuses an IP the certificate does not name, unless verification is skipped', async () => {
    const ca = readFileSync(pki.ca);
    const client = new KvClient({
      endpoints: [`https://127.0.0.2:${port}`],
      tls: { ca },
      dialTimeoutMs: 1500,
    });
    try {
      await expect(client.status()).rejects.toBeInstanceOf(KvError);
    } finally {
      client.close();
    }
    expect(await statusVia(`https://127.0.0.2:${port}`, { insecureSkipVerify: true })).toEqual([false]);
  });

  it('refuses a server certificate from another CA', async () => {
    const client = new KvClient({
      endpoints: [`https://127.0.0.1:${port}`],
      tls: { ca: readFileSync(pki.otherCa) },
      dialTimeoutMs: 1500,
    });
    try {
      await expect(client.status()).rejects.toBeInstanceOf(KvError);
    } finally {
      client.close();
    }
  });

  it('wants a client certificate and its key together', () => {
    expect(() => tlsChannelCredentials({ cert: readFileSync(pki.root.cert) })).toThrow(
      'a client certificate and its private key must be given together',
    );
    expect(() => tlsChannelCredentials({ key: readFileSync(pki.root.key) })).toThrow(/given together/);
  });

  it('names the host of each kind of grpc-js target', () => {
    expect(tlsHostOf({ scheme: 'dns', path: '10.0.0.1:2379' })).toBe('10.0.0.1');
    expect(tlsHostOf({ scheme: 'dns', path: 'etcd-0.example:2379' })).toBe('etcd-0.example');
    expect(tlsHostOf({ scheme: 'dns', path: '[::1]:2379' })).toBe('::1');
    expect(tlsHostOf({ scheme: 'ipv4', path: '10.0.0.1:2379,10.0.0.2:2379' })).toBe('10.0.0.1');
    expect(tlsHostOf({ scheme: 'unix', path: '/run/etcd.sock' })).toBe('localhost');
  });
});
