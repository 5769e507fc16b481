/**
 * A raw HTTP/2 client for attack and conformance tests: writes arbitrary frames on a real socket and
 * records every frame the server sends back, checking each is well formed (a known type, a length
 * within the default SETTINGS_MAX_FRAME_SIZE, the fixed sizes of fixed-size frames).
 */
import * as net from 'node:net';
import type { MethodDefinition } from '../src/transport/grpc/call.js';
import { encodeFrame, Flag, FrameType, PREFACE, settingsPayload } from '../src/transport/grpc/h2-frame.js';
import { encodeFields } from '../src/transport/grpc/hpack.js';

/** A frame received from the server. */
export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** Fixed payload sizes of the server's control frames. */
const FIXED: Record<number, number> = {
  [FrameType.PRIORITY]: 5,
  [FrameType.RST_STREAM]: 4,
  [FrameType.PING]: 8,
  [FrameType.WINDOW_UPDATE]: 4,
};

/** The request headers of a gRPC call to `path` (HPACK literals). */
export function grpcRequestBlock(path: string, extra: Array<[string, string]> = []): Buffer {
  return encodeFields([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', 'localhost'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ]);
}

/** A HEADERS frame carrying `block` (END_HEADERS set unless `more`). */
export function headersFrame(
  id: number,
  block: Buffer,
  opts: { end?: boolean; more?: boolean } = {},
): Buffer {
  const flags = (opts.end ? Flag.END_STREAM : 0) | (opts.more ? 0 : Flag.END_HEADERS);
  return encodeFrame(FrameType.HEADERS, flags, id, block);
}

/** A method at `/t.S/NAME` carrying raw bytes both ways; `stream` makes it bidirectional. */
export function bytesMethod(name: string, stream = false): MethodDefinition<Buffer, Buffer> {
  return {
    path: `/t.S/${name}`,
    requestStream: stream,
    responseStream: stream,
    requestDeserialize: (b) => Buffer.from(b),
    responseSerialize: (v) => v,
    originalName: name,
  };
}

/** A PING (an ACK if `ack`) whose 8-byte payload is `tag`, padded with dots or cut. */
export function pingFrame(tag: string, ack = false): Buffer {
  return encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, Buffer.from(tag.padEnd(8, '.').slice(0, 8)));
}

/** A gRPC message (uncompressed) as DATA frames of at most 16384 bytes; END_STREAM on the last if `end`. */
export function grpcDataFrame(id: number, message: Buffer, end = true): Buffer {
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  message.copy(body, 5);
  const frames: Buffer[] = [];
  for (let off = 0; off < body.length; off += 16384) {
    const last = off + 16384 >= body.length;
    frames.push(
      encodeFrame(FrameType.DATA, last && end ? Flag.END_STREAM : 0, id, body.subarray(off, off + 16384)),
    );
  }
  return Buffer.concat(frames);
}

/** One raw connection. */
export class RawH2 {
  readonly frames: Frame[] = [];
  /** A frame the server sent was malformed (see the module comment); its description. */
  malformed: string | undefined;
  closed = false;
  /** Bytes received in all. */
  received = 0;
  private buf: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  /**
   * Connects; by default sends the preface and an empty SETTINGS and acknowledges the server's
   * SETTINGS as they arrive (`ackSettings`).
   */
  static open(
    port: number,
    opts: {
      preface?: boolean;
      settings?: Array<[number, number]>;
      ackSettings?: boolean;
      answerPings?: boolean;
    } = {},
  ): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const c = new RawH2(socket);
        if (opts.ackSettings !== false) c.ackSettings = true;
        c.answerPings = opts.answerPings === true;
        if (opts.preface !== false) {
          socket.write(
            Buffer.concat([
              PREFACE,
              encodeFrame(FrameType.SETTINGS, 0, 0, settingsPayload(opts.settings ?? [])),
            ]),
          );
        }
        resolve(c);
      });
      socket.once('error', reject);
    });
  }

  private ackSettings = false;
  private answerPings = false;

  /** Writes raw bytes; false when the socket buffered them (the server is not reading). */
  send(...bufs: Buffer[]): boolean {
    if (this.closed) return false;
    return this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
  }

  /** Resolves with the first frame (already received or coming) matching `pred`, or undefined on close/timeout. */
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      if (this.closed || Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The server's GOAWAY (code and debug text), waiting for it; undefined if none came. */
  async goAway(timeoutMs = 5000): Promise<{ code: number; reason: string } | undefined> {
    const f = await this.waitFor((x) => x.type === FrameType.GOAWAY, timeoutMs);
    return f && { code: f.payload.readUInt32BE(4), reason: f.payload.subarray(8).toString('latin1') };
  }

  /** Resolves once the server closed the connection (or after `timeoutMs`); true if it closed. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await this.waitFor(() => false, timeoutMs);
    return this.closed;
  }

  /** RST_STREAM frames the server sent for stream `id`: their error codes. */
  resets(id?: number): number[] {
    return this.frames
      .filter((f) => f.type === FrameType.RST_STREAM && (id === undefined || f.id === id))
      .map((f) => f.payload.readUInt32BE(0));
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  private onData(chunk: Buffer): void {
    this.received += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    while (this.buf.length - pos >= 9) {
      const len = this.buf.readUIntBE(pos, 3);
      if (this.buf.length - pos < 9 + len) break;
      const f: Frame = {
        type: this.buf[pos + 3]!,
        flags: this.buf[pos + 4]!,
        id: this.buf.readUInt32BE(pos + 5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(pos + 9, pos + 9 + len)),
      };
      this.check(f);
      this.frames.push(f);
      if (this.ackSettings && f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK)) {
        this.send(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0));
      }
      if (this.answerPings && f.type === FrameType.PING && !(f.flags & Flag.ACK)) {
        this.send(encodeFrame(FrameType.PING, Flag.ACK, 0, f.payload));
      }
      pos += 9 + len;
    }
    this.buf = Buffer.from(this.buf.subarray(pos));
    this.wake();
  }

  private check(f: Frame): void {
    const bad = (why: string) => {
      this.malformed ??= `${why} (type ${f.type}, length ${f.payload.length}, stream ${f.id})`;
    };
    if (f.payload.length > 16384) bad('frame over 16384 bytes');
    if (f.type > FrameType.CONTINUATION || f.type === FrameType.PUSH_PROMISE) bad('unexpected frame type');
    const fixed = FIXED[f.type];
    if (fixed !== undefined && f.payload.length !== fixed) bad('wrong fixed size');
    if (f.type === FrameType.GOAWAY && (f.id !== 0 || f.payload.length < 8)) bad('bad GOAWAY');
    if (f.type === FrameType.SETTINGS && (f.id !== 0 || f.payload.length % 6 !== 0)) bad('bad SETTINGS');
    if ((f.type === FrameType.DATA || f.type === FrameType.HEADERS) && f.id === 0)
      bad('stream frame on stream 0');
  }
}
