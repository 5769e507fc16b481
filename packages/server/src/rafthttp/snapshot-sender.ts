/**
 * etcd's snapshotSender: POST /raft/snapshot whose body is the MsgSnap (msg_codec frame) followed by
 * the snapshot data, streamed from the caller's iterable with back-pressure (never held whole in
 * memory). The outcome goes to raft through reportSnapshot, failures also through reportUnreachable.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Message } from '@kv/raft';
import type { TransportContext } from './context.js';
import { MemberRemovedError, TransportStoppedError } from './errors.js';
import { encodeMessageFrame } from './message-codec.js';
import type { PeerStatus } from './peer-status.js';
import { checkPostResponse, readResponseText } from './post-response.js';
import type { UrlPicker } from './url-picker.js';

export class SnapshotSender {
  private readonly requests = new Set<ClientRequest>();
  private stopped = false;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {}

  /** Snapshots being sent. */
  get inflight(): number {
    return this.requests.size;
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.requests) r.destroy(new TransportStoppedError());
  }

  /** Sends one snapshot; never rejects (the result is reported to the sink). */
  async send(m: Message, data: () => AsyncIterable<Uint8Array>): Promise<void> {
    const start = Date.now();
    const to = this.ctx.toLabel(m.to);
    const u = this.picker.pick();
    const index = m.snapshot?.metadata.index ?? 0;
    const metrics = this.ctx.metrics;
    this.ctx.log.info('sending database snapshot', { 'snapshot-index': index, 'remote-peer-id': to.To });
    metrics.snapshotSendInflights.inc(to);
    let sent = 0;
    try {
      sent = await this.post(u, m, data);
    } catch (e) {
      const err = this.stopped ? new TransportStoppedError() : (e as Error);
      this.ctx.log.warn('failed to send database snapshot', {
        'snapshot-index': index,
        'remote-peer-id': to.To,
        error: err,
      });
      if (err instanceof MemberRemovedError) this.ctx.reportRemoved();
      this.picker.unreachable(u);
      this.status.deactivate({ source: 'sendMsgSnap', action: 'post' }, err.message);
      this.ctx.sink.reportUnreachable(m.to);
      this.ctx.sink.reportSnapshot(m.to, false);
      metrics.peerSentFailures.inc(to);
      metrics.snapshotSendFailures.inc(to);
      return;
    } finally {
      metrics.snapshotSendInflights.dec(to);
    }
    this.status.activate();
    this.ctx.sink.reportSnapshot(m.to, true);
    this.ctx.log.info('sent database snapshot', {
      'snapshot-index': index,
      'remote-peer-id': to.To,
      bytes: sent,
    });
    metrics.peerSentBytes.inc(to, sent);
    metrics.snapshotSendSuccess.inc(to);
    metrics.snapshotSendSeconds.observe((Date.now() - start) / 1000, to);
  }

  /** Streams the body; resolves with the bytes sent once the peer answered 204. */
  private post(u: URL, m: Message, data: () => AsyncIterable<Uint8Array>): Promise<number> {
    if (this.stopped) return Promise.reject(new TransportStoppedError());
    const req = this.ctx.request(
      u,
      '/raft/snapshot',
      { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', ...this.ctx.baseHeaders() } },
      true,
    );
    this.requests.add(req);
    const answered = new Promise<{ res: IncomingMessage; text: string }>((resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        const deadline = setTimeout(
          () => res.destroy(new Error('snapshot response read timeout')),
          this.ctx.timing.snapResponseReadTimeoutMs,
        );
        readResponseText(res).then(
          (text) => {
            clearTimeout(deadline);
            resolve({ res, text });
          },
          (err) => {
            clearTimeout(deadline);
            reject(err);
          },
        );
      });
    });
    answered.catch(() => {});
    const written = this.writeBody(req, m, data);
    written.catch(() => req.destroy());
    return Promise.all([written, answered]).then(
      ([sent, { res, text }]) => {
        this.requests.delete(req);
        const err = checkPostResponse(this.ctx, res, text, `${u.origin}/raft/snapshot`, this.peerId);
        if (err) throw err;
        return sent;
      },
      (err) => {
        this.requests.delete(req);
        throw err;
      },
    );
  }

  /** Writes frame + data with back-pressure; stops early (without error) if the peer already answered. */
  private async writeBody(
    req: ClientRequest,
    m: Message,
    data: () => AsyncIterable<Uint8Array>,
  ): Promise<number> {
    let sent = 0;
    const write = async (chunk: Uint8Array) => {
      sent += chunk.length;
      if (!req.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => {
            req.off('close', onClose);
            resolve();
          };
          const onClose = () => {
            req.off('drain', onDrain);
            reject(new Error('connection closed while sending snapshot'));
          };
          req.once('drain', onDrain);
          req.once('close', onClose);
        });
      }
    };
    await write(encodeMessageFrame(m));
    for await (const chunk of data()) {
      if (req.destroyed || this.stopped) throw new TransportStoppedError();
      await write(chunk);
    }
    req.end();
    return sent;
  }
}
