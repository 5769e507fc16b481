/**
 * A {@link KvFacade} directly on an MvccStore, without raft or auth: every write is applied at once
 * with a locally incremented index. Used by the tests and usable for single-process embedding; the
 * server implements the facade on its own request path instead. A minimal lease table mirrors etcd's
 * checks (writes with an unknown lease fail with "etcdserver: requested lease not found"; revoking a
 * lease deletes its keys).
 */

import type {
  DeepPartial,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  ResponseHeader,
  TxnRequest,
} from '@kv/client/api';
import {
  type MvccStore,
  type TxnRequest as MvccTxnRequest,
  type RequestOp,
  toId,
  type WatchBatch,
} from '@kv/mvcc';
import { Status } from '../transport/grpc/status.js';
import { ConcurrencyError } from './errors.js';
import type { FacadeWatch, FacadeWatchRequest, FacadeWatchResponse, KvFacade } from './facade.js';

/** The in-process facade plus its lease table. */
export interface MvccFacade extends KvFacade {
  /** Registers a lease id as live. */
  grantLease(id: bigint): void;
  /** Deletes every key attached to the lease and forgets it (what the lessor does on expiry/revoke). */
  revokeLease(id: bigint): Promise<void>;
}

function collectLeases(ops: DeepPartial<RequestOp>[] | undefined, out: bigint[]): void {
  for (const op of ops ?? []) {
    const lease = toId(op?.requestPut?.lease);
    if (lease !== 0n) out.push(lease);
    if (op?.requestTxn) {
      collectLeases(op.requestTxn.success as DeepPartial<RequestOp>[], out);
      collectLeases(op.requestTxn.failure as DeepPartial<RequestOp>[], out);
    }
  }
}

/** Builds the facade on `mvcc` (consistent-index counter starts above the store's). */
export function createMvccFacade(mvcc: MvccStore): MvccFacade {
  let index = mvcc.consistentIndex();
  const leases = new Set<bigint>();
  let nextLease = 0x7000_0000n;
  const header = (revision: number): ResponseHeader => ({
    clusterId: 0n,
    memberId: 0n,
    revision,
    raftTerm: 0,
  });
  const leaseNotFound = () => new ConcurrencyError(Status.NOT_FOUND, 'etcdserver: requested lease not found');
  const checkLeases = (ids: bigint[]) => {
    for (const id of ids) if (!leases.has(id)) throw leaseNotFound();
  };

  const facade: MvccFacade = {
    async range(req: DeepPartial<RangeRequest>) {
      const r = await mvcc.range(req);
      return { header: header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
    },
    async put(req: DeepPartial<PutRequest>) {
      checkLeases(req.lease ? [req.lease] : []);
      const r = await mvcc.put(req, { index: ++index });
      return { header: header(r.revision), ...r.response };
    },
    async deleteRange(req: DeepPartial<DeleteRangeRequest>) {
      const r = await mvcc.deleteRange(req, { index: ++index });
      return { header: header(r.revision), ...r.response };
    },
    async txn(req: DeepPartial<TxnRequest>) {
      const ids: bigint[] = [];
      collectLeases(req.success as DeepPartial<RequestOp>[], ids);
      collectLeases(req.failure as DeepPartial<RequestOp>[], ids);
      checkLeases(ids);
      const r = await mvcc.txn(req as MvccTxnRequest, { index: ++index });
      return { header: header(r.revision), ...r.response };
    },
    watch(req: FacadeWatchRequest, onResponse: (r: FacadeWatchResponse) => void): FacadeWatch {
      const w = mvcc.watch(
        { key: req.key, rangeEnd: req.rangeEnd, startRevision: req.startRevision },
        (b: WatchBatch) => {
          if (b.progress) return;
          onResponse({
            header: header(b.revision),
            events: b.events,
            canceled: b.canceled,
            compactRevision: b.compactRevision,
          });
        },
      );
      return { cancel: () => w.cancel() };
    },
    async leaseGrant(_ttl: number) {
      // No expiry here: the tests revoke explicitly (the server's lessor owns TTLs).
      const ID = ++nextLease;
      leases.add(ID);
      return { ID };
    },
    grantLease(id: bigint) {
      leases.add(id);
    },
    async revokeLease(id: bigint) {
      leases.delete(id);
      const keys = (await mvcc.keysWithLease()).get(id) ?? [];
      if (keys.length === 0) return;
      await mvcc.txn({ success: keys.map((key) => ({ requestDeleteRange: { key } })) }, { index: ++index });
    },
  };
  return facade;
}
