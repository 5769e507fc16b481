/**
 * The gRPC server: etcd's services from the generated ServiceDefinitions bound to the shared handlers,
 * with etcd's error statuses, message size limit (max-request-bytes + 512 KiB of gRPC overhead, like
 * etcd) and go-grpc-prometheus style counters. The transport is kv's own HTTP/2 gRPC server
 * (transport/grpc/server.ts).
 */
import {
  AuthService,
  ClusterService,
  ElectionService,
  KVService,
  type LeaseKeepAliveRequest,
  LeaseService,
  LockService,
  MaintenanceService,
  type WatchRequest,
  WatchService,
} from '@kv/client/api';
import type { ServerConfig } from '../config/parse.js';
import { Errors, EtcdError, toEtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import type { Logger } from '../log/logger.js';
import type { CounterSeries } from '../metrics/registry.js';
import type { MethodDefinition, MethodStats, ServerCall } from '../transport/grpc/call.js';
import { H2_DEFAULTS, type H2Limits } from '../transport/grpc/h2-limits.js';
import { GrpcServer, type ServiceImplementation, type StreamHandler } from '../transport/grpc/server.js';
import { Status } from '../transport/grpc/status.js';
import { createElectionService } from '../v3election/service.js';
import { createLockService } from '../v3lock/service.js';
import { createServerFacade } from './concurrency.js';
import { Handlers } from './handlers.js';
import { registerHealth } from './health.js';
import type { CallContext, GrpcCallLike } from './identity.js';
import { SNAPSHOT_CHUNK } from './maintenance.js';
import { SnapshotFrameEncoder } from './snapshot-frame.js';
import { WatchSession } from './watch.js';
import { GRPC_OVERHEAD_BYTES } from './watch-fragment.js';

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [
      v as number,
      k
        .split('_')
        .map((w) => w[0] + w.slice(1).toLowerCase())
        .join(''),
    ]),
);
CODE_NAMES[0] = 'OK';

/** A gRPC status with etcd's message. */
export interface GrpcStatus {
  code: number;
  details: string;
  message: string;
}

/** Converts any error to a gRPC status with etcd's message. */
export function toGrpcError(err: unknown): GrpcStatus {
  const e = err instanceof EtcdError ? err : toEtcdError(err);
  return { code: e.code, details: e.message, message: e.message };
}

// biome-ignore lint/suspicious/noExplicitAny: generic over generated definitions
type AnyDef = Record<string, MethodDefinition<any, any>>;
// biome-ignore lint/suspicious/noExplicitAny: each stream handler is typed by its own method
type AnyStreamHandler = StreamHandler<any, any>;

/** The grpc_server_* counters of one method, with its label sets built once. */
function methodStats(etcd: EtcdServer, service: string, method: MethodDefinition, key: string): MethodStats {
  const m = etcd.metrics;
  const grpcType = method.requestStream
    ? method.responseStream
      ? 'bidi_stream'
      : 'client_stream'
    : method.responseStream
      ? 'server_stream'
      : 'unary';
  // Label names in Go's exposition order (sorted), so the text matches etcd's line for line.
  const labels = { grpc_method: method.originalName ?? key, grpc_service: service, grpc_type: grpcType };
  // Each label set's series is bound once (a plain addition per call); the common case (one client API
  // version, status OK) is kept in a field, so a request does no map lookup at all.
  const startedSeries = m.grpcStarted.series(labels);
  const msgReceived = m.grpcMsgReceived.series(labels);
  const msgSent = m.grpcMsgSent.series(labels);
  const handledSeries = new Map<number, CounterSeries>();
  const handledOk = m.grpcHandled.series({ grpc_code: CODE_NAMES[0]!, ...labels });
  // etcd's interceptors count client requests as "unary" or "stream" per client API version.
  const requestType = labels.grpc_type === 'unary' ? 'unary' : 'stream';
  const requestSeries = new Map<string, CounterSeries>();
  let lastVersion: string | undefined;
  let lastRequests: CounterSeries | undefined;
  return {
    started: (version = 'unknown') => {
      startedSeries.inc();
      if (version !== lastVersion) {
        let c = requestSeries.get(version);
        if (!c)
          requestSeries.set(
            version,
            (c = m.clientRequests.series({ client_api_version: version, type: requestType })),
          );
        lastVersion = version;
        lastRequests = c;
      }
      lastRequests!.inc();
    },
    handled: (code) => {
      let c = code === 0 ? handledOk : handledSeries.get(code);
      if (!c)
        handledSeries.set(
          code,
          (c = m.grpcHandled.series({ grpc_code: CODE_NAMES[code] ?? String(code), ...labels })),
        );
      c.inc();
    },
    received: (bytes) => {
      m.grpcReceivedBytes.inc(undefined, bytes);
      msgReceived.inc();
    },
    sent: (bytes) => {
      m.grpcSentBytes.inc(undefined, bytes);
      msgSent.inc();
    },
  };
}

/**
 * etcd's isRPCSupportedForLearner: a learner answers only Status and serializable Range; everything else
 * fails with `etcdserver: rpc not supported for learner`.
 */
function servedByLearner(service: string, method: string, req: unknown): boolean {
  if (service === 'etcdserverpb.Maintenance' && method === 'status') return true;
  return (
    service === 'etcdserverpb.KV' &&
    method === 'range' &&
    (req as { serializable?: boolean }).serializable === true
  );
}

/**
 * etcd's transport flags as etcd 3.4 hands them to grpc-go (embed/etcd.go): the ping policy only when
 * `--grpc-keepalive-min-time` > 0 (else grpc-go's default, 5 minutes, which the layer applies for 0);
 * the server pings only when both `--grpc-keepalive-interval` and `-timeout` are > 0, else grpc-go's
 * defaults (2 h, 20 s) apply — "0 to disable" in etcd's help does not disable them.
 */
export function grpcTransportLimits(cfg: ServerConfig): Partial<H2Limits> {
  const both = cfg.grpcKeepaliveIntervalMs > 0 && cfg.grpcKeepaliveTimeoutMs > 0;
  return {
    maxConcurrentStreams: cfg.maxConcurrentStreams,
    keepaliveMinTimeMs: cfg.grpcKeepaliveMinTimeMs,
    keepaliveIntervalMs: both ? cfg.grpcKeepaliveIntervalMs : H2_DEFAULTS.keepaliveIntervalMs,
    keepaliveTimeoutMs: both ? cfg.grpcKeepaliveTimeoutMs : H2_DEFAULTS.keepaliveTimeoutMs,
  };
}

/** Creates the gRPC server with every service registered (not bound to a port: see cmux). */
export function createGrpcServer(etcd: EtcdServer, cfg: ServerConfig, log: Logger): GrpcServer {
  const server = new GrpcServer({
    maxReceiveMessageLength: cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    statsFor: (service, method, key) => methodStats(etcd, service, method, key),
    onHandlerError: (err) => log.error('gRPC handler failed; stream reset', { error: err }),
    limits: grpcTransportLimits(cfg),
    onGoAway: (info) =>
      log.warn('closed a client connection', {
        'remote-addr': info.remote,
        code: info.code,
        reason: info.reason,
      }),
  });
  const handlers = new Handlers(etcd, cfg);
  const identity = handlers.identity;

  /** Binds the service's unary methods to the shared handlers; `streams` supplies the rest. */
  const register = (serviceName: string, def: AnyDef, streams: Record<string, AnyStreamHandler> = {}) => {
    const impl: ServiceImplementation = {};
    // etcd's stream interceptor: a learner serves no streams (watch, keep-alive, snapshot).
    for (const [key, h] of Object.entries(streams)) {
      impl[key] = (call: ServerCall) => {
        if (etcd.isLearner) call.fail(toGrpcError(Errors.notSupportedForLearner()));
        else h(call);
      };
    }
    for (const key of Object.keys(def)) {
      if (streams[key]) continue;
      const fn = handlers.unary.get(`${serviceName}/${key}`);
      if (!fn) continue;
      impl[key] = (call: ServerCall, callback: (err: GrpcStatus | null, resp?: unknown) => void) => {
        if (etcd.isLearner && !servedByLearner(serviceName, key, call.request)) {
          callback(toGrpcError(Errors.notSupportedForLearner()));
          return;
        }
        let ctx: CallContext;
        try {
          ctx = identity.fromGrpcCall(call);
        } catch (err) {
          callback(toGrpcError(err));
          return;
        }
        fn(call.request, ctx).then(
          (resp) => callback(null, resp),
          (err: unknown) => {
            if (!(err instanceof EtcdError))
              log.warn('request failed', { method: `${serviceName}/${key}`, error: err });
            // A failed storage read (store.ts): the server's fault, logged like etcd's panic would be.
            else if (err.code === Status.INTERNAL)
              log.error('request failed', { method: `${serviceName}/${key}`, error: err });
            callback(toGrpcError(err));
          },
        );
      };
    }
    server.addService(def, impl);
  };

  register('etcdserverpb.KV', KVService as unknown as AnyDef);
  register('etcdserverpb.Watch', WatchService as unknown as AnyDef, {
    watch: (call: ServerCall<WatchRequest, unknown>) => {
      const session = new WatchSession(
        etcd,
        {
          write: (msg) => call.write(msg),
          onDrain: (cb) => call.once('drain', cb),
        },
        // Resolved per create request, so a token that expired meanwhile is noticed.
        () => identity.fromGrpcCall(call),
        log,
      );
      call.on('data', (req: WatchRequest) => session.handle(req));
      const end = () => {
        session.close();
        if (call.writable) call.end();
      };
      call.on('end', end);
      call.on('cancelled', () => session.close());
      call.on('error', () => session.close());
    },
  });
  register('etcdserverpb.Lease', LeaseService as unknown as AnyDef, {
    leaseKeepAlive: (call: ServerCall<LeaseKeepAliveRequest, unknown>) => {
      // Answered one after another, like etcd's receive loop: responses keep the requests' order and
      // every request sent before the client half-closes is answered before the stream ends.
      // A client that does not read its responses holds the next answer back until the stream drains
      // (and the transport stops crediting its sends meanwhile), so answers cannot pile up.
      let answered: Promise<void> = Promise.resolve();
      const drained = () =>
        new Promise<void>((resolve) => {
          call.once('drain', resolve);
          call.once('cancelled', resolve);
        });
      call.on('data', (req: LeaseKeepAliveRequest) => {
        answered = answered.then(() =>
          handlers.lease.keepAliveOnce(req.ID).then(
            (resp) => (call.write(resp) || !call.writable ? undefined : drained()),
            (err: unknown) => call.fail(toGrpcError(err)),
          ),
        );
      });
      call.on('end', () => {
        void answered.then(() => call.end());
      });
    },
  });
  register('etcdserverpb.Cluster', ClusterService as unknown as AnyDef);
  register('etcdserverpb.Maintenance', MaintenanceService as unknown as AnyDef, {
    snapshot: (call: ServerCall) => {
      void (async () => {
        try {
          const ctx = identity.fromGrpcCall(call);
          // Each chunk is encoded into the same frame buffer, reused once the transport copied it out
          // (sent()); with the drain wait, at most a stream window's worth of chunks is ever queued.
          const frames = new SnapshotFrameEncoder(SNAPSHOT_CHUNK);
          for await (const chunk of handlers.maintenance.snapshot(ctx)) {
            if (call.cancelled) return;
            if (!call.writeFramed(frames.encode(chunk))) await drainedOrCancelled(call);
            await call.sent();
          }
          call.end();
        } catch (err) {
          call.fail(toGrpcError(err));
        }
      })();
    },
  });
  register('etcdserverpb.Auth', AuthService as unknown as AnyDef);
  // Lock and Election act as the caller: each call gets a facade bound to its own identity.
  const facadeFor = (call: GrpcCallLike) => createServerFacade(handlers, () => identity.fromGrpcCall(call));
  server.addService(LockService as unknown as AnyDef, createLockService(facadeFor));
  server.addService(ElectionService as unknown as AnyDef, createElectionService(facadeFor));
  registerHealth(server, etcd);
  return server;
}

/** Resolves when the call's output drains or the call is cancelled (a gone client never drains). */
function drainedOrCancelled(call: ServerCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

export { Handlers };
