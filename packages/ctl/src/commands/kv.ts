/** put, get, del, compaction: etcdctl's key-value commands. */
import type { DeleteOptions, Exact, GetOptions, PutOptions } from '@kv/client';
import type { DeleteRangeResponse, PutResponse, RangeResponse } from '@kv/client/api';
import type { Ctx } from '../context.js';
import { fieldsHeader, fieldsKv, printKv } from '../display.js';
import { arr, bool, header, kv, num, obj } from '../gojson.js';
import { CtlError, Exit, intFlag, leaseIdArg, line } from '../util.js';

export type GetResult = Exact<RangeResponse>;
export type PutResult = Exact<PutResponse>;
export type DelResult = Exact<DeleteRangeResponse>;

/** Reads all of stdin (for `put key` with the value piped in). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

// ---- put ----

export interface PutArgs {
  key?: string;
  value?: string;
  lease?: string;
  'prev-kv'?: boolean;
  'ignore-value'?: boolean;
  'ignore-lease'?: boolean;
}

export function putOptions(a: PutArgs): PutOptions {
  return {
    lease: a.lease && a.lease !== '0' ? leaseIdArg(a.lease) : 0,
    prevKv: a['prev-kv'] ?? false,
    ignoreValue: a['ignore-value'] ?? false,
    ignoreLease: a['ignore-lease'] ?? false,
  };
}

export async function put(ctx: Ctx, a: PutArgs): Promise<void> {
  const ignoreValue = a['ignore-value'] ?? false;
  if (a.key === undefined) {
    throw new CtlError('put command needs 1 argument and input from stdin or 2 arguments', Exit.badArgs);
  }
  let value = a.value;
  if (value !== undefined && ignoreValue)
    throw new CtlError('put command needs only 1 argument when --ignore-value is set', Exit.badArgs);
  if (value === undefined && !ignoreValue) {
    if (process.stdin.isTTY)
      throw new CtlError('put command needs 1 argument and input from stdin or 2 arguments', Exit.badArgs);
    value = await readStdin();
  }
  const opts = putOptions(a);
  const res = await ctx.client().put(a.key, value ?? '', opts);
  printPut(ctx, res);
}

export function printPut(ctx: Ctx, res: PutResult): void {
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(putJson(res).raw);
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    if (res.prevKv) fieldsKv(res.prevKv, 'Prev');
    return;
  }
  line('OK');
  if (res.prevKv) printKv(res.prevKv, ctx.hex);
}

export const putJson = (res: PutResult) =>
  obj([
    ['header', header(res.header)],
    ['prev_kv', res.prevKv ? kv(res.prevKv) : undefined],
  ]);

// ---- get ----

export interface GetArgs {
  key?: string;
  range_end?: string;
  consistency?: string;
  'sort-by'?: string;
  order?: string;
  limit?: string;
  prefix?: boolean;
  'from-key'?: boolean;
  rev?: string;
  'keys-only'?: boolean;
  'count-only'?: boolean;
  'print-value-only'?: boolean;
}

const SORT_TARGETS: Record<string, GetOptions['sortTarget']> = {
  CREATE: 'create',
  KEY: 'key',
  MODIFY: 'mod',
  VALUE: 'value',
  VERSION: 'version',
};

export function getOptions(a: GetArgs, rangeEnd: string | undefined): GetOptions {
  if (a.prefix && a['from-key'])
    throw new CtlError(
      '`--prefix` and `--from-key` cannot be set at the same time, choose one',
      Exit.badArgs,
    );
  const opts: GetOptions = {
    limit: intFlag('limit', a.limit),
    revision: intFlag('rev', a.rev),
    keysOnly: a['keys-only'] ?? false,
    countOnly: a['count-only'] ?? false,
    prefix: a.prefix ?? false,
    fromKey: a['from-key'] ?? false,
  };
  if (rangeEnd !== undefined) opts.rangeEnd = rangeEnd;
  const consistency = a.consistency ?? 'l';
  if (consistency === 's') opts.serializable = true;
  else if (consistency !== 'l') throw new CtlError(`unknown consistency flag "${consistency}"`, Exit.badArgs);
  const order = a.order ?? '';
  if (order === 'ASCEND') opts.sortOrder = 'ascend';
  else if (order === 'DESCEND') opts.sortOrder = 'descend';
  else if (order !== '') throw new CtlError(`bad sort order ${order}`, Exit.badArgs);
  const by = a['sort-by'] ?? '';
  if (by !== '') {
    const target = SORT_TARGETS[by];
    if (!target) throw new CtlError(`bad sort target ${by}`, Exit.badArgs);
    opts.sortTarget = target;
    // etcdctl sorts ascending when only a target is given.
    opts.sortOrder ??= 'ascend';
  }
  return opts;
}

export async function get(ctx: Ctx, a: GetArgs): Promise<void> {
  if (a.key === undefined) {
    throw new CtlError(
      'get command needs one argument as key and an optional argument as range_end',
      Exit.badArgs,
    );
  }
  const res = await ctx.client().get(a.key, getOptions(a, a.range_end));
  printGet(ctx, res, a['print-value-only'] ?? false, a['count-only'] ?? false);
}

export function printGet(ctx: Ctx, res: GetResult, valueOnly = false, countOnly = false): void {
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(getJson(res).raw);
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    for (const k of res.kvs) fieldsKv(k);
    line(`"More" : ${res.more}`);
    line(`"Count" : ${res.count}`);
    return;
  }
  if (countOnly) {
    line(String(res.count));
    return;
  }
  for (const k of res.kvs) printKv(k, ctx.hex, valueOnly);
}

export const getJson = (res: GetResult) =>
  obj([
    ['header', header(res.header)],
    ['kvs', arr(res.kvs.map(kv))],
    ['more', bool(res.more)],
    ['count', num(res.count)],
  ]);

// ---- del ----

export interface DelArgs {
  key?: string;
  range_end?: string;
  prefix?: boolean;
  'from-key'?: boolean;
  'prev-kv'?: boolean;
}

export function delOptions(a: DelArgs, rangeEnd: string | undefined): DeleteOptions {
  if (a.prefix && a['from-key'])
    throw new CtlError(
      '`--prefix` and `--from-key` cannot be set at the same time, choose one',
      Exit.badArgs,
    );
  const opts: DeleteOptions = {
    prefix: a.prefix ?? false,
    fromKey: a['from-key'] ?? false,
    prevKv: a['prev-kv'] ?? false,
  };
  if (rangeEnd !== undefined) opts.rangeEnd = rangeEnd;
  return opts;
}

export async function del(ctx: Ctx, a: DelArgs, rest: string[]): Promise<void> {
  if (a.key === undefined || rest.length > 0) {
    throw new CtlError(
      'del command needs one argument as key and an optional argument as range_end',
      Exit.badArgs,
    );
  }
  const res = await ctx.client().delete(a.key, delOptions(a, a.range_end));
  printDel(ctx, res);
}

export function printDel(ctx: Ctx, res: DelResult): void {
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(delJson(res).raw);
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    line(`"Deleted" : ${res.deleted}`);
    for (const k of res.prevKvs) fieldsKv(k, 'Prev');
    return;
  }
  line(String(res.deleted));
  for (const k of res.prevKvs) printKv(k, ctx.hex);
}

export const delJson = (res: DelResult) =>
  obj([
    ['header', header(res.header)],
    ['deleted', num(res.deleted)],
    ['prev_kvs', arr(res.prevKvs.map(kv))],
  ]);

// ---- compaction ----

export async function compaction(ctx: Ctx, rev: string | undefined, physical: boolean): Promise<void> {
  if (rev === undefined) throw new CtlError('compaction command needs 1 argument', Exit.badArgs);
  if (!/^-?\d+$/.test(rev))
    throw new CtlError(`strconv.ParseInt: parsing "${rev}": invalid syntax`, Exit.badArgs);
  await ctx.client().compact(Number(rev), { physical });
  line(`compacted revision ${rev}`);
}
