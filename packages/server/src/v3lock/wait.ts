/**
 * Waiting for predecessors, as etcd's concurrency package does it: repeatedly find the newest key under
 * the prefix created before us and watch it until it is deleted; done when none is left.
 */
import {
  type Event,
  Event_EventType,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type ResponseHeader,
} from '@kv/client/api';
import { CallCancelledError } from './errors.js';
import type { KvFacade } from './facade.js';
import { prefixEnd } from './keys.js';

/** Resolves when `key` is deleted at or after `rev` (or the watch ends: the caller re-checks then). */
export function waitDelete(
  facade: KvFacade,
  key: Uint8Array,
  rev: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new CallCancelledError());
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      queueMicrotask(() => w.cancel());
      if (err) reject(err);
      else resolve();
    };
    const onAbort = () => finish(new CallCancelledError());
    const w = facade.watch({ key, startRevision: rev }, (r) => {
      if (r.canceled || r.events.some((e: Event) => e.type === Event_EventType.DELETE)) finish();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits until no key under `prefix` has create_revision <= maxCreateRev (etcd's waitDeletes) and
 * returns the header of the final, empty read.
 */
export async function waitDeletes(
  facade: KvFacade,
  prefix: Uint8Array,
  maxCreateRev: number,
  signal?: AbortSignal,
): Promise<ResponseHeader | undefined> {
  for (;;) {
    if (signal?.aborted) throw new CallCancelledError();
    const r = await facade.range({
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      sortTarget: RangeRequest_SortTarget.CREATE,
      sortOrder: RangeRequest_SortOrder.DESCEND,
      limit: 1,
      maxCreateRevision: maxCreateRev,
    });
    if (r.kvs.length === 0) return r.header;
    await waitDelete(facade, r.kvs[0]!.key, r.header?.revision ?? 0, signal);
  }
}

/** The contender created first under `prefix` (etcd's WithFirstCreate), as a range request. */
export function firstCreatedRequest(prefix: Uint8Array) {
  return {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortTarget: RangeRequest_SortTarget.CREATE,
    sortOrder: RangeRequest_SortOrder.ASCEND,
    limit: 1,
  };
}
