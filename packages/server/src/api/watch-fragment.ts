/**
 * Watch response fragmentation as etcd 3.4 does it (etcdserver/api/v3rpc/watch.go, sendFragments): only
 * for a watcher created with `fragment: true`, and only when the encoded response reaches the limit
 * (`--max-request-bytes` + 512 KiB of gRPC overhead) and holds at least two events. Then events go into
 * fragments in order, each taking events while the fragment (encoded with `fragment = true`) stays under
 * the limit, but never fewer than one; every fragment but the last carries `fragment = true`. Without
 * `fragment`, a batch is one message whatever its size, as in etcd.
 *
 * The split is computed from encoded sizes without encoding a response per candidate (etcd re-measures
 * after every event): a response's size is its fields without events plus, per event, the event's
 * length-delimited field (tag, length varint, bytes).
 */
import { type DeepPartial, Event, WatchResponse } from '@kv/client/api';
import { varintLength } from '@kv/raft';

/** etcd's gRPC overhead allowance on top of --max-request-bytes (v3rpc grpcOverheadBytes). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** Bytes of the `fragment = true` field (tag byte + bool byte). */
const FRAGMENT_FIELD_BYTES = 2;

/** Encoded size of one event as a repeated field of WatchResponse (field 11: one tag byte). */
export function eventFieldSize(eventBytes: number): number {
  return 1 + varintLength(eventBytes) + eventBytes;
}

/**
 * How many events each message gets, by etcd's sendFragments rule.
 *
 * @param baseSize encoded size of the response without events and without the fragment flag
 * @param eventSizes encoded size of each event message
 * @param limit etcd's maxRequestBytes of the watch server (`--max-request-bytes` + 512 KiB)
 * @example
 * ```ts
 * fragmentCounts(20, [100, 100, 100], 1000); // [3]: under the limit, one message
 * fragmentCounts(20, [400, 400, 400], 1000); // [2, 1]
 * ```
 */
export function fragmentCounts(baseSize: number, eventSizes: readonly number[], limit: number): number[] {
  const fields = eventSizes.map(eventFieldSize);
  const total = fields.reduce((a, b) => a + b, baseSize);
  if (total < limit || eventSizes.length < 2) return [eventSizes.length];
  const counts: number[] = [];
  let idx = 0;
  while (idx < fields.length) {
    let size = baseSize + FRAGMENT_FIELD_BYTES;
    let count = 0;
    while (idx < fields.length) {
      size += fields[idx]!;
      count++;
      if (count > 1 && size >= limit) {
        count--;
        break;
      }
      idx++;
    }
    counts.push(count);
  }
  return counts;
}

/**
 * The messages a fragmenting watcher receives for one response: the response itself, or its
 * fragments (same header and watch id; all but the last flagged `fragment`).
 */
export function fragmentWatchResponse(
  resp: DeepPartial<WatchResponse>,
  limit: number,
): DeepPartial<WatchResponse>[] {
  const events = resp.events ?? [];
  if (events.length < 2) return [resp];
  const eventSizes = events.map((ev) => Event.encode(ev!).length);
  const baseSize = WatchResponse.encode({ ...resp, events: [], fragment: false }).length;
  const counts = fragmentCounts(baseSize, eventSizes, limit);
  if (counts.length === 1) return [resp];
  const out: DeepPartial<WatchResponse>[] = [];
  let at = 0;
  for (let i = 0; i < counts.length; i++) {
    const part: DeepPartial<WatchResponse> = { ...resp, events: events.slice(at, at + counts[i]!) };
    at += counts[i]!;
    if (i < counts.length - 1) part.fragment = true;
    else delete part.fragment;
    out.push(part);
  }
  return out;
}
