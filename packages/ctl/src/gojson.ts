/**
 * JSON as etcdctl's `-w json` prints it: Go's encoding/json over the gogoproto structs, so field
 * names are the proto json tags (`create_revision`), 64-bit numbers are bare numbers (exact: our ids
 * may be bigints), bytes are base64, and `omitempty` drops zero values.
 */
import type { Id } from '@kv/client';

/** A JSON fragment, already serialised. */
export type Raw = { readonly raw: string };

/** A value for {@link obj}: undefined entries are omitted. */
export type JVal = Raw | undefined;

export const raw = (s: string): Raw => ({ raw: s });

/** A number or bigint; omitted when zero (omitempty) unless `keepZero`. */
export function num(v: number | bigint | undefined, keepZero = false): JVal {
  if (v === undefined || (!keepZero && (v === 0 || v === 0n))) return undefined;
  return raw(v.toString());
}

/** A string; omitted when empty unless `keepEmpty`. */
export function str(v: string | undefined, keepEmpty = false): JVal {
  if (v === undefined || (!keepEmpty && v === '')) return undefined;
  return raw(JSON.stringify(v));
}

/** A boolean; omitted when false unless `keepFalse`. */
export function bool(v: boolean | undefined, keepFalse = false): JVal {
  if (!v && !keepFalse) return undefined;
  return raw(v ? 'true' : 'false');
}

/** Bytes as base64; omitted when empty. */
export function b64(v: Uint8Array | undefined): JVal {
  if (!v || v.length === 0) return undefined;
  return raw(JSON.stringify(Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64')));
}

/** An array; omitted when empty unless `nullWhenEmpty` (Go's nil slice → `null`). */
export function arr(items: JVal[] | undefined, nullWhenEmpty = false): JVal {
  if (!items || items.length === 0) return nullWhenEmpty ? raw('null') : undefined;
  return raw(`[${items.map((i) => i?.raw ?? 'null').join(',')}]`);
}

/** An object from ordered entries, skipping undefined values. */
export function obj(entries: ReadonlyArray<readonly [string, JVal]>): Raw {
  const parts: string[] = [];
  for (const [k, v] of entries) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${v.raw}`);
  return raw(`{${parts.join(',')}}`);
}

/** A nested object that is omitted when absent. */
export function opt<T>(v: T | undefined, f: (v: T) => Raw): JVal {
  return v === undefined ? undefined : f(v);
}

// ---- etcd messages ----

export interface HeaderLike {
  clusterId: Id;
  memberId: Id;
  revision: number;
  raftTerm: number;
}

export interface KvLike {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Uint8Array;
  lease: Id;
}

/** Header entries, for responses that inline them (clientv3's embedded `*ResponseHeader`). */
export function headerEntries(h: HeaderLike | undefined): [string, JVal][] {
  return [
    ['cluster_id', num(h?.clusterId)],
    ['member_id', num(h?.memberId)],
    ['revision', num(h?.revision)],
    ['raft_term', num(h?.raftTerm)],
  ];
}

export function header(h: HeaderLike | undefined): JVal {
  return h ? obj(headerEntries(h)) : undefined;
}

export function kv(k: KvLike): Raw {
  return obj([
    ['key', b64(k.key)],
    ['create_revision', num(k.createRevision)],
    ['mod_revision', num(k.modRevision)],
    ['version', num(k.version)],
    ['value', b64(k.value)],
    ['lease', num(k.lease)],
  ]);
}
