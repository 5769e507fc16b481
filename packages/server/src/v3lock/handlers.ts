/**
 * The Lock methods as plain `async (request) => response` functions keyed like the server's unary
 * handler table (`<service>/<method key>`, the keys of GATEWAY_ROUTES), so the JSON gateway serves
 * `/v3/lock/lock` and `/v3/lock/unlock` with the same code as gRPC.
 */
import type { LockRequest, UnlockRequest } from '@kv/client/api';
import type { KvFacade } from './facade.js';
import { lock, unlock } from './lock.js';

/** A unary handler: decoded request in, response message out. */
export type ConcurrencyUnaryHandler = (req: never, signal?: AbortSignal) => Promise<unknown>;

/** `[key, handler]` pairs for `v3lockpb.Lock/lock` and `v3lockpb.Lock/unlock`. */
export function lockUnaryHandlers(facade: KvFacade): [string, ConcurrencyUnaryHandler][] {
  return [
    ['v3lockpb.Lock/lock', (req: LockRequest, signal?: AbortSignal) => lock(facade, req, signal)],
    ['v3lockpb.Lock/unlock', (req: UnlockRequest) => unlock(facade, req)],
  ];
}
