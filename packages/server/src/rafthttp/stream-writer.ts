/**
 * The sending half of one long-lived stream to a peer (etcd's streamWriter). The peer dials us
 * (GET /raft/stream/...) and we keep its response open, writing encoded messages into it.
 *
 * Memory stays bounded with a peer that does not read: at most STREAM_BUF_SIZE messages wait in the
 * queue, and nothing more is handed to the socket while it reports back-pressure (write() === false),
 * so Node buffers at most one batch beyond the socket's high-water mark. A full queue makes
 * {@link StreamWriter.trySend} fail; the peer then drops the message and reports it unreachable, as
 * etcd does. A write that cannot drain within connWriteTimeout closes the stream (etcd's write
 * deadline), dropping the queue.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Message } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import type { CounterSeries } from '../metrics/registry.js';
import { STREAM_BUF_SIZE, STREAM_NAME, type StreamType, type TransportContext } from './context.js';
import { encodeMessageFrame, LINK_HEARTBEAT } from './message-codec.js';
import { MsgAppV2Encoder } from './msgappv2-codec.js';
import type { PeerStatus } from './peer-status.js';

/** Upper bound of one write() handed to the socket (messages are batched up to this). */
const MAX_BATCH_BYTES = 1024 * 1024;

interface Conn {
  type: StreamType;
  res: ServerResponse;
  /**
   * The response's socket when frames are written to it directly as HTTP/1.1 chunks (headers already
   * sent, chunked encoding on, nothing buffered in the response); undefined: through `res.write`.
   * Why: `res.write` corks the socket, defers the uncork to the next tick and writes the chunk size,
   * the data and the CRLF as a three-buffer writev, for every batch on every stream. One buffer holding
   * the whole chunk is one plain write with the same bytes on the wire.
   */
  socket: Socket | undefined;
  /** Encodes one message, returning the frame and the payload size counted in sent-bytes metrics. */
  encode(m: Message): { frame: Buffer; size: number };
}

/** Whether frames may bypass `res` (see {@link Conn.socket}). */
function directSocket(res: ServerResponse): Socket | undefined {
  const socket = res.socket;
  if (!socket || !res.headersSent || res.writableLength > 0) return undefined;
  // An HTTP/1.0 peer gets no chunked encoding; then the bytes must stay Node's.
  return (res as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true
    ? socket
    : undefined;
}

/** `frames` as one HTTP/1.1 chunk: hex size, CRLF, the bytes, CRLF, in a single buffer. */
export function chunkOf(frames: readonly Buffer[], bytes: number): Buffer {
  const head = `${bytes.toString(16)}\r\n`;
  const out = Buffer.allocUnsafe(head.length + bytes + 2);
  let off = out.write(head, 0, 'latin1');
  for (const f of frames) {
    out.set(f, off);
    off += f.length;
  }
  out[off] = 0x0d;
  out[off + 1] = 0x0a;
  return out;
}

export class StreamWriter {
  private queue: Message[] = [];
  private conn: Conn | undefined;
  private waitingDrain = false;
  private flushScheduled = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private drainDeadline: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly toLabel: Record<string, string>;
  private readonly sentBytes: CounterSeries;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly status: PeerStatus,
  ) {
    this.toLabel = ctx.toLabel(peerId);
    this.sentBytes = ctx.sentBytesTo(peerId);
    ctx.log.info('started stream writer with remote peer', {
      'local-member-id': ctx.idHex,
      'remote-peer-id': idHex(peerId),
    });
  }

  /** Whether a connection is attached (etcd's writec() "working"). */
  get working(): boolean {
    return this.conn !== undefined;
  }

  /** Messages waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  /** Bytes Node holds for this stream beyond the queue (response + socket userland buffers). */
  get bufferedBytes(): number {
    const res = this.conn?.res;
    if (!res) return 0;
    return res.writableLength + (res.socket?.writableLength ?? 0);
  }

  /** Queues `m` if a connection is attached and the queue has room; false otherwise. */
  trySend(m: Message): boolean {
    if (!this.conn || this.queue.length >= STREAM_BUF_SIZE) return false;
    this.queue.push(m);
    this.scheduleFlush();
    return true;
  }

  /** Makes `res` (already answered 200) this writer's connection, closing any previous one. */
  attach(type: StreamType, res: ServerResponse): void {
    if (this.stopped) {
      res.destroy();
      return;
    }
    const closed = this.closeConn();
    const enc = type === 'msgappv2' ? new MsgAppV2Encoder() : undefined;
    const conn: Conn = {
      type,
      res,
      socket: directSocket(res),
      encode: enc
        ? (m) => {
            const frame = enc.encode(m);
            return { frame, size: enc.lastPayloadBytes };
          }
        : (m) => {
            const frame = encodeMessageFrame(m);
            return { frame, size: frame.length - 8 };
          },
    };
    this.conn = conn;
    this.waitingDrain = false;
    this.ctx.log.info('set message encoder', {
      from: this.ctx.idHex,
      to: idHex(this.peerId),
      'stream-type': STREAM_NAME[type],
    });
    this.status.activate();
    const fields = {
      'stream-writer-type': STREAM_NAME[type],
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(this.peerId),
    };
    if (closed) this.ctx.log.warn('closed TCP streaming connection with remote peer', fields);
    this.ctx.log.warn('established TCP streaming connection with remote peer', fields);
    res.on('close', () => {
      if (this.conn !== conn) return;
      // The peer went away (or the socket failed): etcd notices on its next write.
      this.status.deactivate({ source: STREAM_NAME[type], action: 'write' }, 'connection closed');
      this.closeConn();
      this.ctx.log.warn('lost TCP streaming connection with remote peer', fields);
    });
    res.on('error', () => {});
    const period = Math.max(1, Math.floor(this.ctx.timing.connReadTimeoutMs / 3));
    this.heartbeat = setInterval(() => this.sendHeartbeat(), period);
    this.heartbeat.unref();
    this.scheduleFlush();
  }

  /** Closes the connection and stops; queued messages are dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const type = this.conn?.type;
    if (this.closeConn() && type) {
      this.ctx.log.warn('closed TCP streaming connection with remote peer', {
        'stream-writer-type': STREAM_NAME[type],
        'remote-peer-id': idHex(this.peerId),
      });
    }
    this.ctx.log.warn('stopped TCP streaming connection with remote peer', {
      'stream-writer-type': type ? STREAM_NAME[type] : 'unknown stream',
      'remote-peer-id': idHex(this.peerId),
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.waitingDrain) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes queued messages in batches until the queue is empty or the socket pushes back. */
  private flush(): void {
    const conn = this.conn;
    if (!conn || this.waitingDrain) return;
    while (this.queue.length > 0) {
      const frames: Buffer[] = [];
      let bytes = 0;
      let payload = 0;
      while (this.queue.length > 0 && bytes < MAX_BATCH_BYTES) {
        const { frame, size } = conn.encode(this.queue.shift()!);
        frames.push(frame);
        bytes += frame.length;
        payload += size;
      }
      if (!this.write(conn, frames, bytes, payload)) return;
    }
  }

  private sendHeartbeat(): void {
    const conn = this.conn;
    // A stream that is waiting for the peer to read needs no keep-alive: the write deadline decides.
    if (!conn || this.waitingDrain) return;
    const { frame, size } = conn.encode(LINK_HEARTBEAT);
    this.write(conn, [frame], frame.length, size);
  }

  /** One write of `frames` (`bytes` long); false (and a drain wait with a deadline) when the socket pushes back. */
  private write(conn: Conn, frames: Buffer[], bytes: number, payload: number): boolean {
    const ok = conn.socket
      ? conn.socket.write(chunkOf(frames, bytes))
      : conn.res.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
    this.sentBytes.inc(payload);
    if (ok) return true;
    this.waitingDrain = true;
    this.drainDeadline = setTimeout(() => this.writeTimedOut(conn), this.ctx.timing.connWriteTimeoutMs);
    this.drainDeadline.unref();
    (conn.socket ?? conn.res).once('drain', () => {
      if (this.conn !== conn) return;
      clearTimeout(this.drainDeadline);
      this.waitingDrain = false;
      this.scheduleFlush();
    });
    return false;
  }

  private writeTimedOut(conn: Conn): void {
    if (this.conn !== conn) return;
    this.status.deactivate({ source: STREAM_NAME[conn.type], action: 'write' }, 'i/o timeout');
    this.ctx.metrics.peerSentFailures.inc(this.toLabel);
    this.closeConn();
    this.ctx.log.warn('lost TCP streaming connection with remote peer', {
      'stream-writer-type': STREAM_NAME[conn.type],
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(this.peerId),
    });
    this.ctx.sink.reportUnreachable(this.peerId);
  }

  /**
   * Detaches and closes the connection (etcd's closeUnlocked): reports the peer unreachable when
   * messages were still queued, and drops them. Returns whether a connection was open.
   */
  private closeConn(): boolean {
    const conn = this.conn;
    if (!conn) return false;
    this.conn = undefined;
    clearInterval(this.heartbeat);
    clearTimeout(this.drainDeadline);
    this.waitingDrain = false;
    // A peer that stopped reading cannot take the chunked terminator; cut it instead of waiting.
    if (conn.res.writableNeedDrain || conn.socket?.writableNeedDrain || conn.res.destroyed)
      conn.res.destroy();
    else conn.res.end();
    if (this.queue.length > 0) this.ctx.sink.reportUnreachable(this.peerId);
    this.queue = [];
    return true;
  }
}
