/**
 * The server side of etcd's peer protocol (rafthttp/http.go): POST /raft (pipeline),
 * GET /raft/stream/{msgapp,message}/<from> (the peer dials us to receive our messages), POST
 * /raft/snapshot and /raft/probing, with etcd's header checks, status codes, bodies and log lines.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeMessage, type Message, MessageType } from '@kv/raft';
import { idHex } from '../etcdserver/ids.js';
import { ByteQueue } from './byte-queue.js';
import { STREAM_ENDPOINT, type StreamType, type TransportContext } from './context.js';
import { CLUSTER_ID_MISMATCH, INCOMPATIBLE_VERSION, PeerHttpError } from './errors.js';
import { header, parseIdHex, readBody, writeGoError, writeJsonError } from './http-util.js';
import { nextMessageFrame, READ_BYTES_LIMIT } from './message-codec.js';
import type { Peer } from './peer.js';
import { probingBody } from './prober.js';
import { checkVersionCompatibility, headerVersion, parseSemVer } from './version-check.js';

/** What the handler needs from the transport. */
export interface PeerDirectory {
  peer(id: bigint): Peer | undefined;
  /** etcd's AddRemote: remember a sender's URLs so raft's answers can reach it. */
  addRemote(id: bigint, urls: string[]): void;
}

/** etcd's snapshot limit for the message part of /raft/snapshot (decodeLimit(1 << 63)). */
const SNAPSHOT_MESSAGE_LIMIT = Number.MAX_SAFE_INTEGER;

export class PeerHandler {
  constructor(
    private readonly ctx: TransportContext,
    private readonly dir: PeerDirectory,
  ) {}

  /** Serves a peer path; false (response untouched) when the path is not one of ours. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/raft') void this.pipeline(req, res).catch((err) => this.crash(res, err));
    else if (path.startsWith('/raft/stream/')) this.stream(req, res, path);
    else if (path === '/raft/snapshot') void this.snapshot(req, res).catch((err) => this.crash(res, err));
    else if (path === '/raft/probing') this.probing(res);
    else return false;
    return true;
  }

  private crash(res: ServerResponse, err: unknown): void {
    this.ctx.log.warn('failed to serve peer request', { error: err as Error });
    if (!res.headersSent) writeGoError(res, 500, 'internal error');
    else res.destroy();
  }

  /** etcd's checkClusterCompatibilityFromHeader: versions, then cluster id; logs etcd's lines. */
  private compatible(req: IncomingMessage): string | undefined {
    const remoteName = header(req, 'X-Server-From');
    const remoteServer = headerVersion(header(req, 'X-Server-Version'));
    const remoteMin = headerVersion(header(req, 'X-Min-Cluster-Version'));
    const localServer = parseSemVer(this.ctx.serverVersion)!;
    const localMin = parseSemVer(this.ctx.minClusterVersion)!;
    const fields = {
      'local-member-id': this.ctx.idHex,
      'local-member-cluster-id': this.ctx.clusterIdHex,
      'local-member-server-version': localServer.text,
      'local-member-server-minimum-cluster-version': localMin.text,
      'remote-peer-server-name': remoteName,
      'remote-peer-server-version': remoteServer?.text ?? header(req, 'X-Server-Version'),
      'remote-peer-server-minimum-cluster-version': remoteMin?.text ?? header(req, 'X-Min-Cluster-Version'),
    };
    const err = checkVersionCompatibility(remoteName, remoteServer, remoteMin, localServer, localMin);
    if (err) {
      this.ctx.log.warn('failed to check version compatibility', { ...fields, error: err });
      return INCOMPATIBLE_VERSION;
    }
    const gcid = header(req, 'X-Etcd-Cluster-ID');
    if (gcid !== this.ctx.clusterIdHex) {
      this.ctx.log.warn('request cluster ID mismatch', { ...fields, 'remote-peer-cluster-id': gcid });
      return CLUSTER_ID_MISMATCH;
    }
    return undefined;
  }

  /** etcd's addRemoteFromRequest. */
  private addRemoteFromRequest(req: IncomingMessage): void {
    const from = parseIdHex(header(req, 'X-Server-From'));
    const urls = header(req, 'X-PeerURLs');
    if (from !== undefined && urls) this.dir.addRemote(from, urls.split(','));
  }

  private methodNotAllowed(res: ServerResponse, allow: string): void {
    res.setHeader('Allow', allow);
    writeGoError(res, 405, 'Method Not Allowed');
  }

  /**
   * Answers a message the sink refused: a removed sender gets etcd's 403 (EtcdServer.Process), a
   * {@link PeerHttpError} its status and JSON body; anything else false (the caller answers 500).
   */
  private refused(res: ServerResponse, err: unknown): boolean {
    if (err instanceof PeerHttpError) {
      writeJsonError(res, err.status, err.message);
      return true;
    }
    return false;
  }

  /** Steps `m` unless its sender was removed; throws what the sink throws. */
  private process(m: Message, res: ServerResponse): boolean {
    if (this.ctx.sink.isIdRemoved(m.from)) {
      this.ctx.log.warn('rejected Raft message from removed member', {
        'local-member-id': this.ctx.idHex,
        'removed-member-id': idHex(m.from),
      });
      writeJsonError(res, 403, 'cannot process message from removed member');
      return false;
    }
    this.ctx.sink.process(m);
    return true;
  }

  private async pipeline(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      this.methodNotAllowed(res, 'POST');
      return;
    }
    res.setHeader('X-Etcd-Cluster-ID', this.ctx.clusterIdHex);
    const incompatible = this.compatible(req);
    if (incompatible) {
      writeGoError(res, 412, incompatible);
      return;
    }
    this.addRemoteFromRequest(req);
    const failures = { From: req.socket.remoteAddress ?? '' };
    let body: Buffer;
    try {
      body = await readBody(req, READ_BYTES_LIMIT);
    } catch (err) {
      this.ctx.log.warn('failed to read Raft message', {
        'local-member-id': this.ctx.idHex,
        error: err as Error,
      });
      this.ctx.metrics.peerReceivedFailures.inc(failures);
      writeGoError(res, 400, 'error reading raft message');
      return;
    }
    let m: Message;
    try {
      m = decodeMessage(body);
    } catch (err) {
      this.ctx.log.warn('failed to unmarshal Raft message', {
        'local-member-id': this.ctx.idHex,
        error: err as Error,
      });
      this.ctx.metrics.peerReceivedFailures.inc(failures);
      writeGoError(res, 400, 'error unmarshalling raft message');
      return;
    }
    this.ctx.metrics.peerReceivedBytes.inc(this.ctx.fromLabel(m.from), body.length);
    try {
      if (!this.process(m, res)) return;
    } catch (err) {
      if (this.refused(res, err)) return;
      this.ctx.log.warn('failed to process Raft message', {
        'local-member-id': this.ctx.idHex,
        error: err as Error,
      });
      writeGoError(res, 500, 'error processing raft message');
      // etcd panics the handler here, which drops the connection.
      res.on('finish', () => req.socket.destroy());
      return;
    }
    res.writeHead(204);
    res.end();
  }

  private stream(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.method !== 'GET') {
      this.methodNotAllowed(res, 'GET');
      return;
    }
    res.setHeader('X-Server-Version', this.ctx.serverVersion);
    res.setHeader('X-Etcd-Cluster-ID', this.ctx.clusterIdHex);
    const incompatible = this.compatible(req);
    if (incompatible) {
      writeGoError(res, 412, incompatible);
      return;
    }
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash);
    const fromStr = path.slice(slash + 1);
    let type: StreamType;
    if (dir === STREAM_ENDPOINT.msgappv2) type = 'msgappv2';
    else if (dir === STREAM_ENDPOINT.message) type = 'message';
    else {
      this.ctx.log.debug('ignored unexpected streaming request path', {
        'local-member-id': this.ctx.idHex,
        'remote-peer-id-stream-handler': this.ctx.idHex,
        path,
      });
      writeGoError(res, 404, 'invalid path');
      return;
    }
    const from = parseIdHex(fromStr);
    if (from === undefined) {
      this.ctx.log.warn('failed to parse path into ID', {
        'local-member-id': this.ctx.idHex,
        'remote-peer-id-stream-handler': this.ctx.idHex,
        path: fromStr,
      });
      writeGoError(res, 404, 'invalid from');
      return;
    }
    if (this.ctx.sink.isIdRemoved(from)) {
      this.ctx.log.warn('rejected stream from remote peer because it was removed', {
        'local-member-id': this.ctx.idHex,
        'remote-peer-id-stream-handler': this.ctx.idHex,
        'remote-peer-id-from': idHex(from),
      });
      writeGoError(res, 410, 'removed member');
      return;
    }
    const p = this.dir.peer(from);
    if (!p) {
      // A member of another cluster with the same id, or one that joined after our progress.
      const urls = header(req, 'X-PeerURLs');
      if (urls) this.dir.addRemote(from, urls.split(','));
      this.ctx.log.warn('failed to find remote peer in cluster', {
        'local-member-id': this.ctx.idHex,
        'remote-peer-id-stream-handler': this.ctx.idHex,
        'remote-peer-id-from': idHex(from),
        'cluster-id': this.ctx.clusterIdHex,
      });
      writeGoError(res, 404, 'error sender not found');
      return;
    }
    const gto = header(req, 'X-Raft-To');
    if (gto !== this.ctx.idHex) {
      this.ctx.log.warn('ignored streaming request; ID mismatch', {
        'local-member-id': this.ctx.idHex,
        'remote-peer-id-stream-handler': this.ctx.idHex,
        'remote-peer-id-header': gto,
        'remote-peer-id-from': idHex(from),
        'cluster-id': this.ctx.clusterIdHex,
      });
      writeGoError(res, 412, 'to field mismatch');
      return;
    }
    // The stream lives as long as the connection: no server timeouts on it.
    req.socket.setTimeout(0);
    req.socket.setNoDelay(true);
    res.writeHead(200);
    res.flushHeaders();
    p.attachOutgoing(type, res);
  }

  private async snapshot(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = Date.now();
    const metrics = this.ctx.metrics;
    if (req.method !== 'POST') {
      metrics.snapshotReceiveFailures.inc({ From: 'UNKNOWN_SNAPSHOT_SENDER' });
      this.methodNotAllowed(res, 'POST');
      return;
    }
    res.setHeader('X-Etcd-Cluster-ID', this.ctx.clusterIdHex);
    const incompatible = this.compatible(req);
    if (incompatible) {
      metrics.snapshotReceiveFailures.inc({ From: 'UNKNOWN_SNAPSHOT_SENDER' });
      writeGoError(res, 412, incompatible);
      return;
    }
    this.addRemoteFromRequest(req);
    req.socket.setTimeout(0);

    const body = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const q = new ByteQueue();
    let frame: ReturnType<typeof nextMessageFrame>;
    try {
      for (;;) {
        frame = nextMessageFrame(q, SNAPSHOT_MESSAGE_LIMIT);
        if (frame) break;
        const r = await body.next();
        if (r.done) throw new Error('unexpected EOF');
        q.push(r.value);
      }
    } catch (err) {
      const msg = `failed to decode raft message (${(err as Error).message})`;
      this.ctx.log.warn('failed to decode Raft message', {
        'local-member-id': this.ctx.idHex,
        'remote-snapshot-sender-id': '0',
        error: err as Error,
      });
      metrics.peerReceivedFailures.inc({ From: req.socket.remoteAddress ?? '' });
      metrics.snapshotReceiveFailures.inc({ From: '0' });
      writeGoError(res, 400, msg);
      return;
    }
    const m = frame.msg;
    const from = this.ctx.fromLabel(m.from);
    metrics.peerReceivedBytes.inc(from, frame.size);
    if (m.type !== MessageType.MsgSnap) {
      this.ctx.log.warn('unexpected Raft message type', {
        'local-member-id': this.ctx.idHex,
        'remote-snapshot-sender-id': from.From,
        'message-type': MessageType[m.type],
      });
      metrics.snapshotReceiveFailures.inc(from);
      writeGoError(res, 400, 'wrong raft message type');
      return;
    }
    const index = m.snapshot?.metadata.index ?? 0;
    metrics.snapshotReceiveInflights.inc(from);
    try {
      this.ctx.log.info('receiving database snapshot', {
        'local-member-id': this.ctx.idHex,
        'remote-snapshot-sender-id': from.From,
        'incoming-snapshot-index': index,
        'incoming-snapshot-message-size-bytes': frame.size,
      });
      let received = 0;
      const rest = q.length > 0 ? q.take(q.length) : undefined;
      const data: AsyncIterable<Uint8Array> = {
        async *[Symbol.asyncIterator]() {
          if (rest) {
            received += rest.length;
            yield rest;
          }
          for (;;) {
            const r = await body.next();
            if (r.done) return;
            received += r.value.length;
            yield r.value;
          }
        },
      };
      try {
        await this.ctx.sink.receiveSnapshot(m, data);
        // Whatever the sink left unread is drained so the answer is not sent mid-body.
        for (;;) {
          const r = await body.next();
          if (r.done) break;
          received += r.value.length;
        }
      } catch (err) {
        const msg = `failed to save KV snapshot (${(err as Error).message})`;
        this.ctx.log.warn('failed to save incoming database snapshot', {
          'local-member-id': this.ctx.idHex,
          'remote-snapshot-sender-id': from.From,
          'incoming-snapshot-index': index,
          error: err as Error,
        });
        metrics.snapshotReceiveFailures.inc(from);
        if (!req.complete) res.on('finish', () => req.socket.destroy());
        writeGoError(res, 500, msg);
        return;
      }
      metrics.peerReceivedBytes.inc(from, received);
      this.ctx.log.info('received and saved database snapshot', {
        'local-member-id': this.ctx.idHex,
        'remote-snapshot-sender-id': from.From,
        'incoming-snapshot-index': index,
        'incoming-snapshot-size-bytes': received,
        'download-took': `${Date.now() - start}ms`,
      });
      try {
        if (!this.process(m, res)) return;
      } catch (err) {
        if (this.refused(res, err)) return;
        const msg = `failed to process raft message (${(err as Error).message})`;
        this.ctx.log.warn('failed to process Raft message', {
          'local-member-id': this.ctx.idHex,
          'remote-snapshot-sender-id': from.From,
          error: err as Error,
        });
        metrics.snapshotReceiveFailures.inc(from);
        writeGoError(res, 500, msg);
        return;
      }
      res.writeHead(204);
      res.end();
      metrics.snapshotReceiveSuccess.inc(from);
      metrics.snapshotReceiveSeconds.observe((Date.now() - start) / 1000, from);
    } finally {
      metrics.snapshotReceiveInflights.dec(from);
    }
  }

  private probing(res: ServerResponse): void {
    const body = probingBody();
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }
}
