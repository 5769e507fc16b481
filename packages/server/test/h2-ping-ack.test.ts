/**
 * PING ACKs and answers in one socket write (src/transport/grpc/h2.ts, flushTask): grpc-go clients send
 * a PING with nearly every request; its ACK waits one event-loop turn while requests are open so that
 * an answer produced meanwhile shares its write. Real sockets, the raw frame client of h2-raw.ts, and
 * the server side's socket writes counted.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerCall } from '../src/transport/grpc/call.js';
import { Flag, FrameType } from '../src/transport/grpc/h2-frame.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { bytesMethod, grpcDataFrame, grpcRequestBlock, headersFrame, pingFrame, RawH2 } from './h2-raw.js';

/** The frame types in one chunk of bytes the server wrote (frames never straddle our writes). */
function frameTypes(chunk: Buffer): Array<{ type: number; flags: number }> {
  const out: Array<{ type: number; flags: number }> = [];
  for (let at = 0; at + 9 <= chunk.length; ) {
    out.push({ type: chunk[at + 3]!, flags: chunk[at + 4]! });
    at += 9 + chunk.readUIntBE(at, 3);
  }
  return out;
}

let server: GrpcServer | undefined;
let client: RawH2 | undefined;
let restoreWrite: (() => void) | undefined;

afterEach(() => {
  restoreWrite?.();
  client?.close();
  server?.forceShutdown();
  client = server = restoreWrite = undefined;
});

/**
 * A server with a unary echo that answers on the next turn (as kv's handlers answer once the store has
 * applied) and a bidi stream that never answers; and the server-side writes to `client`'s connection.
 */
async function setUp(): Promise<{ c: RawH2; writes: Buffer[] }> {
  server = new GrpcServer({ maxReceiveMessageLength: 1 << 20 });
  server.addService(
    { echo: bytesMethod('Echo'), silent: bytesMethod('Silent', true) },
    {
      echo: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => {
        setImmediate(() => cb(null, call.request));
      },
      silent: () => undefined,
    },
  );
  const port = await server.listen(0);
  const c = await RawH2.open(port);
  client = c;
  const writes: Buffer[] = [];
  const original = net.Socket.prototype.write;
  // biome-ignore lint/suspicious/noExplicitAny: the spy forwards whatever write() was given
  net.Socket.prototype.write = function (this: net.Socket, chunk: any, ...rest: any[]) {
    if (this.remotePort === c.socket.localPort && Buffer.isBuffer(chunk)) writes.push(Buffer.from(chunk));
    return original.call(this, chunk, ...rest);
  } as typeof original;
  restoreWrite = () => {
    net.Socket.prototype.write = original;
  };
  // Handshake done (SETTINGS both ways) before counting.
  c.send(pingFrame('sync....'));
  await c.waitFor((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0);
  writes.length = 0;
  return { c, writes };
}

describe('PING ACKs', () => {
  it('a PING that comes with a request is acknowledged in the write that carries the answer, ACK first', async () => {
    const { c, writes } = await setUp();
    for (let i = 0; i < 5; i++) {
      const id = 2 * i + 1;
      const before = writes.length;
      c.send(
        pingFrame(`bdp....${i}`),
        headersFrame(id, grpcRequestBlock('/t.S/Echo')),
        grpcDataFrame(id, Buffer.from(`hello ${i}`), true),
      );
      const trailers = await c.waitFor(
        (f) => f.type === FrameType.HEADERS && f.id === id && (f.flags & Flag.END_STREAM) !== 0,
      );
      expect(trailers).toBeDefined();
      const mine = writes.slice(before);
      expect(mine).toHaveLength(1);
      const types = frameTypes(mine[0]!);
      expect(types[0]).toEqual({ type: FrameType.PING, flags: Flag.ACK });
      expect(types.slice(1).map((t) => t.type)).toEqual([
        FrameType.HEADERS,
        FrameType.DATA,
        FrameType.HEADERS,
      ]);
    }
  });

  it('a PING while a stream waits for an answer that does not come is still acknowledged, alone', async () => {
    const { c, writes } = await setUp();
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Silent')));
    c.send(pingFrame('waiting.'));
    const ack = await c.waitFor(
      (f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.toString() === 'waiting.',
      2000,
    );
    expect(ack).toBeDefined();
    expect(writes.map((w) => frameTypes(w).map((t) => t.type))).toEqual([[FrameType.PING]]);
  });
});
