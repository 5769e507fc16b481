/**
 * Auth (RBAC) for kv-server: the replicated auth store, permission checks per request type, password
 * hashing, token providers and the Authenticate rate limiter. See docs/auth.md for the wiring.
 */
export * from './errors.js';
export * from './password.js';
export * from './permissions.js';
export {
  AUTH_BUCKET,
  type AuthBackend,
  type KeyPermission,
  PermType,
  ROLES_BUCKET,
  type RoleRecord,
  USERS_BUCKET,
  type UserRecord,
} from './persistence.js';
export { IntervalSet, type KeyInterval, toInterval } from './ranges.js';
export { AuthRateLimiter, type RateLimiterOptions } from './rate-limit.js';
export * from './store.js';
export * from './tokens/jwt.js';
export * from './tokens/parse.js';
export * from './tokens/provider.js';
export * from './tokens/simple.js';
