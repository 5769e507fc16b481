/**
 * kv's own gRPC server (src/transport/grpc) against a real grpc-js client and raw HTTP/2: unary and
 * streaming calls, metadata, statuses with non-ASCII messages, compressed requests, the receive limit,
 * malformed requests with grpc-go's statuses, cancellation, back-pressure and shutdown.
 */
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MethodDefinition, MethodStats, ServerCall } from '../src/transport/grpc/call.js';
import { MessageReader } from '../src/transport/grpc/framing.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { frame, RawGrpcClient } from './raw-grpc.js';

const LIMIT = 4 << 20;

/** Buffers in and out; a request starting with 0xff fails to "decode". */
function method(
  name: string,
  requestStream: boolean,
  responseStream: boolean,
): MethodDefinition<Buffer, Buffer> & {
  requestSerialize(v: Buffer): Buffer;
  responseDeserialize(b: Buffer): Buffer;
} {
  return {
    // The client's side of the definition (grpc-js).
    requestSerialize: (v) => v,
    responseDeserialize: (b) => Buffer.from(b),
    path: `/test.Echo/${name}`,
    requestStream,
    responseStream,
    requestDeserialize: (b) => {
      if (b[0] === 0xff) throw new Error('bad wire type');
      return Buffer.from(b);
    },
    responseSerialize: (v) => v,
    originalName: name,
  };
}

const DEF = {
  unary: method('Unary', false, false),
  meta: method('Meta', false, false),
  fail: method('Fail', false, false),
  wait: method('Wait', false, false),
  many: method('Many', false, true),
  echo: method('Echo', true, true),
};
// biome-ignore lint/suspicious/noExplicitAny: generic grpc-js client over a hand-made definition
type AnyClient = any;

describe('gRPC transport', () => {
  let server: GrpcServer;
  let port: number;
  let client: AnyClient;
  const handled: string[] = [];
  let waitCancelled: Promise<void>;
  let onWaitCancelled: () => void;
  let slowUnaryMs = 0;

  const stats = (_s: string, m: MethodDefinition): MethodStats => ({
    started() {},
    handled: (code) => handled.push(`${m.originalName}:${code}`),
    received() {},
    sent() {},
  });

  beforeEach(async () => {
    handled.length = 0;
    waitCancelled = new Promise((r) => {
      onWaitCancelled = r;
    });
    server = new GrpcServer({ maxReceiveMessageLength: LIMIT, statsFor: stats });
    server.addService(DEF, {
      unary: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => {
        if (slowUnaryMs) setTimeout(() => cb(null, call.request), slowUnaryMs);
        else cb(null, call.request);
      },
      meta: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) =>
        cb(null, Buffer.from(call.metadata.get('token').join(','))),
      fail: (_call: ServerCall, cb: (e: { code: number; details: string }) => void) =>
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'etcdserver: ünïcode 100% wrong\nline' }),
      wait: (call: ServerCall) => call.on('cancelled', () => onWaitCancelled()),
      many: (call: ServerCall<Buffer, Buffer>) => {
        const n = call.request.readUInt32BE(0);
        let i = 0;
        const pump = () => {
          while (i < n) {
            const msg = Buffer.alloc(16 * 1024, i % 251);
            msg.writeUInt32BE(i++, 0);
            if (!call.write(msg)) {
              call.once('drain', pump);
              return;
            }
          }
          call.end();
        };
        pump();
      },
      echo: (call: ServerCall<Buffer, Buffer>) => {
        call.on('data', (m: Buffer) => call.write(m));
        call.on('end', () => call.end());
      },
    });
    port = await server.listen(0);
    const Client = grpc.makeGenericClientConstructor(DEF as unknown as grpc.ServiceDefinition, 'Echo');
    client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
    });
  });

  afterEach(() => {
    slowUnaryMs = 0;
    client.close();
    server.forceShutdown();
  });

  const unary = (c: AnyClient, name: string, req: Buffer, md = new grpc.Metadata()): Promise<Buffer> =>
    new Promise((ok, fail) => c[name](req, md, (e: Error | null, r: Buffer) => (e ? fail(e) : ok(r))));

  it('answers unary calls from a grpc-js client, with metadata', async () => {
    expect((await unary(client, 'unary', Buffer.from('hello'))).toString()).toBe('hello');
    expect((await unary(client, 'unary', Buffer.alloc(0))).length).toBe(0);
    const md = new grpc.Metadata();
    md.set('token', 'abc.123');
    expect((await unary(client, 'meta', Buffer.from('x'), md)).toString()).toBe('abc.123');
    expect(handled).toEqual(['Unary:0', 'Unary:0', 'Meta:0']);
  });

  it('sends error statuses with their exact message, whatever the characters', async () => {
    await expect(unary(client, 'fail', Buffer.from('x'))).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: 'etcdserver: ünïcode 100% wrong\nline',
    });
    expect(handled).toEqual([`Fail:${grpc.status.FAILED_PRECONDITION}`]);
  });

  it('accepts gzip-compressed requests from grpc-js', async () => {
    const Client = grpc.makeGenericClientConstructor(DEF as unknown as grpc.ServiceDefinition, 'Echo');
    const gz = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.default_compression_algorithm': 2,
    }) as AnyClient;
    try {
      const big = Buffer.alloc(200_000, 7);
      expect((await unary(gz, 'unary', big)).equals(big)).toBe(true);
    } finally {
      gz.close();
    }
  });

  it('takes a message split over many chunks and refuses one over the limit from its prefix', async () => {
    const big = Buffer.alloc(LIMIT - 10, 3);
    big[12345] = 9;
    expect((await unary(client, 'unary', big)).equals(big)).toBe(true);
    await expect(unary(client, 'unary', Buffer.alloc(LIMIT + 1))).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `grpc: received message larger than max (${LIMIT + 1} vs. ${LIMIT})`,
    });
  });

  it('streams thousands of messages with back-pressure, in order', async () => {
    const req = Buffer.alloc(4);
    req.writeUInt32BE(1500, 0);
    const stream = client.many(req);
    const seen: number[] = [];
    await new Promise<void>((ok, fail) => {
      stream.on('data', (m: Buffer) => seen.push(m.readUInt32BE(0)));
      stream.on('end', ok);
      stream.on('error', fail);
    });
    expect(seen).toEqual([...Array(1500).keys()]);
    expect(handled).toEqual(['Many:0']);
  });

  it('runs bidirectional streams until the client half-closes', async () => {
    const stream = client.echo();
    const got: string[] = [];
    const done = new Promise<void>((ok, fail) => {
      stream.on('data', (m: Buffer) => got.push(m.toString()));
      stream.on('end', ok);
      stream.on('error', fail);
    });
    for (let i = 0; i < 100; i++) stream.write(Buffer.from(`m${i}`));
    stream.end();
    await done;
    expect(got).toEqual([...Array(100).keys()].map((i) => `m${i}`));
  });

  it('tells the handler when the client cancels', async () => {
    const call = client.wait(Buffer.from('x'), (_e: unknown) => undefined);
    await new Promise((r) => setTimeout(r, 50));
    call.cancel();
    await waitCancelled;
    expect(handled).toEqual([`Wait:${grpc.status.CANCELLED}`]);
  });

  it("answers malformed requests with grpc-go's statuses", async () => {
    const raw = new RawGrpcClient(`http://127.0.0.1:${port}`);
    try {
      const call = (path: string, body: Buffer, headers = {}) => raw.call(path, body, { headers });
      const at = (o: { grpcStatus?: number; grpcMessage?: string }) => [o.grpcStatus, o.grpcMessage];
      const S = grpc.status;
      expect(at(await call('/test.Nope/X', frame(Buffer.from('a'))))).toEqual([
        S.UNIMPLEMENTED,
        'unknown service test.Nope',
      ]);
      expect(at(await call('/test.Echo/Nope', frame(Buffer.from('a'))))).toEqual([
        S.UNIMPLEMENTED,
        'unknown method Nope for service test.Echo',
      ]);
      expect(at(await call('/test.Echo/Unary', Buffer.alloc(0)))).toEqual([S.UNKNOWN, 'EOF']);
      expect(at(await call('/test.Echo/Unary', frame(Buffer.from('abc'), { declaredLength: 9 })))).toEqual([
        S.UNKNOWN,
        'unexpected EOF',
      ]);
      expect(at(await call('/test.Echo/Unary', frame(Buffer.from([0xff, 1]))))).toEqual([
        S.INTERNAL,
        'grpc: error unmarshalling request: bad wire type',
      ]);
      expect(at(await call('/test.Echo/Unary', frame(Buffer.from('a'), { flag: 2 })))).toEqual([
        S.INTERNAL,
        'grpc: received unexpected payload format 2',
      ]);
      expect(at(await call('/test.Echo/Unary', frame(Buffer.from('a'), { flag: 1 })))).toEqual([
        S.INTERNAL,
        'grpc: compressed flag set with identity or empty encoding',
      ]);
      expect(
        at(
          await call('/test.Echo/Unary', frame(Buffer.from('a'), { flag: 1 }), { 'grpc-encoding': 'snappy' }),
        ),
      ).toEqual([S.UNIMPLEMENTED, 'grpc: Decompressor is not installed for grpc-encoding "snappy"']);
      const ok = await call('/test.Echo/Unary', frame(gzipSync(Buffer.from('zipped')), { flag: 1 }), {
        'grpc-encoding': 'gzip',
      });
      expect([ok.grpcStatus, ok.messages.map(String)]).toEqual([S.OK, ['zipped']]);
      const plain = await call('/test.Echo/Unary', frame(Buffer.from('a')), { 'content-type': 'text/plain' });
      expect([plain.httpStatus, plain.grpcStatus]).toEqual([415, S.INTERNAL]);
      // A bad message in a bidirectional stream ends that stream with the status.
      const bidi = await call(
        '/test.Echo/Echo',
        Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from([0xff]))]),
      );
      expect([bidi.grpcStatus, bidi.messages.map(String)]).toEqual([S.INTERNAL, ['a']]);
    } finally {
      raw.close();
    }
  });

  it('lets open calls finish on graceful shutdown', async () => {
    slowUnaryMs = 300;
    const answer = unary(client, 'unary', Buffer.from('late'));
    await new Promise((r) => setTimeout(r, 50));
    const stopped = new Promise<void>((r) => server.tryShutdown(r));
    expect((await answer).toString()).toBe('late');
    await stopped;
  });
});

describe('MessageReader', () => {
  it('reassembles messages fed one byte at a time', () => {
    const bodies = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(70_000, 1)];
    const wire = Buffer.concat(bodies.map((b) => frame(b)));
    const r = new MessageReader(1 << 20, undefined);
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) out.push(...r.push(wire.subarray(i, i + 1)));
    expect(out.map((b) => b.length)).toEqual([5, 0, 70_000]);
    expect(out[0]!.toString()).toBe('first');
    expect(r.partial).toBe(false);
  });
});
