/**
 * Reads a whole range page by page at one revision, so a large keyspace is never one response
 * (make-mirror's base copy, the inspect commands).
 */
import { type KvClient, prefixEnd } from '@kv/client';

type ScannedKv = Awaited<ReturnType<KvClient['get']>>['kvs'][number];

/** The range `[key, rangeEnd)` of every key under `prefix` ('' = the whole keyspace). */
export function prefixRange(prefix: string): { key: Uint8Array; rangeEnd: Uint8Array } {
  if (prefix === '') return { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) };
  // A plain Uint8Array: prefixEnd slices its argument, and Buffer#slice is a view, not a copy.
  const key = new TextEncoder().encode(prefix);
  return { key, rangeEnd: prefixEnd(key) };
}

/**
 * Yields pages of key-values under `prefix` at revision `rev` (0: the revision of the first page,
 * then kept for the rest). `onRevision` learns that revision before the first page.
 *
 * @example
 * ```ts
 * for await (const kvs of scanPrefix(client, 'app/')) for (const kv of kvs) count++;
 * ```
 */
export async function* scanPrefix(
  client: KvClient,
  prefix: string,
  opts: { revision?: number; pageSize?: number; keysOnly?: boolean; onRevision?: (rev: number) => void } = {},
): AsyncGenerator<ScannedKv[]> {
  const { key, rangeEnd } = prefixRange(prefix);
  let revision = opts.revision ?? 0;
  let from: Uint8Array = key;
  for (;;) {
    const page = await client.get(from, {
      rangeEnd,
      revision,
      limit: opts.pageSize ?? 1000,
      keysOnly: opts.keysOnly ?? false,
    });
    if (revision === 0) {
      revision = Number(page.header?.revision ?? 0);
      opts.onRevision?.(revision);
    }
    if (page.kvs.length > 0) yield page.kvs;
    const last = page.kvs.at(-1)?.key;
    if (!page.more || last === undefined) return;
    from = Buffer.concat([last, Buffer.from([0])]);
  }
}
