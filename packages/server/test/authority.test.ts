import { spawn } from 'node:child_process';
import * as http2 from 'node:http2';
import { RangeRequest, RangeResponse } from '@kv/client/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, connect, s } from './helpers.js';

/** A raw gRPC unary call over Node's http2 client with a chosen :authority. */
function rawRange(session: http2.ClientHttp2Session, authority: string, key: string): Promise<RangeResponse> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/Range',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const msg = RangeRequest.encode({ key: b(key) });
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    frame.set(msg, 5);
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length < 5) return reject(new Error('no grpc message'));
      resolve(RangeResponse.decode(body.subarray(5, 5 + body.readUInt32BE(1))));
    });
    req.on('error', reject);
    req.end(frame);
  });
}

describe('HTTP/2 :authority repair (Go clients dialing passthrough:///http://...)', () => {
  let srv: StartedServer;
  beforeAll(async () => {
    srv = await startServer();
    const c = connect(srv.address);
    await call(c.kv, 'put', { key: b('auth'), value: b('ok') });
    c.close();
  });
  afterAll(async () => {
    await srv.close();
  });

  it('accepts an authority with a scheme on the first and later requests of a connection', async () => {
    const session = http2.connect(srv.endpoint);
    try {
      const authority = `http://${srv.address}`;
      const first = await rawRange(session, authority, 'auth');
      expect(s(first.kvs[0]!.value)).toBe('ok');
      // Later requests reuse the HPACK dynamic-table entry the first one created.
      for (let i = 0; i < 3; i++) {
        const again = await rawRange(session, authority, 'auth');
        expect(again.count).toBe(1);
      }
    } finally {
      session.close();
    }
  });

  it('passes well-formed connections through untouched', async () => {
    const session = http2.connect(srv.endpoint);
    try {
      const r = await rawRange(session, srv.address, 'auth');
      expect(s(r.kvs[0]!.value)).toBe('ok');
    } finally {
      session.close();
    }
  });

  it('forwards large requests from etcdctl (grpc-go) intact', async () => {
    // grpc-go opens with an empty SETTINGS frame, so its connections go through the byte-stream
    // inspection; a request larger than one read must still arrive whole, on every attempt.
    // (The server runs in this process, so etcdctl must be spawned asynchronously.)
    const put = (key: string, value: string) =>
      new Promise<string>((resolve) => {
        const p = spawn('etcdctl', [`--endpoints=${srv.endpoint}`, '--command-timeout=3s', 'put', key], {
          env: { ...process.env, ETCDCTL_API: '3' },
        });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('close', () => resolve(out));
        p.stdin.end(value);
      });
    for (let i = 0; i < 6; i++) {
      expect(await put(`large${i}`, 'x'.repeat(200_000 + i * 150_000))).toBe('OK\n');
    }
  });
});
