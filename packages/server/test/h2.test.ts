/**
 * kv's HTTP/2 layer (src/transport/grpc/h2.ts, hpack.ts) against Node's own HTTP/2 client (nghttp2),
 * which exercises the protocol's corners: HPACK with Huffman strings and a dynamic table, header blocks
 * split into CONTINUATION frames, padded frames, flow control with a tiny peer window, PING, stream
 * resets, malformed connections, and a handler that throws.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MethodDefinition, ServerCall } from '../src/transport/grpc/call.js';
import { EncodedFields } from '../src/transport/grpc/h2.js';
import { encodeFields, HpackDecoder } from '../src/transport/grpc/hpack.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { frame } from './raw-grpc.js';

const bytesMethod = (name: string, responseStream = false): MethodDefinition<Buffer, Buffer> => ({
  path: `/t.S/${name}`,
  requestStream: false,
  responseStream,
  requestDeserialize: (b) => Buffer.from(b),
  responseSerialize: (v) => v,
  originalName: name,
});

interface Reply {
  status?: number;
  grpcStatus?: number;
  body: Buffer;
}

describe('HTTP/2 layer', () => {
  let server: GrpcServer;
  let port: number;
  let session: http2.ClientHttp2Session;
  const errors: unknown[] = [];
  const kept: ServerCall<Buffer, Buffer>[] = [];

  beforeEach(async () => {
    errors.length = 0;
    const quiet = { started() {}, handled() {}, received() {}, sent() {} };
    server = new GrpcServer({
      maxReceiveMessageLength: 8 << 20,
      onHandlerError: (e) => errors.push(e),
      // A fault outside any handler's own error handling (here: the counters of method Crash).
      statsFor: (_s, m) =>
        m.originalName === 'Crash'
          ? {
              ...quiet,
              started() {
                throw new Error('stats bug');
              },
            }
          : quiet,
    });
    server.addService(
      {
        echo: bytesMethod('Echo'),
        meta: bytesMethod('Meta'),
        big: bytesMethod('Big', true),
        boom: bytesMethod('Boom'),
        crash: bytesMethod('Crash'),
        later: bytesMethod('Later'),
      },
      {
        echo: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => cb(null, call.request),
        meta: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) =>
          cb(null, Buffer.from(call.metadata.get(call.request.toString())[0] ?? '')),
        big: (call: ServerCall<Buffer, Buffer>) => {
          // Several messages larger than a small peer window: sent as the window allows.
          for (let i = 0; i < 4; i++) call.write(Buffer.alloc(50_000, 97 + i));
          call.end();
        },
        boom: () => {
          throw new Error('handler bug');
        },
        crash: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => cb(null, call.request),
        later: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => {
          kept.push(call);
          setImmediate(() => cb(null, call.request));
        },
      },
    );
    port = await server.listen(0);
  });

  afterEach(() => {
    session?.close();
    server.forceShutdown();
  });

  const connect = (settings: http2.Settings = {}, opts: http2.ClientSessionOptions = {}) => {
    session = http2.connect(`http://127.0.0.1:${port}`, { settings, ...opts });
    session.on('error', () => undefined);
    return session;
  };

  const call = (s: http2.ClientHttp2Session, path: string, body: Buffer, headers = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = s.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const out: Reply = { body: Buffer.alloc(0) };
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        out.status = Number(h[':status']);
        if (h['grpc-status'] !== undefined) out.grpcStatus = Number(h['grpc-status']);
      });
      req.on('trailers', (h) => {
        out.grpcStatus = Number(h['grpc-status']);
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        out.body = Buffer.concat(chunks);
        resolve(out);
      });
      req.on('error', reject);
      req.end(frame(body));
    });

  it('decodes Huffman-coded and dynamically indexed headers across many concurrent streams', async () => {
    const s = connect();
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(s, '/t.S/Meta', Buffer.from('x-key'), { 'x-key': `value-${i % 7}-${'z'.repeat(i)}` }),
      ),
    );
    replies.forEach((r, i) => {
      expect(r.grpcStatus).toBe(0);
      expect(r.body.subarray(5).toString()).toBe(`value-${i % 7}-${'z'.repeat(i)}`);
    });
  });

  it('a closed stream lets go of its handler callbacks and request headers; the call keeps its metadata', async () => {
    // Why: a closed stream can still be pointed at from garbage a young-generation collection treats
    // as live, and whatever it points to is then copied and promoted (docs/benchmarks.md "Session 9").
    kept.length = 0;
    const s = connect();
    const r = await call(s, '/t.S/Later', Buffer.from('x'), { 'x-note': 'kept' });
    expect(r.grpcStatus).toBe(0);
    expect(kept).toHaveLength(1);
    const stream = kept[0]!.stream;
    await new Promise((resolve) => setImmediate(resolve));
    expect(stream.onData).toBeUndefined();
    expect(stream.onEnd).toBeUndefined();
    expect(stream.onClose).toBeUndefined();
    expect(stream.onDrain).toBeUndefined();
    expect(Object.keys(stream.headers)).toEqual([]);
    expect(kept[0]!.metadata.get('x-note')).toEqual(['kept']);
  });

  it('reassembles header blocks split into CONTINUATION frames', async () => {
    const s = connect();
    const huge = 'h'.repeat(40_000); // larger than a 16 KiB frame: HEADERS + CONTINUATION
    const r = await call(s, '/t.S/Meta', Buffer.from('x-huge'), { 'x-huge': huge });
    expect([r.grpcStatus, r.body.subarray(5).toString()]).toEqual([0, huge]);
  });

  it('accepts padded HEADERS and DATA frames', async () => {
    const s = connect({}, { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
    const r = await call(s, '/t.S/Echo', Buffer.from('padded'));
    expect([r.grpcStatus, r.body.subarray(5).toString()]).toEqual([0, 'padded']);
  });

  it('holds DATA back for a tiny peer window and sends it as the window opens', async () => {
    const s = connect({ initialWindowSize: 100 });
    const r = await call(s, '/t.S/Big', Buffer.alloc(0));
    expect(r.grpcStatus).toBe(0);
    expect(r.body.length).toBe(4 * (5 + 50_000));
    for (let i = 0; i < 4; i++) expect(r.body[i * 50_005 + 5 + 49_999]).toBe(97 + i);
  });

  it('takes a request body far beyond the initial stream window', async () => {
    const s = connect();
    const body = Buffer.alloc(5 << 20, 7);
    const r = await call(s, '/t.S/Echo', body);
    expect([r.grpcStatus, r.body.length]).toEqual([0, body.length + 5]);
  });

  it('answers PING', async () => {
    const s = connect();
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    const echoed = await new Promise<Buffer>((resolve, reject) =>
      s.ping(Buffer.from('12345678'), (err, _ms, payload) => (err ? reject(err) : resolve(payload))),
    );
    expect(echoed.toString()).toBe('12345678');
  });

  it('answers a handler that throws with UNKNOWN, and resets streams whose setup fails', async () => {
    const s = connect();
    const boom = await call(s, '/t.S/Boom', Buffer.from('x'));
    expect([boom.status, boom.grpcStatus]).toEqual([200, 2]);
    await expect(call(s, '/t.S/Crash', Buffer.from('x'))).rejects.toThrow(/RST_STREAM|INTERNAL_ERROR|code 2/);
    expect(errors.map(String)).toEqual(['Error: stats bug']);
    // The connection carries on.
    const r = await call(s, '/t.S/Echo', Buffer.from('still here'));
    expect(r.body.subarray(5).toString()).toBe('still here');
  });

  it('refuses a connection that does not start with the preface', async () => {
    const closed = await new Promise<Buffer>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      const got: Buffer[] = [];
      sock.on('data', (d) => got.push(d));
      sock.on('close', () => resolve(Buffer.concat(got)));
    });
    // Our SETTINGS and WINDOW_UPDATE, then GOAWAY (type 7) with PROTOCOL_ERROR (1).
    const goaway = closed.indexOf(Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x00]));
    expect(goaway).toBeGreaterThan(0);
    expect(closed.readUInt32BE(goaway + 10)).toBe(1);
  });
});

describe('HpackDecoder', () => {
  it("decodes RFC 7541's request examples with Huffman coding (C.4), keeping the dynamic table", () => {
    const d = new HpackDecoder();
    const hex = (h: string) => Buffer.from(h.replace(/\s/g, ''), 'hex');
    expect({ ...d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')) }).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
    });
    expect({ ...d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')) }).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
      'cache-control': 'no-cache',
    });
    expect({ ...d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')) }).toEqual({
      ':method': 'GET',
      ':scheme': 'https',
      ':path': '/index.html',
      ':authority': 'www.example.com',
      'custom-key': 'custom-value',
    });
  });

  it("a field's name never finds an inherited property, and a __proto__ field is a plain field", () => {
    const d = new HpackDecoder();
    // Literal fields without indexing (0x00), raw (not Huffman) name and value.
    const lit = (n: string, v: string) =>
      Buffer.concat([Buffer.from([0x00, n.length]), Buffer.from(n), Buffer.from([v.length]), Buffer.from(v)]);
    const h = d.decode(Buffer.concat([Buffer.from([0x83]), lit('__proto__', 'x'), lit('te', 'trailers')]));
    expect(h[':method']).toBe('POST');
    expect(Object.getOwnPropertyDescriptor(h, '__proto__')?.value).toBe('x');
    expect(Object.keys(h)).toEqual([':method', '__proto__', 'te']);
    expect(h.constructor).toBeUndefined();
    expect(h.toString).toBeUndefined();
    expect(h.hasOwnProperty).toBeUndefined();
  });

  it('an EncodedFields block (the OK trailers every unary call shares) decodes alike each time it is sent', () => {
    const ok = new EncodedFields([['grpc-status', '0']]);
    expect(ok.bytes.equals(encodeFields(ok.fields))).toBe(true);
    const d = new HpackDecoder();
    // Literals without indexing: sending the same bytes again leaves no dynamic-table state behind.
    for (let i = 0; i < 3; i++) expect({ ...d.decode(ok.bytes) }).toEqual({ 'grpc-status': '0' });
  });

  it('refuses malformed blocks', () => {
    const d = new HpackDecoder();
    expect(() => d.decode(Buffer.from([0x80]))).toThrow(/index 0/);
    expect(() => d.decode(Buffer.from([0xff, 0x7f]))).toThrow(/out of range/);
    expect(() => d.decode(Buffer.from([0x82, 0x3f, 0xe1, 0x1f]))).toThrow(/table size update after a field/);
    expect(() => d.decode(Buffer.from([0x40, 0x05, 0x61]))).toThrow(/truncated/);
  });
});
