/**
 * txn: reads etcdctl's transaction format from stdin: compare lines, an empty line, success
 * operations, an empty line, failure operations, an empty line (or end of input).
 *
 *   value("foo") = "bar"        compares: value|ver|version|create|mod|lease ("key") op "operand"
 *   put foo baz                 operations: put/get/del with their flags (--prefix, --lease, ...)
 */
import { Cmp, type CompareOp, Op } from '@kv/client';
import type { DeepPartial, RequestOp, Compare as WireCompare } from '@kv/client/api';
import type { Ctx } from '../context.js';
import { fieldsHeader } from '../display.js';
import { arr, bool, header, obj, raw } from '../gojson.js';
import { closeStdinLines, nextSection } from '../stdin-lines.js';
import { CtlError, Exit, leaseIdArg, line } from '../util.js';
import {
  type DelResult,
  delJson,
  delOptions,
  type GetResult,
  getJson,
  getOptions,
  type PutResult,
  printDel,
  printGet,
  printPut,
  putJson,
  putOptions,
} from './kv.js';

/** Splits an operation line into words, honouring double and single quotes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    words.push(m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : (m[2] ?? m[3] ?? ''));
  }
  return words;
}

/** Parses `--flag`, `--flag=value` and `--flag value` words after the positionals. */
function parseOpWords(words: string[]): { pos: string[]; flags: Record<string, string | boolean> } {
  const pos: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const valued = new Set(['lease', 'limit', 'rev', 'sort-by', 'order', 'consistency']);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      if (eq >= 0) flags[w.slice(2, eq)] = w.slice(eq + 1);
      else if (valued.has(w.slice(2))) flags[w.slice(2)] = words[++i] ?? '';
      else flags[w.slice(2)] = true;
    } else pos.push(w);
  }
  return { pos, flags };
}

/** One operation line → a RequestOp. */
export function parseOp(text: string): DeepPartial<RequestOp> {
  const [verb, ...rest] = splitWords(text);
  const { pos, flags } = parseOpWords(rest);
  const b = (k: string) => flags[k] === true || flags[k] === 'true';
  const s = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  switch (verb) {
    case 'put':
      if (pos.length !== 2) throw new CtlError(`put command needs 2 arguments (got ${text})`, Exit.badArgs);
      return Op.put(
        pos[0] as string,
        pos[1] as string,
        putOptions({
          lease: s('lease'),
          'prev-kv': b('prev-kv'),
          'ignore-value': b('ignore-value'),
          'ignore-lease': b('ignore-lease'),
        }),
      );
    case 'get':
      if (pos.length < 1 || pos.length > 2)
        throw new CtlError(
          `get command needs one argument as key and an optional argument as range_end`,
          Exit.badArgs,
        );
      return Op.get(
        pos[0] as string,
        getOptions(
          {
            prefix: b('prefix'),
            'from-key': b('from-key'),
            limit: s('limit'),
            rev: s('rev'),
            'keys-only': b('keys-only'),
            'sort-by': s('sort-by'),
            order: s('order'),
            consistency: s('consistency'),
          },
          pos[1],
        ),
      );
    case 'del':
    case 'delete':
      if (pos.length < 1 || pos.length > 2)
        throw new CtlError(
          `del command needs one argument as key and an optional argument as range_end`,
          Exit.badArgs,
        );
      return Op.delete(
        pos[0] as string,
        delOptions({ prefix: b('prefix'), 'from-key': b('from-key'), 'prev-kv': b('prev-kv') }, pos[1]),
      );
    default:
      throw new CtlError(`unknown op "${verb}" in "${text}"`, Exit.badArgs);
  }
}

const CMP_RE =
  /^\s*(value|val|version|ver|create|createRevision|mod|modRevision|lease)\("((?:[^"\\]|\\.)*)"\)\s*(=|!=|<|>)\s*(.*?)\s*$/;

/** One compare line → a Compare. */
export function parseCompare(text: string): DeepPartial<WireCompare> {
  const m = CMP_RE.exec(text);
  if (!m) throw new CtlError(`malformed comparison: ${text}; got [${text}]`, Exit.badArgs);
  const target = m[1] as string;
  const key = JSON.parse(`"${m[2]}"`) as string;
  const op = m[3] as CompareOp;
  let operand = m[4] as string;
  if (operand.startsWith('"') && operand.endsWith('"')) operand = JSON.parse(operand) as string;
  const int = () => {
    if (!/^-?\d+$/.test(operand))
      throw new CtlError(`invalid txn compare operand "${operand}"`, Exit.badArgs);
    return Number(operand);
  };
  switch (target) {
    case 'value':
    case 'val':
      return Cmp.value(key, op, operand);
    case 'version':
    case 'ver':
      return Cmp.version(key, op, int());
    case 'create':
    case 'createRevision':
      return Cmp.create(key, op, int());
    case 'mod':
    case 'modRevision':
      return Cmp.mod(key, op, int());
    default:
      // Hex, like every lease id on the command line; exact (lease ids go above 2^53).
      return Cmp.lease(key, op, leaseIdArg(operand));
  }
}

/** Splits stdin into the three blank-line separated sections. */
export function parseTxnInput(text: string): {
  compare: DeepPartial<WireCompare>[];
  success: DeepPartial<RequestOp>[];
  failure: DeepPartial<RequestOp>[];
} {
  const lines = text.split('\n');
  const sections: string[][] = [[], [], []];
  let section = 0;
  for (const l of lines) {
    if (section > 2) break;
    if (l.trim() === '') {
      section++;
      continue;
    }
    (sections[section] as string[]).push(l);
  }
  return {
    compare: (sections[0] as string[]).map(parseCompare),
    success: (sections[1] as string[]).map(parseOp),
    failure: (sections[2] as string[]).map(parseOp),
  };
}

/**
 * Reads the three sections as etcdctl does: each ends with an empty line, and input that ends before
 * that fails with `Error: EOF` (exit 3). With `-i` each section's prompt is printed before it is read.
 */
async function readSections(interactive: boolean): Promise<ReturnType<typeof parseTxnInput>> {
  const section = async <T>(prompt: string, parse: (l: string) => T): Promise<T[]> => {
    if (interactive) line(prompt);
    const lines = await nextSection();
    if (lines === undefined) throw new CtlError('EOF', Exit.invalidInput);
    return lines.map(parse);
  };
  try {
    const compare = await section('compares:', parseCompare);
    const success = await section('success requests (get, put, del):', parseOp);
    const failure = await section('failure requests (get, put, del):', parseOp);
    return { compare, success, failure };
  } finally {
    closeStdinLines();
  }
}

export async function txn(ctx: Ctx, interactive = false): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  const req = await readSections(interactive);
  const res = await ctx.client().txn(req);
  if (ctx.printedProtobuf()) return;
  if (ctx.format === 'json') {
    line(txnJson(res).raw);
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    line(`"Succeeded" : ${res.succeeded}`);
    for (const r of res.responses) {
      if (r.responseRange) printGet(ctx, r.responseRange as GetResult);
      else if (r.responsePut) printPut(ctx, r.responsePut as PutResult);
      else if (r.responseDeleteRange) printDel(ctx, r.responseDeleteRange as DelResult);
    }
    return;
  }
  line(res.succeeded ? 'SUCCESS' : 'FAILURE');
  for (const r of res.responses) {
    line();
    if (r.responseRange) printGet(ctx, r.responseRange as GetResult);
    else if (r.responsePut) printPut(ctx, r.responsePut as PutResult);
    else if (r.responseDeleteRange) printDel(ctx, r.responseDeleteRange as DelResult);
  }
}

type TxnRes = Awaited<ReturnType<ReturnType<Ctx['client']>['txn']>>;

/** Go's JSON of a TxnResponse: the oneof shows up as `{"Response":{"ResponsePut":{...}}}`. */
function txnJson(res: TxnRes) {
  return obj([
    ['header', header(res.header)],
    ['succeeded', bool(res.succeeded)],
    [
      'responses',
      arr(
        res.responses.map((r) => {
          let inner = raw('null');
          if (r.responseRange) inner = obj([['ResponseRange', getJson(r.responseRange as GetResult)]]);
          else if (r.responsePut) inner = obj([['ResponsePut', putJson(r.responsePut as PutResult)]]);
          else if (r.responseDeleteRange)
            inner = obj([['ResponseDeleteRange', delJson(r.responseDeleteRange as DelResult)]]);
          else if (r.responseTxn) inner = obj([['ResponseTxn', txnJson(r.responseTxn as TxnRes)]]);
          return obj([['Response', inner]]);
        }),
      ),
    ],
  ]);
}
