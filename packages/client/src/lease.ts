/**
 * LeaseKeepAlive: keeps one lease alive over a LeaseKeepAlive stream, renewing at a third of its TTL
 * (as etcd's Go client does), reopening the stream when it breaks, and reporting when the lease is gone.
 */
import { EventEmitter } from 'node:events';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { DeepPartial, LeaseKeepAliveRequest, LeaseKeepAliveResponse } from './api/index.js';
import type { CallOpts, Connection } from './connection.js';
import { InvalidAuthTokenError, type KvError, LeaseNotFoundError, toKvError } from './errors.js';
import type { Exact, ExactReq, Id } from './ids.js';
import { Lease } from './methods.js';

type KeepAliveStream = ClientDuplexStream<
  ExactReq<DeepPartial<LeaseKeepAliveRequest>>,
  Exact<LeaseKeepAliveResponse>
>;

/**
 * A running keep-alive. Events:
 * - `'keepalive'` (LeaseKeepAliveResponse): each renewal, with the new TTL,
 * - `'lost'` (KvError): the lease expired or was revoked ({@link LeaseNotFoundError}); the keep-alive stops,
 * - `'disconnected'` (KvError): the stream failed; it is reopened after a short delay.
 *
 * @example
 * ```ts
 * const { ID } = await client.grant(10);
 * const ka = await client.keepAlive(ID);
 * ka.on('lost', (e) => console.error('lease lost', e));
 * // ... later
 * ka.close();
 * ```
 */
export class LeaseKeepAlive extends EventEmitter {
  private stream: KeepAliveStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** @param ttlSeconds the lease's TTL, used for the first renewal interval. */
  constructor(
    private readonly conn: Connection,
    readonly leaseId: Id,
    private ttlSeconds: number,
  ) {
    super();
  }

  /** Opens the stream and sends the first renewal at once. */
  async start(): Promise<this> {
    await this.open();
    return this;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let stream: KeepAliveStream;
    try {
      stream = await this.conn.bidi(Lease.leaseKeepAlive);
    } catch (e) {
      this.retry(toKvError(e));
      return;
    }
    this.stream = stream;
    stream.on('data', (res: Exact<LeaseKeepAliveResponse>) => {
      if (res.TTL <= 0) {
        this.lose(new LeaseNotFoundError('etcdserver: requested lease not found'));
        return;
      }
      this.ttlSeconds = res.TTL;
      this.emit('keepalive', res);
      this.schedule();
    });
    stream.on('error', (e: Error) => {
      if (this.stream === stream) this.retry(toKvError(e));
    });
    stream.on('end', () => {
      if (this.stream === stream) this.retry(toKvError(new Error('keep-alive stream ended')));
    });
    stream.write({ ID: this.leaseId });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const ms = Math.max(500, (this.ttlSeconds * 1000) / 3);
    this.timer = setTimeout(() => this.stream?.write({ ID: this.leaseId }), ms);
  }

  private retry(e: KvError): void {
    this.stream = undefined;
    clearTimeout(this.timer);
    if (this.stopped) return;
    // The server forgot our token (restart, auth re-enabled): the reopened stream authenticates again.
    if (e instanceof InvalidAuthTokenError) this.conn.invalidateToken();
    this.emit('disconnected', e);
    setTimeout(() => void this.open(), 200).unref?.();
  }

  private lose(e: KvError): void {
    this.close();
    this.emit('lost', e);
  }

  /** Stops renewing (the lease itself stays until it expires or is revoked). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const s = this.stream;
    this.stream = undefined;
    s?.cancel();
  }
}

/** Sends one keep-alive and returns the server's answer (TTL 0 means the lease is gone). */
export async function keepAliveOnce(
  conn: Connection,
  id: Id,
  call?: CallOpts,
): Promise<Exact<LeaseKeepAliveResponse>> {
  const stream = await conn.bidi(Lease.leaseKeepAlive, call);
  try {
    return await new Promise<Exact<LeaseKeepAliveResponse>>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', (e) => reject(toKvError(e)));
      stream.once('end', () => reject(toKvError(new Error('keep-alive stream ended'))));
      stream.write({ ID: id });
    });
  } finally {
    stream.cancel();
  }
}
