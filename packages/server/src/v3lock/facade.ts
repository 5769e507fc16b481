/**
 * The small KV surface the Lock and Election services need, shaped like the generated etcd messages.
 * The server implements it on its KV path (through raft for writes, with the caller's identity for auth
 * checks); the tests implement it directly on an MvccStore.
 */
import type {
  DeepPartial,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from '@kv/client/api';

/** One watch delivery. */
export interface FacadeWatchResponse {
  header?: ResponseHeader;
  events: Event[];
  /** Set when the watch ended (compaction or server shutdown); no further deliveries follow. */
  canceled?: boolean;
  compactRevision?: number;
}

/** What to watch: a key or range from a start revision (WatchCreateRequest's fields). */
export interface FacadeWatchRequest {
  key: Uint8Array;
  /** Empty/absent: one key; "\0": every key >= key; otherwise [key, rangeEnd). */
  rangeEnd?: Uint8Array;
  /** First revision to deliver (> 0). */
  startRevision: number;
}

/** A running watch. */
export interface FacadeWatch {
  cancel(): void;
}

/** KV operations for v3lock/v3election. Errors are thrown as the server's gRPC errors (code + message). */
export interface KvFacade {
  range(req: DeepPartial<RangeRequest>): Promise<RangeResponse>;
  put(req: DeepPartial<PutRequest>): Promise<PutResponse>;
  deleteRange(req: DeepPartial<DeleteRangeRequest>): Promise<DeleteRangeResponse>;
  txn(req: DeepPartial<TxnRequest>): Promise<TxnResponse>;
  watch(req: FacadeWatchRequest, onResponse: (r: FacadeWatchResponse) => void): FacadeWatch;
  /**
   * Grants a lease of `ttl` seconds. Lock/Campaign with lease 0 get a fresh 60 s lease that nobody keeps
   * alive, as etcd's servers do (concurrency.NewSession without a lease, then Orphan()).
   */
  leaseGrant(ttl: number): Promise<{ ID: bigint }>;
}

/** TTL of the lease granted for Lock/Campaign requests without one (concurrency's default session TTL). */
export const DEFAULT_SESSION_TTL = 60;

/** The caller's lease, or a fresh {@link DEFAULT_SESSION_TTL} lease when it passed 0. */
export async function sessionLease(facade: KvFacade, lease: bigint | undefined): Promise<bigint> {
  if (lease) return lease;
  return (await facade.leaseGrant(DEFAULT_SESSION_TTL)).ID;
}
