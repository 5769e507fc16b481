/**
 * The Watch service: one bidirectional stream carries many watchers, each with a stream-local id.
 * Create/cancel/progress requests in, created/canceled/event/progress responses out. Backpressure: when
 * the stream's buffer is full the sink returns a promise that settles on 'drain', so the hub holds
 * that watcher's deliveries (and falls back to history catch-up if it falls far behind) while writers
 * continue.
 */
import type { DeepPartial, WatchCreateRequest, WatchRequest, WatchResponse } from '@kv/client/api';
import type { WatchBatch, Watcher } from '@kv/mvcc';
import { checkWatchCreate } from '../auth/permissions.js';
import type { EtcdServer } from '../etcdserver/server.js';
import type { Logger } from '../log/logger.js';
import { header } from './context.js';
import { ANONYMOUS, type CallContext } from './identity.js';
import { fragmentWatchResponse, GRPC_OVERHEAD_BYTES } from './watch-fragment.js';

/** The minimal duplex surface of a grpc-js stream (also implemented by the HTTP gateway). */
export interface WatchStreamIo {
  write(msg: DeepPartial<WatchResponse>): boolean;
  onDrain(cb: () => void): void;
}

/** One Watch stream's state. */
export class WatchSession {
  private readonly watchers = new Map<bigint, Watcher>();
  /** Watchers created with `fragment`: their large responses are split by size (watch-fragment.ts). */
  private readonly fragmenting = new Set<bigint>();
  /** Ids are int64 (a client may choose any); the server's own count up from 0, as etcd's do. */
  private nextId = 0n;
  private closed = false;

  constructor(
    private readonly etcd: EtcdServer,
    private readonly io: WatchStreamIo,
    /** The stream's identity (token or certificate CN), resolved for each create request. */
    private readonly identity: () => CallContext = () => ANONYMOUS,
    /** Where a watcher the hub had to cancel (a failed storage read) is reported. */
    private readonly log?: Logger,
  ) {
    etcd.metrics.watchStreams.inc();
  }

  /** Handles one request of the stream. */
  handle(req: WatchRequest): void {
    if (this.closed) return;
    if (req.createRequest) this.create(req.createRequest);
    else if (req.cancelRequest) this.cancel(req.cancelRequest.watchId);
    else if (req.progressRequest) {
      // Not tied to one watcher: etcd answers with watch id -1 and the current revision.
      this.io.write({ header: header(this.etcd), watchId: -1n });
    }
  }

  private create(c: WatchCreateRequest): void {
    let id = c.watchId;
    if (id === 0n || id === undefined) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      // etcd 3.4.23: a duplicate watch id fails the create with created + canceled, watch id -1 and
      // mvcc's ErrWatcherDuplicateID text (checked against the real etcd).
      this.io.write({
        header: header(this.etcd),
        watchId: -1n,
        created: true,
        canceled: true,
        cancelReason: 'mvcc: duplicate watch ID provided on the WatchStream',
      });
      return;
    }
    if (this.etcd.auth.isEnabled() && !this.permitted(c)) {
      // etcd 3.4: a denied create is answered created + canceled; the reason is the gRPC status
      // error's string (rpctypes.ErrGRPCPermissionDenied.Error()), which etcdctl prints verbatim.
      this.io.write({
        header: header(this.etcd),
        watchId: c.watchId ?? 0n,
        created: true,
        canceled: true,
        cancelReason: 'rpc error: code = PermissionDenied desc = etcdserver: permission denied',
      });
      return;
    }
    const rev = this.etcd.store.rev();
    // The created response goes out before any event of this watcher.
    this.io.write({ header: header(this.etcd, rev), watchId: id, created: true });
    const watchId = id;
    const watcher = this.etcd.store.mvcc.watch(
      {
        key: c.key,
        rangeEnd: c.rangeEnd,
        startRevision: c.startRevision,
        prevKv: c.prevKv,
        filters: c.filters as Array<0 | 1>,
        // Not passed to the hub (which would split by event count): split here by size, as etcd.
        progressNotify: c.progressNotify,
      },
      (batch) => this.deliver(watchId, batch),
    );
    if (c.fragment) this.fragmenting.add(watchId);
    else this.fragmenting.delete(watchId);
    this.watchers.set(watchId, watcher);
    this.etcd.metrics.watchers.inc();
  }

  /** etcd's isWatchPermitted: any failure (no user, bad token, old revision, no grant) denies. */
  private permitted(c: WatchCreateRequest): boolean {
    try {
      checkWatchCreate(this.etcd.auth, this.identity().authInfo, c);
      return true;
    } catch {
      return false;
    }
  }

  private deliver(watchId: bigint, batch: WatchBatch): boolean | Promise<void> {
    if (this.closed) return false;
    if (batch.events.length > 0) this.etcd.metrics.eventsTotal.inc(undefined, batch.events.length);
    const resp: DeepPartial<WatchResponse> = {
      header: header(this.etcd, batch.revision),
      watchId,
      events: batch.events,
    };
    if (batch.canceled) {
      resp.canceled = true;
      resp.compactRevision = batch.compactRevision ?? 0;
      if (batch.cancelReason) {
        resp.cancelReason = batch.cancelReason;
        this.log?.error('watcher canceled', { 'watch-id': String(watchId), error: batch.cancelReason });
      }
      if (this.watchers.delete(watchId)) this.etcd.metrics.watchers.dec();
    }
    let ok: boolean;
    if (this.fragmenting.has(watchId)) {
      ok = true;
      const limit = this.etcd.cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES;
      for (const part of fragmentWatchResponse(resp, limit)) ok = this.io.write(part);
    } else {
      ok = this.io.write(resp);
    }
    if (ok) return true;
    return new Promise<void>((resolve) => this.io.onDrain(resolve));
  }

  private cancel(watchId: bigint): void {
    const w = this.watchers.get(watchId);
    if (!w) return;
    w.cancel();
    this.watchers.delete(watchId);
    this.fragmenting.delete(watchId);
    this.etcd.metrics.watchers.dec();
    this.io.write({ header: header(this.etcd), watchId, canceled: true });
  }

  /** The stream ended: cancel every watcher. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.etcd.metrics.watchStreams.dec();
    for (const w of this.watchers.values()) {
      w.cancel();
      this.etcd.metrics.watchers.dec();
    }
    this.watchers.clear();
  }
}
