/**
 * The Lock and Election services' KV facade on the server's own request path: reads and writes go
 * through KvApi/LeaseApi (raft, quota, lease and auth checks) with the caller's identity, watches go to
 * the MVCC watch hub after the same read check a Watch create gets. etcd's v3lock/v3election servers do
 * the same through an in-process client that carries the caller's token.
 */
import type {
  DeepPartial,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '@kv/client/api';
import type { WatchBatch } from '@kv/mvcc';
import { checkWatchCreate } from '../auth/permissions.js';
import type { FacadeWatch, FacadeWatchRequest, FacadeWatchResponse, KvFacade } from '../v3lock/facade.js';
import type { Handlers } from './handlers.js';
import type { CallContext } from './identity.js';

/**
 * A facade acting as the caller. `context` is evaluated per operation, so an expired token or an auth
 * change in the middle of a long Lock wait is seen by the next operation, and an invalid token
 * surfaces as a rejected operation (never as a synchronous throw out of a gRPC handler).
 */
export function createServerFacade(handlers: Handlers, context: () => CallContext): KvFacade {
  const { kv, lease, etcd } = handlers;
  return {
    async range(req: DeepPartial<RangeRequest>) {
      return (await kv.range(req as RangeRequest, context())) as RangeResponse;
    },
    async put(req: DeepPartial<PutRequest>) {
      return (await kv.put(req as PutRequest, context())) as PutResponse;
    },
    async deleteRange(req: DeepPartial<DeleteRangeRequest>) {
      return (await kv.deleteRange(req as DeleteRangeRequest, context())) as DeleteRangeResponse;
    },
    async txn(req: DeepPartial<TxnRequest>) {
      const full = { compare: [], success: [], failure: [], ...req } as TxnRequest;
      return (await kv.txn(full, context())) as TxnResponse;
    },
    watch(req: FacadeWatchRequest, onResponse: (r: FacadeWatchResponse) => void): FacadeWatch {
      try {
        if (etcd.auth.isEnabled()) checkWatchCreate(etcd.auth, context().authInfo, req);
      } catch {
        // A cancelled watch makes the waiter read again, and that read fails with the denial (a key
        // under the prefix is readable whenever the prefix is, so this cannot loop).
        queueMicrotask(() => onResponse({ events: [], canceled: true }));
        return { cancel: () => {} };
      }
      const w = etcd.store.mvcc.watch(
        { key: req.key, rangeEnd: req.rangeEnd, startRevision: req.startRevision },
        (b: WatchBatch) => {
          if (b.progress) return;
          onResponse({
            header: {
              clusterId: etcd.clusterId,
              memberId: etcd.memberId,
              revision: b.revision,
              raftTerm: etcd.term,
            },
            events: b.events,
            canceled: b.canceled,
            compactRevision: b.compactRevision,
          });
        },
      );
      return { cancel: () => w.cancel() };
    },
    async leaseGrant(ttl: number) {
      const r = await lease.grant({ ID: 0n, TTL: ttl }, context());
      return { ID: r.ID ?? 0n };
    },
  };
}
