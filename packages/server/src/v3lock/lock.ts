/**
 * etcd's v3lock semantics (server/etcdserver/api/v3lock on clientv3/concurrency.Mutex): the lock key is
 * `<name>/<lease hex>`, created with the caller's lease only if absent; the caller owns the lock once
 * every key under the prefix with a smaller create_revision is gone. Waiters therefore queue in
 * create_revision order (FIFO), each watching only its predecessor, and a crashed holder's key goes
 * away with its lease.
 */
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  type DeepPartial,
  type LockRequest,
  type LockResponse,
  type UnlockRequest,
  type UnlockResponse,
} from '@kv/client/api';
import { LockSessionExpiredError } from './errors.js';
import { type KvFacade, sessionLease } from './facade.js';
import { contenderKey, keyPrefix } from './keys.js';
import { firstCreatedRequest, waitDeletes } from './wait.js';

/**
 * Acquires the lock `req.name` for `req.lease`; resolves once held. If the wait is aborted (the client
 * cancelled), the key is deleted again so later contenders do not queue behind it.
 */
export async function lock(
  facade: KvFacade,
  req: DeepPartial<LockRequest>,
  signal?: AbortSignal,
): Promise<LockResponse> {
  const prefix = keyPrefix(req.name ?? new Uint8Array(0));
  const lease = await sessionLease(facade, req.lease);
  const myKey = contenderKey(prefix, lease);
  const owner = firstCreatedRequest(prefix);
  const t = await facade.txn({
    compare: [
      {
        key: myKey,
        target: Compare_CompareTarget.CREATE,
        result: Compare_CompareResult.EQUAL,
        createRevision: 0,
      },
    ],
    success: [{ requestPut: { key: myKey, value: new Uint8Array(0), lease } }, { requestRange: owner }],
    failure: [{ requestRange: { key: myKey } }, { requestRange: owner }],
  });
  // Our place in the queue: the revision we created the key at, or when the same lease re-locks, the
  // key's existing create_revision (re-locking keeps the old place, like etcd).
  let myRev = t.header?.revision ?? 0;
  if (!t.succeeded) myRev = t.responses[0]?.responseRange?.kvs[0]?.createRevision ?? myRev;
  const first = t.responses[1]?.responseRange?.kvs ?? [];
  if (first.length === 0 || first[0]!.createRevision === myRev) return { header: t.header, key: myKey };

  let header: LockResponse['header'];
  try {
    header = await waitDeletes(facade, prefix, myRev - 1, signal);
  } catch (err) {
    await facade.deleteRange({ key: myKey }).catch(() => undefined);
    throw err;
  }
  // Our own key may be gone too (lease expired or revoked while waiting): then we hold nothing.
  const mine = await facade.range({ key: myKey });
  if (mine.kvs.length === 0) throw new LockSessionExpiredError();
  return { header, key: myKey };
}

/** Releases a lock by deleting its key (absent keys are fine, as in etcd). */
export async function unlock(facade: KvFacade, req: DeepPartial<UnlockRequest>): Promise<UnlockResponse> {
  const r = await facade.deleteRange({ key: req.key ?? new Uint8Array(0) });
  return { header: r.header };
}
