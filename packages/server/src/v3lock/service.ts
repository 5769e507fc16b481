/**
 * Handlers for v3lockpb.Lock: `server.addService(LockService, createLockService(facade))`.
 */

import type { LockRequest, LockResponse, UnlockRequest, UnlockResponse } from '@kv/client/api';
import type { GrpcCallLike } from '../api/identity.js';
import type { ServerCall, StatusLike } from '../transport/grpc/call.js';
import { Status } from '../transport/grpc/status.js';
import type { KvFacade } from './facade.js';
import { lock, unlock } from './lock.js';

/** A facade, or a function giving one per call (e.g. bound to the caller's auth token). */
export type FacadeSource = KvFacade | ((call: GrpcCallLike) => KvFacade);

/** Resolves the facade for one call. */
export function facadeFor(src: FacadeSource, call: GrpcCallLike): KvFacade {
  return typeof src === 'function' ? src(call) : src;
}

/** A unary call's answer: an error status, or the response. */
export type UnaryCallback<Res> = (err: StatusLike | null, response?: Res) => void;

/**
 * Any thrown value as a gRPC status. etcd's v3lock/v3election servers return every failure,
 * including the KV layer's ("etcdserver: requested lease not found", "etcdserver: permission denied"),
 * as status UNKNOWN with the original text (checked against etcd 3.4.23); only a client cancel keeps
 * CANCELLED.
 */
export function toServiceError(err: unknown): StatusLike {
  const cancelled = (err as { code?: unknown })?.code === Status.CANCELLED;
  const code = cancelled ? Status.CANCELLED : Status.UNKNOWN;
  const details = err instanceof Error ? err.message : String(err);
  return { code, details, message: details };
}

/** An AbortSignal that fires when the client cancels the call. */
export function callSignal(call: { on(event: 'cancelled', cb: () => void): unknown }): AbortSignal {
  const ac = new AbortController();
  call.on('cancelled', () => ac.abort());
  return ac.signal;
}

/** Handlers of v3lockpb.Lock. */
export function createLockService(src: FacadeSource) {
  return {
    lock(call: ServerCall<LockRequest, LockResponse>, callback: UnaryCallback<LockResponse>): void {
      lock(facadeFor(src, call), call.request, callSignal(call)).then(
        (r) => callback(null, r),
        (err) => callback(toServiceError(err)),
      );
    },
    unlock(call: ServerCall<UnlockRequest, UnlockResponse>, callback: UnaryCallback<UnlockResponse>): void {
      unlock(facadeFor(src, call), call.request).then(
        (r) => callback(null, r),
        (err) => callback(toServiceError(err)),
      );
    },
  };
}
