/**
 * The network between members: raft messages encoded with @kv/raft's protobuf codec, POSTed to the peer's
 * `/raft` endpoint over HTTP/1.1 keep-alive. One queue per peer keeps messages to a peer in order and
 * batches whatever piles up while a POST is in flight into the next one (length-prefixed frames).
 * Delivery is best effort, as raft expects of a network: a failed POST tells raft the peer is
 * unreachable (so the leader probes instead of streaming), and a failed snapshot is reported as such.
 */
import { decodeMessage, encodeMessage, type Message, MessageType } from '@kv/raft';
import type { NodeId } from './node-id.js';

/** Path peers POST raft messages to. */
export const RAFT_PATH = '/raft';

/** Messages waiting for one peer beyond this are dropped (raft retransmits what matters). */
const MAX_QUEUED = 4096;
/** A POST that takes longer than this is abandoned (a stopped peer must not pile up requests). */
const POST_TIMEOUT_MS = 5_000;
/** Snapshots can be large; they get longer. */
const SNAPSHOT_TIMEOUT_MS = 60_000;

/** What the transport reports back to the raft node. */
export interface TransportEvents {
  /** A message to `to` could not be delivered. */
  unreachable(to: NodeId): void;
  /** A MsgSnap to `to` was delivered (`ok`) or not. */
  snapshotStatus(to: NodeId, ok: boolean): void;
}

/**
 * Sends raft messages to peers by URL; the peer set follows membership changes.
 *
 * @example
 * ```ts
 * const transport = new HttpTransport(events);
 * transport.setPeer(nodeId(2), 'http://127.0.0.1:22379');
 * transport.send(rd.messages);
 * ```
 */
export class HttpTransport {
  private readonly peers = new Map<NodeId, PeerQueue>();

  constructor(private readonly events: TransportEvents) {}

  /** Adds a peer, or changes its URL. */
  setPeer(id: NodeId, url: string): void {
    const q = this.peers.get(id);
    if (q) q.url = url;
    else this.peers.set(id, new PeerQueue(id, url, this.events));
  }

  /** Forgets a removed member; messages still queued for it are dropped. */
  removePeer(id: NodeId): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
  }

  /** Peer URLs by id. */
  urls(): Map<NodeId, string> {
    return new Map([...this.peers].map(([id, q]) => [id, q.url]));
  }

  /** Queues messages for their peers; returns at once. */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      const q = this.peers.get(m.to);
      if (q) q.push(m);
      else this.reportFailure(m);
    }
  }

  close(): void {
    for (const q of this.peers.values()) q.close();
  }

  private reportFailure(m: Message): void {
    this.events.unreachable(m.to);
    if (m.type === MessageType.MsgSnap) this.events.snapshotStatus(m.to, false);
  }
}

/** One peer's ordered outbox and the single POST in flight to it. */
class PeerQueue {
  private queue: Message[] = [];
  private sending = false;
  private closed = false;

  constructor(
    readonly id: NodeId,
    public url: string,
    private readonly events: TransportEvents,
  ) {}

  push(m: Message): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      const dropped = this.queue.shift()!;
      if (dropped.type === MessageType.MsgSnap) this.events.snapshotStatus(this.id, false);
      this.events.unreachable(this.id);
    }
    this.queue.push(m);
    if (!this.sending) void this.flush();
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private async flush(): Promise<void> {
    this.sending = true;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue;
      this.queue = [];
      const snaps = batch.filter((m) => m.type === MessageType.MsgSnap);
      let ok = false;
      try {
        const res = await fetch(`${this.url}${RAFT_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream' },
          body: encodeFrames(batch),
          signal: AbortSignal.timeout(snaps.length > 0 ? SNAPSHOT_TIMEOUT_MS : POST_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        ok = res.ok;
      } catch {
        ok = false;
      }
      if (!ok) this.events.unreachable(this.id);
      for (const _ of snaps) this.events.snapshotStatus(this.id, ok);
    }
    this.sending = false;
  }
}

/** Frames messages for one POST body: `u32 BE length | encoded message`, repeated. */
export function encodeFrames(messages: readonly Message[]): Uint8Array {
  const encoded = messages.map(encodeMessage);
  const out = new Uint8Array(encoded.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let pos = 0;
  for (const b of encoded) {
    view.setUint32(pos, b.length);
    out.set(b, pos + 4);
    pos += 4 + b.length;
  }
  return out;
}

/** Splits a POST body from {@link encodeFrames} back into messages; throws on a truncated frame. */
export function decodeFrames(body: Uint8Array): Message[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: Message[] = [];
  let pos = 0;
  while (pos < body.length) {
    if (pos + 4 > body.length) throw new RangeError('truncated raft frame header');
    const len = view.getUint32(pos);
    if (pos + 4 + len > body.length) throw new RangeError('truncated raft frame');
    out.push(decodeMessage(body.subarray(pos + 4, pos + 4 + len)));
    pos += 4 + len;
  }
  return out;
}
