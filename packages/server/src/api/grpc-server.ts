/**
 * The gRPC server: etcd's services from the generated ServiceDefinitions bound to the shared handlers,
 * with etcd's error statuses, message size limit (max-request-bytes + 512 KiB of gRPC overhead, like
 * etcd) and go-grpc-prometheus style counters.
 */
import * as grpc from '@grpc/grpc-js';
import {
  AuthService,
  ClusterService,
  ElectionService,
  type GrpcMethodDefinition,
  KVService,
  type LeaseKeepAliveRequest,
  LeaseService,
  LockService,
  MaintenanceService,
  type WatchRequest,
  WatchService,
} from '@kv/client/api';
import type { ServerConfig } from '../config/parse.js';
import { EtcdError, toEtcdError } from '../etcdserver/errors.js';
import type { EtcdServer } from '../etcdserver/server.js';
import type { Logger } from '../log/logger.js';
import { createElectionService } from '../v3election/service.js';
import { createLockService } from '../v3lock/service.js';
import { createServerFacade } from './concurrency.js';
import { Handlers } from './handlers.js';
import type { CallContext, GrpcCallLike } from './identity.js';
import { WatchSession } from './watch.js';

/** etcd's grpcOverheadBytes. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(grpc.status)
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

/** Converts any error to a grpc-js ServiceError-like object with etcd's message. */
export function toGrpcError(err: unknown): Partial<grpc.ServiceError> {
  const e = err instanceof EtcdError ? err : toEtcdError(err);
  return { code: e.code, details: e.message, message: e.message };
}

// biome-ignore lint/suspicious/noExplicitAny: generic over generated definitions
type AnyDef = Record<string, GrpcMethodDefinition<any, any>>;

/** Creates the grpc-js server with every service registered (not bound to a port: see cmux). */
export function createGrpcServer(etcd: EtcdServer, cfg: ServerConfig, log: Logger): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5000,
    // channelz bookkeeping (per-call trackers, Date.now per message) costs CPU on every call and
    // nothing here reads it.
    'grpc.enable_channelz': 0,
  });
  const handlers = new Handlers(etcd, cfg);
  const identity = handlers.identity;
  const m = etcd.metrics;

  const register = (
    serviceName: string,
    def: AnyDef,
    streams: Record<string, grpc.UntypedHandleCall> = {},
  ) => {
    const impl: grpc.UntypedServiceImplementation = {};
    const counted: AnyDef = {};
    for (const [key, method] of Object.entries(def)) {
      const labels = {
        grpc_service: serviceName,
        grpc_method: method.originalName ?? key,
        grpc_type: method.requestStream
          ? method.responseStream
            ? 'bidi_stream'
            : 'client_stream'
          : method.responseStream
            ? 'server_stream'
            : 'unary',
      };
      counted[key] = {
        ...method,
        requestDeserialize: (b: Buffer) => {
          m.grpcReceivedBytes.inc(undefined, b.length);
          m.grpcMsgReceived.inc(labels);
          return method.requestDeserialize(b);
        },
        responseSerialize: (v: unknown) => {
          const out = method.responseSerialize(v);
          m.grpcSentBytes.inc(undefined, out.length);
          m.grpcMsgSent.inc(labels);
          return out;
        },
      };
      // One labels object per status code, so the registry's per-object key cache hits.
      const handledLabels = new Map<number, Record<string, string>>();
      const handled = (code: number) => {
        let l = handledLabels.get(code);
        if (!l) {
          l = { ...labels, grpc_code: CODE_NAMES[code] ?? String(code) };
          handledLabels.set(code, l);
        }
        m.grpcHandled.inc(l);
      };
      if (streams[key]) {
        const inner = streams[key] as (call: grpc.ServerDuplexStream<unknown, unknown>) => void;
        impl[key] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          m.grpcStarted.inc(labels);
          let done = false;
          const finish = (code: number) => {
            if (!done) {
              done = true;
              handled(code);
            }
          };
          call.on('finish', () => finish(0));
          call.on('cancelled', () => finish(grpc.status.CANCELLED));
          call.on('error', () => finish(grpc.status.UNKNOWN));
          inner(call);
        };
        continue;
      }
      const fn = handlers.unary.get(`${serviceName}/${key}`);
      impl[key] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        m.grpcStarted.inc(labels);
        if (!fn) {
          handled(grpc.status.UNIMPLEMENTED);
          callback({ code: grpc.status.UNIMPLEMENTED, details: `unknown method ${key}` });
          return;
        }
        let ctx: CallContext;
        try {
          ctx = identity.fromGrpcCall(call as GrpcCallLike);
        } catch (err) {
          const ge = toGrpcError(err);
          handled(ge.code ?? grpc.status.UNKNOWN);
          callback(ge);
          return;
        }
        fn(call.request, ctx).then(
          (resp) => {
            handled(0);
            callback(null, resp);
          },
          (err: unknown) => {
            const ge = toGrpcError(err);
            handled(ge.code ?? grpc.status.UNKNOWN);
            if (!(err instanceof EtcdError))
              log.warn('request failed', { method: `${serviceName}/${key}`, error: err });
            callback(ge);
          },
        );
      };
    }
    server.addService(counted as grpc.ServiceDefinition, impl);
  };

  register('etcdserverpb.KV', KVService as unknown as AnyDef);
  register('etcdserverpb.Watch', WatchService as unknown as AnyDef, {
    watch: ((call: grpc.ServerDuplexStream<WatchRequest, unknown>) => {
      const session = new WatchSession(
        etcd,
        {
          write: (msg) => (call.writable && !call.destroyed ? call.write(msg) : true),
          onDrain: (cb) => call.once('drain', cb),
        },
        // Resolved per create request, so a token that expired meanwhile is noticed.
        () => identity.fromGrpcCall(call as GrpcCallLike),
      );
      call.on('data', (req: WatchRequest) => session.handle(req));
      const end = () => {
        session.close();
        if (call.writable) call.end();
      };
      call.on('end', end);
      call.on('cancelled', () => session.close());
      call.on('error', () => session.close());
    }) as grpc.UntypedHandleCall,
  });
  register('etcdserverpb.Lease', LeaseService as unknown as AnyDef, {
    leaseKeepAlive: ((call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, unknown>) => {
      // Answered one after another, like etcd's receive loop: responses keep the requests' order and
      // every request sent before the client half-closes is answered before the stream ends.
      let answered: Promise<void> = Promise.resolve();
      call.on('data', (req: LeaseKeepAliveRequest) => {
        answered = answered.then(() =>
          handlers.lease.keepAliveOnce(req.ID).then(
            (resp) => {
              if (call.writable && !call.destroyed) call.write(resp);
            },
            (err: unknown) => {
              // 'error' makes grpc-js send the status (destroy would drop the call without one).
              if (!call.destroyed)
                call.emit('error', Object.assign(new Error(toGrpcError(err).details), toGrpcError(err)));
            },
          ),
        );
      });
      call.on('end', () => {
        void answered.then(() => {
          if (call.writable && !call.destroyed) call.end();
        });
      });
    }) as grpc.UntypedHandleCall,
  });
  register('etcdserverpb.Cluster', ClusterService as unknown as AnyDef);
  register('etcdserverpb.Maintenance', MaintenanceService as unknown as AnyDef, {
    snapshot: ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      void (async () => {
        try {
          const ctx = identity.fromGrpcCall(call as GrpcCallLike);
          for await (const chunk of handlers.maintenance.snapshot(ctx)) {
            if (call.cancelled) return;
            if (!call.write(chunk)) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        } catch (err) {
          // 'error' makes grpc-js send the status (destroy would drop the call without one).
          call.emit('error', Object.assign(new Error(toGrpcError(err).details), toGrpcError(err)));
        }
      })();
    }) as grpc.UntypedHandleCall,
  });
  register('etcdserverpb.Auth', AuthService as unknown as AnyDef);
  // Lock and Election act as the caller: each call gets a facade bound to its own identity.
  const facadeFor = (call: { metadata: grpc.Metadata }) =>
    createServerFacade(handlers, () => identity.fromGrpcCall(call as GrpcCallLike));
  server.addService(LockService as unknown as grpc.ServiceDefinition, createLockService(facadeFor));
  server.addService(ElectionService as unknown as grpc.ServiceDefinition, createElectionService(facadeFor));
  registerHealth(server, etcd);
  return server;
}

/**
 * grpc.health.v1.Health/Check, which etcd registers too (load balancers and orchestrators probe it):
 * SERVING while a leader is known, NOT_SERVING otherwise. The two tiny messages are hand-encoded:
 * HealthCheckRequest {string service = 1}, HealthCheckResponse {ServingStatus status = 1}.
 */
function registerHealth(server: grpc.Server, etcd: EtcdServer): void {
  const SERVING = 1;
  const NOT_SERVING = 2;
  const def = {
    check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: Buffer) => v,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (status: number) => Buffer.from([0x08, status]),
      responseDeserialize: (b: Buffer) => b[1] ?? 0,
      originalName: 'Check',
    },
  };
  server.addService(def as unknown as grpc.ServiceDefinition, {
    check: (_call: grpc.ServerUnaryCall<Buffer, number>, callback: grpc.sendUnaryData<number>) =>
      callback(null, etcd.leaderId !== 0 ? SERVING : NOT_SERVING),
  });
}

export { Handlers };
