/**
 * `@kv/client`: a typed, promise-based client for etcd v3 and kv-server.
 *
 * ```ts
 * const client = new KvClient({ endpoints: ['http://127.0.0.1:2379'] });
 * await client.put('foo', 'bar');
 * const res = await client.get('foo', { prefix: true });
 * ```
 * The wire types and codecs live in `@kv/client/api`.
 */

export { Event_EventType } from './api/index.js';
export { RangeBuilder, WatchBuilder } from './builders.js';
export { type Bytes, prefixEnd, toBytes, toText } from './bytes.js';
export { KvClient, type KvClientOptions } from './client.js';
export { Election } from './concurrency/election.js';
export { type LockOwnership, Mutex } from './concurrency/mutex.js';
export { Session, type SessionOptions } from './concurrency/session.js';
export { Isolation, type IsolationLevel, type Stm, type StmOptions } from './concurrency/stm.js';
export {
  type CallOpts,
  Connection,
  type ConnectionOptions,
  neverSent,
  parseEndpoint,
  type RetryPolicy,
  type TlsOptions,
} from './connection.js';
export * from './errors.js';
export { type Exact, exactId, type Id, parseHexId } from './ids.js';
export {
  Cmp,
  type CompareOp,
  type DeleteOptions,
  type GetOptions,
  keyFor,
  Op,
  type PutOptions,
  type RangeScope,
  rangeEndFor,
  TxnBuilder,
} from './kv.js';
export { LeaseKeepAlive } from './lease.js';
export { tlsChannelCredentials } from './tls-credentials.js';
export { type WatchEvent, Watcher, type WatchOptions, type WatchResponse } from './watch.js';

/**
 * Package name, kept for tools that print it.
 *
 * @example
 * ```ts
 * console.log(PACKAGE_NAME); // '@kv/client'
 * ```
 */
export const PACKAGE_NAME = '@kv/client';
