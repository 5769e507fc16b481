/**
 * Waiting for keys to go away: the queueing step shared by `Mutex` and `Election` (etcd's
 * concurrency/key.go). A waiter queued behind others waits only for the key created just before its
 * own, so a release wakes exactly one waiter instead of all of them.
 */
import type { ResponseHeader } from '../api/index.js';
import { Event_EventType } from '../api/index.js';
import type { KvClient } from '../client.js';
import type { CallOpts } from '../connection.js';
import { KvError } from '../errors.js';
import type { Exact } from '../ids.js';

/** Resolves once `key` is deleted at or after revision `rev`. */
async function waitDelete(client: KvClient, key: Uint8Array, rev: number, call: CallOpts): Promise<void> {
  const watcher = await client.watch(key, { startRevision: rev, signal: call.signal });
  for await (const ev of watcher.events()) {
    if (ev.type === Event_EventType.DELETE) return;
  }
  throw new KvError('lost watcher waiting for delete');
}

/**
 * Waits until no key under `prefix` has a create revision <= `maxCreateRev`: repeatedly finds the
 * newest such key and waits for its deletion. Returns the header of the final, empty read.
 */
export async function waitDeletes(
  client: KvClient,
  prefix: Uint8Array,
  maxCreateRev: number,
  call: CallOpts = {},
): Promise<Exact<ResponseHeader> | undefined> {
  for (;;) {
    const res = await client.get(
      prefix,
      { prefix: true, sortTarget: 'create', sortOrder: 'descend', limit: 1, maxCreateRevision: maxCreateRev },
      call,
    );
    const last = res.kvs[0];
    if (!last) return res.header;
    await waitDelete(client, last.key, res.header?.revision ?? 0, call);
  }
}
