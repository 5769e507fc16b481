/**
 * kv's HTTP/2 layer under attack, over real sockets with a raw frame writer (h2-raw.ts): the limits it
 * advertises and enforces, flow control, and one test per abuse nghttp2 defends against (rapid reset,
 * PING / SETTINGS / empty DATA / WINDOW_UPDATE / CONTINUATION floods, HPACK bombs, silent and slow
 * connections, gRPC keep-alive enforcement), each answered with GOAWAY or a bounded reaction.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientListener } from '../src/transport/cmux.js';
import type { ServerCall } from '../src/transport/grpc/call.js';
import {
  ErrorCode,
  encodeFrame,
  Flag,
  FrameType,
  settingsPayload,
  u32,
} from '../src/transport/grpc/h2-frame.js';
import type { H2Limits } from '../src/transport/grpc/h2-limits.js';
import { GrpcServer } from '../src/transport/grpc/server.js';
import { bytesMethod, grpcDataFrame, grpcRequestBlock, headersFrame, pingFrame, RawH2 } from './h2-raw.js';

interface TestServer {
  port: number;
  /** Handler runs. */
  runs: number;
  /** What the bidi handler saw: write() refusals and 'drain' events. */
  refused: number;
  drains: number;
  goAways: Array<{ code: number; reason: string }>;
}

const servers: GrpcServer[] = [];
const clients: RawH2[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

/**
 * A server with an async unary echo (it answers on the next turn, like kv's handlers that wait for
 * the store) and a bidi "Chat" that answers each message with `reply` bytes, honouring back-pressure.
 */
async function serve(limits: Partial<H2Limits> = {}, reply = 100): Promise<TestServer> {
  const t: TestServer = { port: 0, runs: 0, refused: 0, drains: 0, goAways: [] };
  const server = new GrpcServer({
    maxReceiveMessageLength: 4 << 20,
    limits,
    onGoAway: (g) => t.goAways.push({ code: g.code, reason: g.reason }),
  });
  server.addService(
    { echo: bytesMethod('Echo'), chat: bytesMethod('Chat', true) },
    {
      echo: (call: ServerCall<Buffer, Buffer>, cb: (e: null, r: Buffer) => void) => {
        t.runs++;
        setImmediate(() => cb(null, call.request));
      },
      chat: (call: ServerCall<Buffer, Buffer>) => {
        t.runs++;
        call.on('data', () => {
          if (!call.write(Buffer.alloc(reply, 120))) t.refused++;
        });
        call.on('drain', () => t.drains++);
        call.on('end', () => call.end());
      },
    },
  );
  servers.push(server);
  t.port = await server.listen(0);
  return t;
}

async function open(port: number, opts: Parameters<typeof RawH2.open>[1] = {}): Promise<RawH2> {
  const c = await RawH2.open(port, opts);
  clients.push(c);
  return c;
}

/** The start of a gRPC message declaring `declared` bytes, with `have` of them: no message completes. */
function partialMessage(declared: number, have: number): Buffer {
  const b = Buffer.alloc(5 + have, 7);
  b[0] = 0;
  b.writeUInt32BE(declared, 1);
  return b;
}

/** `n` streams to `path`, each opened, sent one message and cancelled (RST_STREAM CANCEL), back to back. */
function openSendCancel(path: string, n: number): Buffer {
  const block = grpcRequestBlock(path);
  const burst: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const id = 2 * i + 1;
    burst.push(
      headersFrame(id, block),
      grpcDataFrame(id, Buffer.from('x'), false),
      encodeFrame(FrameType.RST_STREAM, 0, id, u32(ErrorCode.CANCEL)),
    );
  }
  return Buffer.concat(burst);
}

/** Sends a PING and waits for its ACK: every frame sent before it has been processed by then. */
async function sync(c: RawH2, tag: string): Promise<void> {
  c.send(pingFrame(tag));
  const want = tag.padEnd(8, '.').slice(0, 8);
  await c.waitFor(
    (f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.toString() === want,
  );
}

function settingsOf(c: RawH2): Map<number, number> {
  const f = c.frames.find((x) => x.type === FrameType.SETTINGS && !(x.flags & Flag.ACK))!;
  const m = new Map<number, number>();
  for (let i = 0; i < f.payload.length; i += 6)
    m.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return m;
}

describe('HTTP/2 limits', () => {
  it("advertises etcd's stream limit and its own limits in SETTINGS", async () => {
    const t = await serve();
    const c = await open(t.port);
    await c.waitFor((f) => f.type === FrameType.SETTINGS);
    expect(Object.fromEntries(settingsOf(c))).toEqual({
      1: 4096, // HEADER_TABLE_SIZE
      2: 0, // ENABLE_PUSH
      3: 4294967295, // MAX_CONCURRENT_STREAMS: etcd's math.MaxUint32, advertised as grpc-go does
      4: 1 << 20, // INITIAL_WINDOW_SIZE
      5: 16384, // MAX_FRAME_SIZE
      6: 65536, // MAX_HEADER_LIST_SIZE
    });
  });

  it('refuses streams past MAX_CONCURRENT_STREAMS with REFUSED_STREAM and serves the others', async () => {
    const t = await serve({ maxConcurrentStreams: 2 });
    const c = await open(t.port);
    await c.waitFor((f) => f.type === FrameType.SETTINGS);
    expect(settingsOf(c).get(3)).toBe(2);
    const chat = grpcRequestBlock('/t.S/Chat');
    c.send(headersFrame(1, chat), headersFrame(3, chat), headersFrame(5, chat));
    await sync(c, 'streams1');
    expect(c.resets(5)).toEqual([ErrorCode.REFUSED_STREAM]);
    expect(c.resets(1)).toEqual([]);
    expect(t.runs).toBe(2);
    // Ending one stream makes room for the next.
    c.send(encodeFrame(FrameType.DATA, Flag.END_STREAM, 1));
    await c.waitFor((f) => f.type === FrameType.HEADERS && f.id === 1 && (f.flags & Flag.END_STREAM) !== 0);
    c.send(headersFrame(7, chat));
    await sync(c, 'streams2');
    expect(c.resets(7)).toEqual([]);
    expect(t.runs).toBe(3);
  });

  it('a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE is a COMPRESSION_ERROR', async () => {
    const t = await serve();
    const c = await open(t.port);
    // 001xxxxx: table size update to 8192 (31 + 8161 as a 5-bit-prefix integer).
    const update = Buffer.from([0x3f, 0xe1, 0x3f]);
    c.send(headersFrame(1, Buffer.concat([update, grpcRequestBlock('/t.S/Echo')]), { end: true }));
    expect((await c.goAway())?.code).toBe(ErrorCode.COMPRESSION_ERROR);
    expect(t.runs).toBe(0);
  });

  it('a frame over MAX_FRAME_SIZE is a connection error', async () => {
    const t = await serve();
    const c = await open(t.port);
    c.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16385)));
    expect((await c.goAway())?.code).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it('answers a header list over MAX_HEADER_LIST_SIZE with 431 and keeps the connection', async () => {
    const t = await serve({ maxHeaderListSize: 1024 });
    const c = await open(t.port);
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Echo', [['x-big', 'y'.repeat(2000)]]), { end: true }));
    const h = await c.waitFor((f) => f.type === FrameType.HEADERS && f.id === 1);
    expect(h!.payload.includes(Buffer.from('431'))).toBe(true);
    c.send(headersFrame(3, grpcRequestBlock('/t.S/Echo')), grpcDataFrame(3, Buffer.from('ok')));
    const data = await c.waitFor((f) => f.type === FrameType.DATA && f.id === 3);
    expect(data!.payload.subarray(5).toString()).toBe('ok');
    expect(t.runs).toBe(1);
  });
});

describe('HTTP/2 flow control', () => {
  it('refills a stream window as data is consumed, in halves, not frame by frame', async () => {
    const t = await serve({ streamWindow: 65536 });
    const c = await open(t.port);
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')));
    c.send(encodeFrame(FrameType.DATA, 0, 1, partialMessage(1 << 20, 995)));
    await sync(c, 'refill-1');
    const updates = () => c.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.id === 1);
    expect(updates()).toEqual([]);
    c.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16384, 7)));
    c.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16384, 7)));
    await sync(c, 'refill-2');
    expect(updates().map((f) => f.payload.readUInt32BE(0))).toEqual([1000 + 2 * 16384]);
  });

  it('stops crediting a stream whose output is stuck, tells its handler, and enforces the window', async () => {
    // The client opens no window for our responses: every reply waits, the handler sees write() false.
    const t = await serve({ streamWindow: 32768 }, 70_000);
    const c = await open(t.port, { settings: [[4, 0]] });
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')));
    c.send(grpcDataFrame(1, Buffer.from('hello'), false));
    await sync(c, 'stuck-1');
    expect(t.refused).toBe(1);
    // The stream gets no more window while stuck: a client that sends past it is out of bounds.
    for (let i = 0; i < 3; i++) c.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16000)));
    await sync(c, 'stuck-2');
    expect(c.frames.filter((f) => f.type === FrameType.WINDOW_UPDATE && f.id === 1)).toEqual([]);
    expect(c.resets(1)).toEqual([ErrorCode.FLOW_CONTROL_ERROR]);
  });

  it("sends 'drain' to a handler once the client opens its window", async () => {
    const t = await serve({}, 70_000);
    const c = await open(t.port, { settings: [[4, 0]] });
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')), grpcDataFrame(1, Buffer.from('x'), false));
    await sync(c, 'drain-1');
    expect([t.refused, t.drains]).toEqual([1, 0]);
    c.send(
      encodeFrame(FrameType.SETTINGS, 0, 0, settingsPayload([[4, 1 << 20]])),
      encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(1 << 20)),
    );
    await c.waitFor((f) => f.type === FrameType.DATA && f.id === 1);
    await sync(c, 'drain-2');
    expect(t.drains).toBe(1);
  });

  it('a DATA frame past the connection window is a FLOW_CONTROL_ERROR', async () => {
    // Stuck streams hold the connection window back: a client ignoring it overruns it.
    const t = await serve({ streamWindow: 1 << 20, connectionWindow: 65535 }, 70_000);
    const c = await open(t.port, { settings: [[4, 0]] });
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')), grpcDataFrame(1, Buffer.from('x'), false));
    await sync(c, 'conn-1');
    for (let i = 0; i < 5; i++) c.send(encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(16000)));
    expect((await c.goAway())?.code).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });
});

describe('HTTP/2 abuse', () => {
  it('rapid reset (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM long before 20,000 handlers run', async () => {
    const t = await serve();
    const c = await open(t.port);
    c.send(openSendCancel('/t.S/Echo', 20_000));
    const g = await c.goAway();
    expect(g).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'too many stream resets' });
    expect(t.runs).toBeLessThanOrEqual(1100);
    expect(await c.waitClosed()).toBe(true);
  });

  it('cancelling streams after their answer is not a rapid reset (clientv3 KeepAliveOnce at load)', async () => {
    const t = await serve();
    const c = await open(t.port);
    // Three times the reset burst: each stream sends a message, Chat answers it at once, then the
    // client cancels the stream, as KeepAliveOnce does after reading its one response.
    c.send(openSendCancel('/t.S/Chat', 3_000));
    await sync(c, 'answered');
    expect(t.runs).toBe(3_000);
    expect(c.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(false);
    expect(t.goAways).toEqual([]);
  });

  it('PING flood without streams: GOAWAY too_many_pings on the third early ping, as grpc-go', async () => {
    const t = await serve();
    const c = await open(t.port);
    const pings: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) pings.push(pingFrame(String(i).padStart(8, '0')));
    c.send(Buffer.concat(pings));
    expect(await c.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'too_many_pings' });
    expect(c.frames.filter((f) => f.type === FrameType.PING).length).toBeLessThanOrEqual(4);
    expect(t.goAways).toEqual([{ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'too_many_pings' }]);
  });

  it('--grpc-keepalive-min-time: pings on an open stream closer than the minimum are strikes', async () => {
    const t = await serve({ keepaliveMinTimeMs: 60_000 });
    const c = await open(t.port);
    c.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')));
    // A ping after each of our DATA frames (grpc-go's BDP pings) is fine: sending data resets strikes.
    for (let i = 0; i < 5; i++) {
      c.send(grpcDataFrame(1, Buffer.from('m'), false));
      await c.waitFor(
        (f) =>
          f.type === FrameType.DATA &&
          f.id === 1 &&
          c.frames.filter((x) => x.type === FrameType.DATA).length > i,
      );
      await sync(c, `bdp-${i}`);
    }
    expect(t.goAways).toEqual([]);
    for (let i = 0; i < 4; i++) c.send(pingFrame(`early-${i}`.padEnd(8, '.')));
    expect(await c.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'too_many_pings' });
  });

  it('SETTINGS flood: GOAWAY ENHANCE_YOUR_CALM, acknowledgements bounded', async () => {
    const t = await serve();
    const c = await open(t.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 50_000; i++) frames.push(encodeFrame(FrameType.SETTINGS, 0, 0));
    c.send(Buffer.concat(frames));
    expect(await c.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'SETTINGS flood' });
    expect(c.frames.filter((f) => f.type === FrameType.SETTINGS && f.flags & Flag.ACK).length).toBeLessThan(
      1100,
    );
    expect(t.goAways.length).toBe(1);
  });

  it('too many entries in one SETTINGS frame: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const t = await serve();
    const c = await open(t.port);
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < 100; i++) entries.push([0x100 + i, i]);
    c.send(encodeFrame(FrameType.SETTINGS, 0, 0, settingsPayload(entries)));
    expect((await c.goAway())?.code).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(t.goAways.length).toBe(1);
  });

  it('empty DATA flood: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const t = await serve();
    const c = await open(t.port);
    const frames: Buffer[] = [headersFrame(1, grpcRequestBlock('/t.S/Chat'))];
    for (let i = 0; i < 50_000; i++) frames.push(encodeFrame(FrameType.DATA, 0, 1));
    c.send(Buffer.concat(frames));
    expect(await c.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'empty DATA flood' });
    expect(t.runs).toBe(1);
  });

  it('WINDOW_UPDATE flood: GOAWAY ENHANCE_YOUR_CALM', async () => {
    const t = await serve();
    const c = await open(t.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 50_000; i++) frames.push(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(1)));
    c.send(Buffer.concat(frames));
    expect(await c.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'WINDOW_UPDATE flood' });
    expect(t.goAways.length).toBe(1);
  });

  it('CONTINUATION flood: GOAWAY ENHANCE_YOUR_CALM after a few frames, without buffering the rest', async () => {
    const t = await serve();
    const c = await open(t.port);
    const frames: Buffer[] = [headersFrame(1, grpcRequestBlock('/t.S/Echo'), { more: true })];
    for (let i = 0; i < 10_000; i++)
      frames.push(encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(16, 0x40)));
    c.send(Buffer.concat(frames));
    expect(await c.goAway()).toEqual({
      code: ErrorCode.ENHANCE_YOUR_CALM,
      reason: 'too many CONTINUATION frames',
    });
    // Large CONTINUATION frames: the block size limit.
    const d = await open(t.port);
    const big: Buffer[] = [headersFrame(1, grpcRequestBlock('/t.S/Echo'), { more: true })];
    for (let i = 0; i < 8; i++)
      big.push(encodeFrame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(16384, 0x40)));
    d.send(Buffer.concat(big));
    expect(await d.goAway()).toEqual({ code: ErrorCode.ENHANCE_YOUR_CALM, reason: 'header block too large' });
    expect(t.runs).toBe(0);
  });

  it('HPACK bomb: a block expanding to 60 MB of fields costs no more than the header list limit', async () => {
    const t = await serve();
    const c = await open(t.port);
    // One 4 KB field inserted in the dynamic table (index 62), then referenced 15,000 times (1 byte each).
    const value = 'a'.repeat(4000);
    // Literal with incremental indexing, new name "x-bomb", value length 4000 (0x7f then 3873 in base 128).
    const insert = Buffer.concat([
      Buffer.from([0x40, 6]),
      Buffer.from('x-bomb'),
      Buffer.from([0x7f, 0xa1, 0x1e]),
      Buffer.from(value),
    ]);
    const block = Buffer.concat([grpcRequestBlock('/t.S/Echo'), insert, Buffer.alloc(15_000, 0xbe)]);
    const heapBefore = process.memoryUsage().heapUsed;
    c.send(
      encodeFrame(FrameType.HEADERS, 0, 1, block.subarray(0, 16384)),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(16384)),
    );
    const h = await c.waitFor((f) => f.type === FrameType.HEADERS && f.id === 1);
    expect(h!.payload.includes(Buffer.from('431'))).toBe(true);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 << 20);
    // The dynamic table stayed in step: the next request decodes and is served.
    c.send(headersFrame(3, grpcRequestBlock('/t.S/Echo')), grpcDataFrame(3, Buffer.from('after')));
    const data = await c.waitFor((f) => f.type === FrameType.DATA && f.id === 3);
    expect(data!.payload.subarray(5).toString()).toBe('after');
    expect(t.runs).toBe(1);
  });

  it('a client that never reads cannot make the server queue answers: it stops reading that socket', async () => {
    const t = await serve();
    // Windows wide open, so only the socket holds our answers back.
    const c = await open(t.port, { settings: [[4, 0x7fffffff]] });
    c.send(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff - 65535)));
    c.socket.pause();
    const block = grpcRequestBlock('/t.S/Echo');
    const calls = 40_000;
    const msg = Buffer.alloc(1000, 1);
    const batch: Buffer[] = [];
    for (let i = 0; i < calls; i++) batch.push(headersFrame(2 * i + 1, block), grpcDataFrame(2 * i + 1, msg));
    c.send(Buffer.concat(batch));
    // 40 MB of answers if the server kept reading; it stops once its output backs up.
    await new Promise((r) => setTimeout(r, 500));
    expect(t.runs).toBeLessThan(calls);
    expect(c.socket.writableLength).toBeGreaterThan(0);
    // Reading again lets every call through.
    c.socket.resume();
    await c.waitFor(() => t.runs === calls, 30_000);
    expect(t.runs).toBe(calls);
    expect(t.goAways).toEqual([]);
  });

  it('refuses new streams while responses wait for a client that opens no window', async () => {
    const t = await serve({ maxQueuedBytes: 100_000 });
    const c = await open(t.port, { settings: [[4, 0]] });
    const block = grpcRequestBlock('/t.S/Echo');
    c.send(headersFrame(1, block), grpcDataFrame(1, Buffer.alloc(60_000)));
    c.send(headersFrame(3, block), grpcDataFrame(3, Buffer.alloc(60_000)));
    await c.waitFor(() => t.runs === 2);
    await sync(c, 'queued-1');
    c.send(headersFrame(5, block), grpcDataFrame(5, Buffer.alloc(10)));
    await sync(c, 'queued-2');
    expect(c.resets(5)).toEqual([ErrorCode.REFUSED_STREAM]);
    // Once the client opens its windows the answers flow and new streams are served again.
    c.send(
      encodeFrame(FrameType.SETTINGS, 0, 0, settingsPayload([[4, 1 << 20]])),
      encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(1 << 20)),
    );
    await c.waitFor((f) => f.type === FrameType.HEADERS && f.id === 3 && (f.flags & Flag.END_STREAM) !== 0);
    c.send(headersFrame(7, block), grpcDataFrame(7, Buffer.from('again')));
    const d = await c.waitFor((f) => f.type === FrameType.DATA && f.id === 7);
    expect(d!.payload.subarray(5).toString()).toBe('again');
  });
});

describe('HTTP/2 slow and silent connections', () => {
  it('handshake timeout: a socket that sends nothing after connecting gets GOAWAY and is closed', async () => {
    const t = await serve({ handshakeTimeoutMs: 200 });
    const c = await open(t.port, { preface: false, ackSettings: false });
    expect(await c.goAway()).toEqual({ code: ErrorCode.PROTOCOL_ERROR, reason: 'handshake timeout' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('handshake timeout: a client that never acknowledges our SETTINGS gets SETTINGS_TIMEOUT', async () => {
    const t = await serve({ handshakeTimeoutMs: 200 });
    const c = await open(t.port, { ackSettings: false });
    expect(await c.goAway()).toEqual({ code: ErrorCode.SETTINGS_TIMEOUT, reason: 'handshake timeout' });
  });

  it('idle timeout: a connection without streams or frames is closed gracefully', async () => {
    const t = await serve({ idleTimeoutMs: 200 });
    const c = await open(t.port);
    const busy = await open(t.port);
    busy.send(headersFrame(1, grpcRequestBlock('/t.S/Chat')));
    expect(await c.goAway()).toEqual({ code: ErrorCode.NO_ERROR, reason: '' });
    expect(await c.waitClosed()).toBe(true);
    // A connection with an open stream is not idle, however quiet.
    expect(await busy.waitClosed(600)).toBe(false);
    expect(busy.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(false);
  });

  it('the listener closes a socket that sends 3 bytes and nothing more', async () => {
    const grpc = new GrpcServer({ maxReceiveMessageLength: 1024 });
    servers.push(grpc);
    const listener = new ClientListener({ grpc, http: http.createServer(), routeTimeoutMs: 200 });
    const port = await listener.listen(0, '127.0.0.1');
    try {
      const closed = await new Promise<boolean>((resolve) => {
        const sock = net.connect(port, '127.0.0.1', () => sock.write('PRI'));
        sock.on('error', () => undefined);
        sock.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 5000).unref();
      });
      expect(closed).toBe(true);
    } finally {
      await listener.close(0);
    }
  });

  it('--grpc-keepalive-interval/-timeout: pings a silent client and closes it when no answer comes', async () => {
    const t = await serve({ keepaliveIntervalMs: 100, keepaliveTimeoutMs: 100 });
    const silent = await open(t.port);
    const answering = await open(t.port, { answerPings: true });
    expect(await silent.waitFor((f) => f.type === FrameType.PING && !(f.flags & Flag.ACK))).toBeDefined();
    expect(await silent.waitClosed()).toBe(true);
    expect(silent.frames.some((f) => f.type === FrameType.GOAWAY)).toBe(false);
    // The client answering our pings stays, pinged again and again.
    await answering.waitFor(
      () => answering.frames.filter((f) => f.type === FrameType.PING && !(f.flags & Flag.ACK)).length >= 3,
    );
    expect(answering.closed).toBe(false);
  });
});
