/**
 * The receiving half of one long-lived stream (etcd's streamReader): dials the peer's
 * GET /raft/stream/{msgapp,message}/<our id>, decodes what it writes and steps each message into raft.
 * Redials after any failure, waiting dialRetryMs and doubling the wait on consecutive failures up to
 * dialRetryMaxMs (etcd waits a flat 100 ms; the cap keeps a refused or absent peer from filling the log
 * ten times a second while staying well inside an election timeout).
 */
import type { IncomingMessage } from 'node:http';
import { idHex } from '../etcdserver/ids.js';
import type { CounterSeries } from '../metrics/registry.js';
import { ByteQueue } from './byte-queue.js';
import { STREAM_ENDPOINT, STREAM_NAME, type StreamType, type TransportContext } from './context.js';
import {
  ClusterIdMismatchError,
  IncompatibleVersionError,
  MemberRemovedError,
  PeerTransportError,
  TransportStoppedError,
  UnexpectedPeerResponseError,
} from './errors.js';
import { isLinkHeartbeat, nextMessageFrame } from './message-codec.js';
import { MsgAppV2Decoder } from './msgappv2-codec.js';
import type { PeerStatus } from './peer-status.js';
import type { UrlPicker } from './url-picker.js';
import { compareMajorMinor, headerVersion, parseSemVer, streamSupported } from './version-check.js';

/** The remote is older than us and does not serve this stream type (etcd's errUnsupportedStreamType). */
class UnsupportedStreamTypeError extends PeerTransportError {
  override name = 'UnsupportedStreamTypeError';
  constructor() {
    super('unsupported stream type');
  }
}

export class StreamReader {
  private stopped = false;
  private readonly abort = new AbortController();
  private current: IncomingMessage | undefined;
  private wake: (() => void) | undefined;
  private done: Promise<void> | undefined;

  constructor(
    private readonly ctx: TransportContext,
    private readonly peerId: bigint,
    private readonly type: StreamType,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {}

  start(): void {
    this.done = this.run();
  }

  /** Stops dialing, closes the connection; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.current?.destroy();
    this.wake?.();
    await this.done;
  }

  private fields(): Record<string, string> {
    return {
      'stream-reader-type': STREAM_NAME[this.type],
      'local-member-id': this.ctx.idHex,
      'remote-peer-id': idHex(this.peerId),
    };
  }

  private async run(): Promise<void> {
    this.ctx.log.info('started stream reader with remote peer', this.fields());
    let wait = this.ctx.timing.dialRetryMs;
    while (!this.stopped) {
      let connected = false;
      try {
        const res = await this.dial();
        connected = true;
        this.status.activate();
        this.ctx.log.info('established TCP streaming connection with remote peer', this.fields());
        const err = await this.decodeLoop(res);
        this.ctx.log.warn('lost TCP streaming connection with remote peer', {
          ...this.fields(),
          ...(err ? { error: err.message } : {}),
        });
        if (err && !this.stopped) {
          this.status.deactivate({ source: STREAM_NAME[this.type], action: 'read' }, err.message);
        }
      } catch (e) {
        const err = e as Error;
        if (!(err instanceof UnsupportedStreamTypeError) && !this.stopped) {
          this.status.deactivate({ source: STREAM_NAME[this.type], action: 'dial' }, err.message);
        }
      }
      if (this.stopped) break;
      if (connected) wait = this.ctx.timing.dialRetryMs;
      await this.sleep(wait);
      if (!connected) wait = Math.min(wait * 2, this.ctx.timing.dialRetryMaxMs);
    }
    this.ctx.log.info('stopped stream reader with remote peer', this.fields());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** One dial: resolves with the 200 response, rejects with etcd's errors for the other answers. */
  private dial(): Promise<IncomingMessage> {
    const u = this.picker.pick();
    const path = `${STREAM_ENDPOINT[this.type]}/${this.ctx.idHex}`;
    this.ctx.log.debug('dial stream reader', {
      from: this.ctx.idHex,
      to: idHex(this.peerId),
      address: new URL(path, u).toString(),
    });
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (this.stopped) {
        reject(new TransportStoppedError());
        return;
      }
      const req = this.ctx.request(
        u,
        path,
        {
          method: 'GET',
          headers: { ...this.ctx.baseHeaders(), 'X-Raft-To': idHex(this.peerId) },
          signal: this.abort.signal,
        },
        false,
        this.ctx.timing.connReadTimeoutMs,
      );
      req.on('error', (err) => {
        this.picker.unreachable(u);
        reject(this.stopped ? new TransportStoppedError() : err);
      });
      req.on('response', (res) => {
        this.answer(u, res).then(resolve, (err: Error) => {
          res.resume();
          res.destroy();
          reject(err);
        });
      });
      req.end();
    });
  }

  /** etcd's status handling of a stream dial's response. */
  private async answer(u: URL, res: IncomingMessage): Promise<IncomingMessage> {
    const remoteVersion = headerVersion(res.headers['x-server-version'] as string | undefined);
    const local = parseSemVer(this.ctx.serverVersion);
    if (
      remoteVersion &&
      local &&
      compareMajorMinor(remoteVersion, local) === -1 &&
      !streamSupported(remoteVersion, this.type)
    ) {
      this.picker.unreachable(u);
      throw new UnsupportedStreamTypeError();
    }
    const status = res.statusCode ?? 0;
    if (status === 200) return res;
    this.picker.unreachable(u);
    switch (status) {
      case 410:
        this.ctx.reportRemoved();
        throw new MemberRemovedError();
      case 404:
        throw new UnexpectedPeerResponseError(
          `peer ${idHex(this.peerId)} failed to find local node ${this.ctx.idHex}`,
          404,
        );
      case 412: {
        const body = (await readSmallBody(res)).replace(/\n$/, '');
        if (body === 'incompatible version') {
          this.ctx.log.warn('request sent was ignored by remote peer due to server version incompatibility', {
            'local-member-id': this.ctx.idHex,
            'remote-peer-id': idHex(this.peerId),
            error: 'incompatible version',
          });
          throw new IncompatibleVersionError();
        }
        if (body === 'cluster ID mismatch') {
          const remoteCid = String(res.headers['x-etcd-cluster-id'] ?? '');
          this.ctx.log.warn('request sent was ignored by remote peer due to cluster ID mismatch', {
            'remote-peer-id': idHex(this.peerId),
            'remote-peer-cluster-id': remoteCid,
            'local-member-id': this.ctx.idHex,
            'local-member-cluster-id': this.ctx.clusterIdHex,
            error: 'cluster ID mismatch',
          });
          throw new ClusterIdMismatchError(remoteCid);
        }
        throw new UnexpectedPeerResponseError(
          `unhandled error ${JSON.stringify(body)} when precondition failed`,
          412,
        );
      }
      default:
        throw new UnexpectedPeerResponseError(`unhandled http status ${status}`, status);
    }
  }

  /** Decodes until the stream ends; resolves with the error that ended it (undefined on a clean EOF). */
  private decodeLoop(res: IncomingMessage): Promise<Error | undefined> {
    this.current = res;
    const q = new ByteQueue();
    const v2 = this.type === 'msgappv2' ? new MsgAppV2Decoder(this.ctx.memberId, this.peerId) : undefined;
    const next = v2 ? () => v2.next(q) : () => nextMessageFrame(q);
    const socket = res.socket;
    // etcd's read deadline: the writer sends a link heartbeat every third of it.
    socket.setTimeout(this.ctx.timing.connReadTimeoutMs);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        socket.setTimeout(0);
        socket.removeListener('timeout', onTimeout);
        this.current = undefined;
        res.destroy();
        resolve(err);
      };
      const onTimeout = () => finish(new Error('read tcp: i/o timeout'));
      socket.on('timeout', onTimeout);
      // Frames on one stream come from its peer: the byte counter is looked up when the sender changes.
      let from: bigint | undefined;
      let received: CounterSeries | undefined;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        q.push(chunk);
        try {
          for (let f = next(); f; f = next()) {
            if (this.stopped) return;
            if (f.msg.from !== from) received = this.ctx.receivedBytesFrom((from = f.msg.from));
            received!.inc(f.size);
            if (isLinkHeartbeat(f.msg)) continue;
            if (this.ctx.sink.isIdRemoved(f.msg.from)) {
              // etcd's EtcdServer.Process refuses these for every path, streams included.
              this.ctx.log.warn('rejected Raft message from removed member', {
                'local-member-id': this.ctx.idHex,
                'removed-member-id': idHex(f.msg.from),
              });
              continue;
            }
            try {
              this.ctx.sink.process(f.msg);
            } catch (err) {
              this.ctx.log.warn('failed to process Raft message', { error: err as Error });
            }
          }
        } catch (err) {
          finish(err as Error);
        }
      });
      res.on('end', () => finish(undefined));
      res.on('error', (err) => finish(err));
      res.on('close', () => finish(this.stopped ? undefined : new Error('connection closed')));
    });
  }
}

/** Reads a small error body (at most 64 KiB). */
function readSmallBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      if (s.length < 65536) s += c;
    });
    res.on('end', () => resolve(s));
    res.on('error', reject);
  });
}
