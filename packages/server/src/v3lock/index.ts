/** v3lock: etcd's Lock service (Lock, Unlock) over a small KV facade. */
export * from './errors.js';
export {
  DEFAULT_SESSION_TTL,
  type FacadeWatch,
  type FacadeWatchRequest,
  type FacadeWatchResponse,
  type KvFacade,
  sessionLease,
} from './facade.js';
export { type ConcurrencyUnaryHandler, lockUnaryHandlers } from './handlers.js';
export { contenderKey, keyPrefix, prefixEnd } from './keys.js';
export { lock, unlock } from './lock.js';
export { createMvccFacade, type MvccFacade } from './mvcc-facade.js';
export { callSignal, createLockService, type FacadeSource, facadeFor, toServiceError } from './service.js';
export { waitDelete, waitDeletes } from './wait.js';
