/**
 * etcd's pipeline: messages that no stream can carry (no stream connected yet, MsgSnap from raft) go
 * one per POST /raft, with CONN_PER_PIPELINE requests in flight and at most PIPELINE_BUF_SIZE waiting.
 * Failures deactivate the peer and report it unreachable (and a MsgSnap as failed); a 403 answer means
 * this member was removed.
 */
import type { ClientRequest } from 'node:http';
import { encodeMessage, type Message, MessageType } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import { CONN_PER_PIPELINE, PIPELINE_BUF_SIZE, type TransportContext } from './context.js';
import { MemberRemovedError, TransportStoppedError } from './errors.js';
import type { PeerStatus } from './peer-status.js';
import { checkPostResponse, readResponseText } from './post-response.js';
import type { UrlPicker } from './url-picker.js';

export class Pipeline {
  private queue: Message[] = [];
  private inflight = 0;
  private readonly requests = new Set<ClientRequest>();
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {
    ctx.log.info('started HTTP pipelining with remote peer', {
      'local-member-id': ctx.idHex,
      'remote-peer-id': idHex(peerId),
    });
  }

  /** Messages waiting for a free request slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues `m` unless the buffer is full. */
  trySend(m: Message): boolean {
    if (this.stopped || this.queue.length >= PIPELINE_BUF_SIZE) return false;
    this.queue.push(m);
    this.pump();
    return true;
  }

  /** Aborts requests in flight and drops the queue. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue = [];
    for (const r of this.requests) r.destroy(new TransportStoppedError());
    this.ctx.log.info('stopped HTTP pipelining with remote peer', {
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(this.peerId),
    });
  }

  private pump(): void {
    while (!this.stopped && this.inflight < CONN_PER_PIPELINE && this.queue.length > 0) {
      const m = this.queue.shift()!;
      this.inflight++;
      void this.handle(m).finally(() => {
        this.inflight--;
        this.pump();
      });
    }
  }

  private async handle(m: Message): Promise<void> {
    const body = encodeMessage(m);
    const to = this.ctx.toLabel(m.to);
    try {
      await this.post(body);
    } catch (e) {
      if (this.stopped) return;
      this.status.deactivate({ source: 'pipeline', action: 'write' }, (e as Error).message);
      this.ctx.sink.reportUnreachable(m.to);
      if (m.type === MessageType.MsgSnap) this.ctx.sink.reportSnapshot(m.to, false);
      this.ctx.metrics.peerSentFailures.inc(to);
      return;
    }
    this.status.activate();
    if (m.type === MessageType.MsgSnap) this.ctx.sink.reportSnapshot(m.to, true);
    this.ctx.metrics.peerSentBytes.inc(to, body.length);
  }

  private post(body: Uint8Array): Promise<void> {
    const u = this.picker.pick();
    return new Promise<void>((resolve, reject) => {
      const req = this.ctx.request(
        u,
        '/raft',
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/protobuf',
            ...this.ctx.baseHeaders(),
            'Content-Length': body.length,
          },
        },
        true,
        this.ctx.timing.connReadTimeoutMs,
      );
      this.requests.add(req);
      const fail = (err: Error) => {
        this.requests.delete(req);
        this.picker.unreachable(u);
        reject(err);
      };
      req.on('error', fail);
      req.on('response', (res) => {
        readResponseText(res).then((text) => {
          this.requests.delete(req);
          const err = checkPostResponse(this.ctx, res, text, `${u.origin}/raft`, this.peerId);
          if (!err) {
            resolve();
            return;
          }
          this.picker.unreachable(u);
          if (err instanceof MemberRemovedError) this.ctx.reportRemoved();
          reject(err);
        }, fail);
      });
      req.end(body);
    });
  }
}
