import type { Message } from './types.js';

/** How a leader confirms it is still leader before answering a ReadIndex request. */
export type ReadOnlyOption = 'safe' | 'lease-based';

/** A ReadIndex request waiting for a quorum of heartbeat acks. */
interface PendingRead {
  /** Commit index when the request arrived: the read is served once applied reaches it. */
  index: number;
  req: Message;
  acks: Map<bigint, boolean>;
}

/** Key of a request context in the pending map (byte-exact, compact). */
function ctxKey(ctx: Uint8Array): string {
  let key = '';
  for (let i = 0; i < ctx.length; i++) key += String.fromCharCode(ctx[i]!);
  return key;
}

/**
 * Safe ReadIndex bookkeeping on the leader: each request records the commit index and waits until a quorum
 * acknowledged a heartbeat carrying its context. Requests are confirmed in arrival order, so an ack for a
 * later request confirms every earlier one too.
 */
export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Registers a request (its context is `m.entries[0].data`) at commit index `index`. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.entries[0]!.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, req: m, acks: new Map() });
    this.queue.push(key);
  }

  /** Records that `id` acknowledged the heartbeat carrying `ctx`; returns the acks so far. */
  recvAck(id: bigint, ctx: Uint8Array): ReadonlyMap<bigint, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (!rs) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Removes and returns every request up to and including the one with context `ctx`. */
  advance(ctx: Uint8Array): { index: number; req: Message }[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: { index: number; req: Message }[] = [];
    for (const k of done) {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      out.push({ index: rs.index, req: rs.req });
    }
    return out;
  }

  /** Context of the newest pending request (heartbeats carry it), if any. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.entries[0]!.data;
  }

  get pendingCount(): number {
    return this.queue.length;
  }
}
