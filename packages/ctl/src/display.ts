/** Printers shared by commands: key-values, headers and the `fields` format. */
import type { HeaderLike, KvLike } from './gojson.js';
import { line, showBytes } from './util.js';

/** Go's `%q` for text (close enough: JSON escaping, which matches Go for printable text). */
export function q(b: Uint8Array | string): string {
  return JSON.stringify(typeof b === 'string' ? b : new TextDecoder().decode(b));
}

/** Simple format of one key-value: key and value lines (value only / key only variants). */
export function printKv(kv: KvLike, hex: boolean, valueOnly = false): void {
  if (!valueOnly) line(showBytes(kv.key, hex));
  line(showBytes(kv.value, hex));
}

/** `fields` lines of a response header. */
export function fieldsHeader(h: HeaderLike | undefined): void {
  line(`"ClusterID" : ${h?.clusterId ?? 0}`);
  line(`"MemberID" : ${h?.memberId ?? 0}`);
  line(`"Revision" : ${h?.revision ?? 0}`);
  line(`"RaftTerm" : ${h?.raftTerm ?? 0}`);
}

/** `fields` lines of a key-value, optionally with the `Prev` name prefix. */
export function fieldsKv(kv: KvLike, prefix = ''): void {
  line(`"${prefix}Key" : ${q(kv.key)}`);
  line(`"${prefix}CreateRevision" : ${kv.createRevision}`);
  line(`"${prefix}ModRevision" : ${kv.modRevision}`);
  line(`"${prefix}Version" : ${kv.version}`);
  line(`"${prefix}Value" : ${q(kv.value)}`);
  line(`"${prefix}Lease" : ${kv.lease}`);
}

/** An ASCII table like etcdctl's tablewriter output (centered headers, right-aligned cells). */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const sep = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const center = (s: string, w: number) => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(w - s.length - left);
  };
  line(sep);
  line(`|${headers.map((h, i) => ` ${center(h, widths[i] as number)} `).join('|')}|`);
  line(sep);
  for (const r of rows) line(`|${r.map((c, i) => ` ${c.padStart(widths[i] as number)} `).join('|')}|`);
  line(sep);
}
