/**
 * etcd's remote: a member we learned about from a request's X-Server-From / X-PeerURLs headers but
 * that is not (yet) in our member list — typically while we are catching up. It only has a pipeline,
 * so raft's answers can reach it; a full buffer drops without reporting (etcd's remote.send).
 */
import { type Message, MessageType } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import type { TransportContext } from './context.js';
import { PeerStatus } from './peer-status.js';
import { Pipeline } from './pipeline.js';
import { UrlPicker } from './url-picker.js';

export class Remote {
  private readonly status: PeerStatus;
  private readonly pipeline: Pipeline;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: bigint,
    urls: readonly string[],
  ) {
    this.status = new PeerStatus(ctx.log, ctx.metrics, ctx.memberId, id);
    this.pipeline = new Pipeline(ctx, id, new UrlPicker(urls), this.status);
  }

  send(m: Message): void {
    if (this.pipeline.trySend(m)) return;
    this.ctx.log.warn('dropped Raft message since sending buffer is full (overloaded network)', {
      'message-type': MessageType[m.type],
      'local-member-id': this.ctx.idHex,
      from: idHex(m.from),
      'remote-peer-id': idHex(this.id),
      'remote-peer-active': this.status.isActive(),
    });
    this.ctx.metrics.peerSentFailures.inc(this.ctx.toLabel(m.to));
  }

  stop(): void {
    this.pipeline.stop();
    this.status.release();
  }
}
