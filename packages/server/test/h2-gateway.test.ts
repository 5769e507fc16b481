/**
 * The HTTP handlers (JSON gateway, /health...) over HTTP/2: non-gRPC streams on the client port reach
 * the same request listener as HTTP/1.1, with prior knowledge on plaintext and through ALPN `h2` under
 * TLS. Clients: curl (installed) and node:http2. Then the real kv-server binary: the JSON gateway with
 * `curl --http2-prior-knowledge`, and `--max-concurrent-streams` advertised to clients.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTlsInfo, loadServerTls } from '../src/tls/tls-info.js';
import { ClientListener } from '../src/transport/cmux.js';
import type { ServerCall } from '../src/transport/grpc/call.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { freePort } from './helpers.js';
import { generateTestPki, type TestPki } from './tls-certs.js';

/** The listener under test: echoes method, URL and body; /lines streams 2,000 lines with back-pressure. */
const handler: http.RequestListener = (req, res) => {
  if (req.url === '/lines') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let i = 0;
    const more = () => {
      while (i < 2000) {
        if (!res.write(`line ${i++} ${'x'.repeat(100)}\n`)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      host: req.headers.host,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'keep-alive' });
    res.end(body);
  });
};

function curl(args: string[]): Promise<{ out: string; code: number }> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '--max-time', '10', ...args], (err, stdout) =>
      resolve({ out: stdout, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

function h2Get(session: http2.ClientHttp2Session, path: string, body?: string) {
  return new Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }>(
    (resolve, reject) => {
      const req = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path });
      let text = '';
      let headers: http2.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => {
        headers = h;
      });
      req.on('data', (d: string) => (text += d));
      req.on('end', () => resolve({ status: Number(headers[':status']), body: text, headers }));
      req.on('error', reject);
      req.end(body);
    },
  );
}

describe('HTTP handlers over HTTP/2', () => {
  let pki: TestPki;
  let plain: ClientListener;
  let secure: ClientListener;
  let grpcServer: GrpcServer;
  let plainPort: number;
  let securePort: number;

  beforeAll(async () => {
    pki = generateTestPki();
    grpcServer = new GrpcServer({ maxReceiveMessageLength: 1 << 20 });
    grpcServer.addService(
      {
        hello: {
          path: '/t.S/Hello',
          requestStream: false,
          responseStream: false,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
        },
      },
      { hello: (_c: ServerCall, cb: (e: null, r: Buffer) => void) => cb(null, Buffer.from('grpc')) },
    );
    plain = new ClientListener({ grpc: grpcServer, http: http.createServer(handler) });
    plainPort = await plain.listen(0, '127.0.0.1');
    const tls = loadServerTls({ ...emptyTlsInfo(), certFile: pki.server.cert, keyFile: pki.server.key });
    secure = new ClientListener({
      grpc: grpcServer,
      http: http.createServer(handler),
      tls: { options: tls.serverOptions },
    });
    securePort = await secure.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    grpcServer.forceShutdown();
    await plain.close(0);
    await secure.close(0);
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it('curl --http2-prior-knowledge reaches the HTTP listener, body and all', async () => {
    const r = await curl([
      '--http2-prior-knowledge',
      '-w',
      '\n%{http_version}',
      `http://127.0.0.1:${plainPort}/v3/kv/range`,
      '-d',
      '{"key":"Zm9v"}',
    ]);
    const [body, version] = r.out.split('\n');
    expect(version).toBe('2');
    expect(JSON.parse(body!)).toEqual({
      method: 'POST',
      url: '/v3/kv/range',
      host: `127.0.0.1:${plainPort}`,
      body: '{"key":"Zm9v"}',
    });
  });

  it('curl over TLS negotiates h2 (as with etcd) and reaches the HTTP listener', async () => {
    const r = await curl([
      '--http2',
      '--cacert',
      pki.ca,
      '-w',
      '\n%{http_version}',
      `https://127.0.0.1:${securePort}/health`,
    ]);
    const [body, version] = r.out.split('\n');
    expect(version).toBe('2');
    expect(JSON.parse(body!).url).toBe('/health');
  });

  it('node:http2: connection headers are dropped, a long response streams with back-pressure', async () => {
    const session = http2.connect(`https://127.0.0.1:${securePort}`, { ca: readFileSync(pki.ca) });
    try {
      const r = await h2Get(session, '/echo', 'payload');
      expect(r.status).toBe(200);
      expect(r.headers.connection).toBeUndefined();
      expect(JSON.parse(r.body)).toMatchObject({ method: 'POST', url: '/echo', body: 'payload' });
      const lines = await h2Get(session, '/lines');
      const got = lines.body.trimEnd().split('\n');
      expect(got.length).toBe(2000);
      expect(got[1999]).toMatch(/^line 1999 /);
    } finally {
      session.close();
    }
  });

  it('gRPC and HTTP streams share one HTTP/2 connection', async () => {
    const session = http2.connect(`http://127.0.0.1:${plainPort}`);
    try {
      const grpcReply = await new Promise<Buffer>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST',
          ':path': '/t.S/Hello',
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
        req.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      expect(grpcReply.subarray(5).toString()).toBe('grpc');
      const r = await h2Get(session, '/x');
      expect(JSON.parse(r.body).url).toBe('/x');
    } finally {
      session.close();
    }
  });
});

describe('kv-server binary: gateway over HTTP/2 and --max-concurrent-streams', () => {
  const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');
  let child: ChildProcess;
  let dir: string;
  let port: number;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kv-h2gw-'));
    port = await freePort();
    const peer = await freePort();
    child = spawn(process.execPath, [
      MAIN,
      '--name',
      'n1',
      '--data-dir',
      join(dir, 'd'),
      '--listen-client-urls',
      `http://127.0.0.1:${port}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${port}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `n1=http://127.0.0.1:${peer}`,
      '--max-concurrent-streams',
      '3',
      '--grpc-keepalive-min-time',
      '1s',
    ]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready: ${lines.join('\n')}`)), 20_000);
      let buf = '';
      child.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        lines.push(...parts);
        if (lines.some((l) => l.includes('serving client traffic insecurely'))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });

  afterAll(async () => {
    child.kill();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs and advertises the stream limit', async () => {
    expect(lines.some((l) => l.includes('"max-concurrent-streams":3'))).toBe(true);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve) =>
        session.once('remoteSettings', resolve),
      );
      expect(settings.maxConcurrentStreams).toBe(3);
    } finally {
      session.close();
    }
  });

  it('serves the JSON gateway to curl --http2-prior-knowledge', async () => {
    const base = `http://127.0.0.1:${port}`;
    const put = await curl([
      '--http2-prior-knowledge',
      `${base}/v3/kv/put`,
      '-d',
      '{"key":"aDI=","value":"djI="}',
    ]);
    expect(JSON.parse(put.out).header.revision).toBeDefined();
    const range = await curl([
      '--http2-prior-knowledge',
      '-w',
      '\n%{http_version}',
      `${base}/v3/kv/range`,
      '-d',
      '{"key":"aDI="}',
    ]);
    const [body, version] = range.out.split('\n');
    expect(version).toBe('2');
    expect(JSON.parse(body!).kvs[0].value).toBe('djI=');
  });
});
