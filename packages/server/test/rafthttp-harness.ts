/**
 * Test harness for the peer transport: a recording RaftSink and members made of a real PeerTransport
 * behind a real peer listener on 127.0.0.1 (port 0 unless a port is given).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as tls from 'node:tls';
import { EMPTY_BYTES, type Message, MessageType } from '@kv/raft';
import { Logger } from '../src/log/logger.js';
import { ServerMetrics } from '../src/metrics/server-metrics.js';
import {
  createPeerListener,
  type PeerListener,
  type PeerTiming,
  PeerTransport,
  type RaftSink,
} from '../src/rafthttp/index.js';

/** Records everything the transport hands to raft. */
export class RecordingSink implements RaftSink {
  messages: Message[] = [];
  unreachable: bigint[] = [];
  snapshotReports: { id: bigint; ok: boolean }[] = [];
  removedCalls = 0;
  removedIds = new Set<bigint>();
  snapshots: { msg: Message; bytes: number; sha256: string; head: Buffer }[] = [];
  /** When set, receiveSnapshot fails with it after reading part of the data. */
  failSnapshot: Error | undefined;
  /** Order of calls, to check process() follows receiveSnapshot(). */
  calls: string[] = [];

  process(msg: Message): void {
    this.calls.push(`process:${MessageType[msg.type]}`);
    this.messages.push(msg);
  }
  isIdRemoved(id: bigint): boolean {
    return this.removedIds.has(id);
  }
  reportUnreachable(id: bigint): void {
    this.unreachable.push(id);
  }
  reportSnapshot(id: bigint, ok: boolean): void {
    this.snapshotReports.push({ id, ok });
  }
  async receiveSnapshot(msg: Message, data: AsyncIterable<Uint8Array>): Promise<void> {
    this.calls.push('receiveSnapshot');
    const h = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    for await (const chunk of data) {
      h.update(chunk);
      bytes += chunk.length;
      if (head.length < 64) head = Buffer.concat([head, Buffer.from(chunk)]).subarray(0, 64);
      if (this.failSnapshot && bytes > 1024) throw this.failSnapshot;
    }
    this.snapshots.push({ msg, bytes, sha256: h.digest('hex'), head });
  }
  onRemoved(): void {
    this.removedCalls++;
  }
}

/** Collects log lines as parsed objects. */
export class LogLines {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger = new Logger('debug', { write: (s: string) => this.lines.push(JSON.parse(s)) });
  has(msg: string): boolean {
    return this.lines.some((l) => l.msg === msg);
  }
  find(msg: string): Record<string, unknown> | undefined {
    return this.lines.find((l) => l.msg === msg);
  }
}

/** Short timings so reconnects and probes happen within a test. */
export const FAST: Partial<PeerTiming> = {
  connReadTimeoutMs: 3000,
  dialRetryMs: 20,
  dialRetryMaxMs: 200,
  probeIntervalMs: 50,
  probeMonitorErrorMs: 100,
  probeMonitorHealthyMs: 100,
};

export interface MemberOptions {
  clusterId?: bigint;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  port?: number;
  scheme?: 'http' | 'https';
  tlsServer?: tls.TlsOptions;
  dialTls?: tls.ConnectionOptions;
  allowedCn?: string;
  timing?: Partial<PeerTiming>;
}

/** One member: a transport behind its own listener. */
export class Member {
  readonly sink = new RecordingSink();
  readonly logs = new LogLines();
  readonly metrics = new ServerMetrics();
  transport!: PeerTransport;
  listener!: PeerListener;

  private constructor(readonly id: bigint) {}

  get url(): string {
    return this.listener.urls[0]!;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Serves paths the transport does not (tests use it for /version). */
  fallback: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  static async start(id: bigint, opts: MemberOptions = {}): Promise<Member> {
    const m = new Member(id);
    const scheme = opts.scheme ?? 'http';
    m.listener = await createPeerListener(
      [`${scheme}://${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}`],
      opts.tlsServer,
      (req, res) => {
        if (!m.transport.handle(req, res)) {
          if (m.fallback) return m.fallback(req, res);
          res.writeHead(404);
          res.end('not a peer path\n');
        }
      },
      { allowedCn: opts.allowedCn, logger: m.logs.logger },
    );
    m.transport = new PeerTransport({
      memberId: id,
      clusterId: opts.clusterId ?? 0xc1n,
      peerUrls: m.listener.urls,
      serverVersion: '3.4.23',
      minClusterVersion: '3.0.0',
      dialTls: opts.dialTls,
      logger: m.logs.logger,
      metrics: m.metrics,
      sink: m.sink,
      timing: { ...FAST, ...opts.timing },
    });
    return m;
  }

  async stop(): Promise<void> {
    await this.transport.stop();
    await this.listener.close();
  }
}

/** Waits until `cond` holds (polling); throws with `what` after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Connects members pairwise (each adds the others as peers). */
export function mesh(members: readonly Member[]): void {
  for (const a of members) for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.url]);
}

/** Waits until `a` has both of `b`'s streams attached (b dialed a). */
export async function streamsUp(a: Member, b: Member): Promise<void> {
  await waitFor(() => {
    const s = a.transport.bufferStats(b.id)?.streams;
    return !!s?.msgappv2 && !!s.message;
  }, `${a.id} -> ${b.id} streams`);
}

/** A raft message with defaults. */
export function message(over: Partial<Message>): Message {
  return {
    type: MessageType.MsgHeartbeat,
    to: 0n,
    from: 0n,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    ...over,
  };
}
