/**
 * One remote member (etcd's peer): two stream writers (the remote dials us), two stream readers (we
 * dial the remote), a pipeline and a snapshot sender, sharing one URL picker and one status. `send`
 * follows etcd's pick: MsgSnap by pipeline, MsgApp by the msgappv2 stream when it works, anything else
 * by the message stream when it works, otherwise by the pipeline. A full buffer drops the message and
 * reports the peer unreachable (and a MsgSnap as failed).
 */
import type { ServerResponse } from 'node:http';
import { type Message, MessageType } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import type { StreamType, TransportContext } from './context.js';
import { PeerStatus } from './peer-status.js';
import { Pipeline } from './pipeline.js';
import { Prober } from './prober.js';
import { SnapshotSender } from './snapshot-sender.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';
import { UrlPicker } from './url-picker.js';

/** Counters a test or an operator can read about one peer's outgoing buffers. */
export interface PeerBufferStats {
  /** Messages waiting in the two stream writers and the pipeline. */
  queuedMessages: number;
  /** Bytes Node holds in the stream responses' and sockets' write buffers. */
  bufferedBytes: number;
  /** Messages dropped because a buffer was full. */
  dropped: number;
  /** Whether the peer's msgappv2 and message streams (it dialed us) are attached. */
  streams: { msgappv2: boolean; message: boolean };
}

export class Peer {
  readonly status: PeerStatus;
  private readonly picker: UrlPicker;
  private readonly msgAppV2Writer: StreamWriter;
  private readonly writer: StreamWriter;
  private readonly pipeline: Pipeline;
  private readonly snapSender: SnapshotSender;
  private readonly readers: StreamReader[];
  private probers: Prober[];
  private dropped = 0;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: bigint,
    urls: readonly string[],
  ) {
    ctx.log.info('starting remote peer', { 'remote-peer-id': idHex(id) });
    this.status = new PeerStatus(ctx.log, ctx.metrics, ctx.memberId, id);
    this.picker = new UrlPicker(urls);
    this.pipeline = new Pipeline(ctx, id, this.picker, this.status);
    this.msgAppV2Writer = new StreamWriter(ctx, id, this.status);
    this.writer = new StreamWriter(ctx, id, this.status);
    this.snapSender = new SnapshotSender(ctx, id, this.picker, this.status);
    this.readers = [
      new StreamReader(ctx, id, 'msgappv2', this.picker, this.status),
      new StreamReader(ctx, id, 'message', this.picker, this.status),
    ];
    for (const r of this.readers) r.start();
    this.probers = this.startProbers(urls);
    ctx.log.info('started remote peer', { 'remote-peer-id': idHex(id) });
  }

  send(m: Message): void {
    if (this.pick(m).trySend(m)) return;
    this.dropped++;
    this.ctx.sink.reportUnreachable(m.to);
    if (m.type === MessageType.MsgSnap) this.ctx.sink.reportSnapshot(m.to, false);
    this.ctx.log.warn('dropped internal Raft message since sending buffer is full (overloaded network)', {
      'message-type': MessageType[m.type],
      'local-member-id': this.ctx.idHex,
      from: idHex(m.from),
      'remote-peer-id': idHex(this.id),
      'remote-peer-active': this.status.isActive(),
    });
    this.ctx.metrics.peerSentFailures.inc(this.ctx.toLabel(m.to));
  }

  sendSnapshot(m: Message, data: () => AsyncIterable<Uint8Array>): void {
    void this.snapSender.send(m, data);
  }

  /** Gives a stream the peer dialed to the matching writer. */
  attachOutgoing(type: StreamType, res: ServerResponse): void {
    (type === 'msgappv2' ? this.msgAppV2Writer : this.writer).attach(type, res);
  }

  update(urls: readonly string[]): void {
    this.picker.update(urls);
    for (const p of this.probers) p.stop();
    this.probers = this.startProbers(urls);
  }

  activeSince(): number {
    return this.status.activeSince();
  }

  stats(): PeerBufferStats {
    return {
      queuedMessages: this.msgAppV2Writer.queued + this.writer.queued + this.pipeline.queued,
      bufferedBytes: this.msgAppV2Writer.bufferedBytes + this.writer.bufferedBytes,
      dropped: this.dropped,
      streams: { msgappv2: this.msgAppV2Writer.working, message: this.writer.working },
    };
  }

  async stop(): Promise<void> {
    this.ctx.log.info('stopping remote peer', { 'remote-peer-id': idHex(this.id) });
    this.msgAppV2Writer.stop();
    this.writer.stop();
    this.pipeline.stop();
    this.snapSender.stop();
    for (const p of this.probers) p.stop();
    await Promise.all(this.readers.map((r) => r.stop()));
    this.status.release();
    this.ctx.log.info('stopped remote peer', { 'remote-peer-id': idHex(this.id) });
  }

  private pick(m: Message): { trySend(m: Message): boolean } {
    if (m.type === MessageType.MsgSnap) return this.pipeline;
    if (this.msgAppV2Writer.working && m.type === MessageType.MsgApp) return this.msgAppV2Writer;
    if (this.writer.working) return this.writer;
    return this.pipeline;
  }

  private startProbers(urls: readonly string[]): Prober[] {
    return [
      new Prober(this.ctx, this.id, urls, 'ROUND_TRIPPER_SNAPSHOT'),
      new Prober(this.ctx, this.id, urls, 'ROUND_TRIPPER_RAFT_MESSAGE'),
    ];
  }
}
