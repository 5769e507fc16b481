/**
 * Pure cores of kvctl's inspections (no I/O): the largest key-values, key counts and bytes by
 * prefix, write rates by prefix, and the consistency verdict over members' KV hashes.
 */

/** One key-value's sizes. */
export interface KvSize {
  key: string;
  keyBytes: number;
  valueBytes: number;
}

/**
 * Keeps the `limit` largest values seen (ties: the earlier key first); feed it every key-value of a
 * scan with {@link LargestValues.add}, read {@link LargestValues.result}.
 *
 * @example
 * ```ts
 * const top = new LargestValues(2);
 * for (const kv of [{ key: 'a', keyBytes: 1, valueBytes: 5 }, { key: 'b', keyBytes: 1, valueBytes: 9 }]) top.add(kv);
 * top.result(); // [b, a]
 * ```
 */
export class LargestValues {
  private readonly kept: KvSize[] = [];

  constructor(private readonly limit: number) {}

  add(kv: KvSize): void {
    if (this.limit <= 0) return;
    const last = this.kept.at(-1);
    if (this.kept.length >= this.limit && last !== undefined && last.valueBytes >= kv.valueBytes) return;
    // Insert after every entry at least as large (stable for equal sizes), then trim.
    let i = this.kept.length;
    while (i > 0 && (this.kept[i - 1] as KvSize).valueBytes < kv.valueBytes) i--;
    this.kept.splice(i, 0, kv);
    if (this.kept.length > this.limit) this.kept.pop();
  }

  result(): KvSize[] {
    return [...this.kept];
  }
}

/**
 * The group a key belongs to: its first `depth` `/`-separated segments, with the trailing `/`
 * (`/registry/pods/ns/p`, depth 2 → `/registry/pods/`). A key with fewer segments is its own group.
 *
 * @example
 * ```ts
 * prefixOf('/registry/pods/default/web', 2); // '/registry/pods/'
 * prefixOf('config/a', 1); // 'config/'
 * prefixOf('lonely', 1); // 'lonely'
 * ```
 */
export function prefixOf(key: string, depth: number): string {
  let pos = 0;
  let seen = 0;
  // A leading '/' opens the first segment rather than closing an empty one.
  if (key.startsWith('/')) pos = 1;
  while (seen < depth) {
    const next = key.indexOf('/', pos);
    if (next < 0) return key;
    pos = next + 1;
    seen++;
  }
  return key.slice(0, pos);
}

/** Key count and bytes (keys + values) of one prefix group. */
export interface PrefixUsage {
  prefix: string;
  keys: number;
  bytes: number;
}

/**
 * Sums key-values by {@link prefixOf} group; largest groups (by bytes, then by name) first.
 *
 * @example
 * ```ts
 * const u = new PrefixUsageCounter(1);
 * u.add({ key: 'a/1', keyBytes: 3, valueBytes: 10 });
 * u.result(); // [{ prefix: 'a/', keys: 1, bytes: 13 }]
 * ```
 */
export class PrefixUsageCounter {
  private readonly groups = new Map<string, PrefixUsage>();

  constructor(private readonly depth: number) {}

  add(kv: KvSize): void {
    const prefix = prefixOf(kv.key, this.depth);
    const g = this.groups.get(prefix) ?? { prefix, keys: 0, bytes: 0 };
    g.keys++;
    g.bytes += kv.keyBytes + kv.valueBytes;
    this.groups.set(prefix, g);
  }

  result(): PrefixUsage[] {
    return [...this.groups.values()].sort((a, b) => b.bytes - a.bytes || a.prefix.localeCompare(b.prefix));
  }
}

/** Write counts by prefix group over an observation window. */
export interface PrefixRate {
  prefix: string;
  writes: number;
  /** Writes per second over the window. */
  rate: number;
}

/**
 * Ranks prefix groups by writes (puts and deletes) seen in `seconds`; hottest first.
 *
 * @example
 * ```ts
 * hottest(['a/1', 'a/2', 'b/1'], 1, 2); // [{ prefix: 'a/', writes: 2, rate: 1 }, { prefix: 'b/', writes: 1, rate: 0.5 }]
 * ```
 */
export function hottest(writtenKeys: Iterable<string>, depth: number, seconds: number): PrefixRate[] {
  const counts = new Map<string, number>();
  for (const k of writtenKeys) {
    const p = prefixOf(k, depth);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return [...counts.entries()]
    .map(([prefix, writes]) => ({ prefix, writes, rate: seconds > 0 ? writes / seconds : 0 }))
    .sort((a, b) => b.writes - a.writes || a.prefix.localeCompare(b.prefix));
}

/** One member's answer to HashKV. */
export interface MemberHash {
  endpoint: string;
  hash: number;
  compactRevision: number;
}

/** The verdict of `check consistency`. */
export interface ConsistencyVerdict {
  ok: boolean;
  /** The summary line: PASS/FAIL with the revision and what differed. */
  line: string;
}

/**
 * Members agree when every hash (and compact revision) at the revision is the same.
 *
 * @example
 * ```ts
 * consistencyVerdict(42, [{ endpoint: 'a', hash: 1, compactRevision: 0 }, { endpoint: 'b', hash: 1, compactRevision: 0 }]).ok; // true
 * ```
 */
export function consistencyVerdict(revision: number, hashes: MemberHash[]): ConsistencyVerdict {
  const distinct = new Set(hashes.map((h) => `${h.hash}/${h.compactRevision}`));
  if (hashes.length > 0 && distinct.size === 1) {
    const h = hashes[0] as MemberHash;
    return {
      ok: true,
      line: `PASS: ${hashes.length} members agree at revision ${revision} (hash ${h.hash}, compact revision ${h.compactRevision})`,
    };
  }
  const groups = new Map<string, string[]>();
  for (const h of hashes) {
    const k = `hash ${h.hash}, compact revision ${h.compactRevision}`;
    groups.set(k, [...(groups.get(k) ?? []), h.endpoint]);
  }
  const detail = [...groups.entries()].map(([k, eps]) => `${eps.join(',')}: ${k}`).join('; ');
  return { ok: false, line: `FAIL: members disagree at revision ${revision}: ${detail}` };
}
