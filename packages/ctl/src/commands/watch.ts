/**
 * watch: prints events like etcdctl until interrupted; a compacted start revision ends with exit 5.
 * Three modes, as etcdctl 3.4: one watch from the command line, `-i` (watch request lines read from
 * stdin, each starting its own watch) and `... -- CMD args` (CMD runs once per event with the
 * ETCD_WATCH_* variables set).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CompactedError, type KvClient, type WatchOptions, type WatchResponse } from '@kv/client';
import type { Ctx } from '../context.js';
import { fieldsHeader, fieldsKv, printKv, q } from '../display.js';
import { arr, bool, header, kv, num, obj } from '../gojson.js';
import { encodeWatchResponse } from '../protobuf.js';
import { CtlError, Exit, intFlag, line } from '../util.js';

export interface WatchArgs {
  key?: string;
  range_end?: string;
  prefix?: boolean;
  rev?: string;
  'prev-kv'?: boolean;
  'progress-notify'?: boolean;
  interactive?: boolean;
}

/** One watch to open: what `watch` flags and positionals (or one interactive line) ask for. */
export interface WatchRequest {
  key: string;
  rangeEnd?: string;
  prefix: boolean;
  rev: number;
  prevKv: boolean;
  progressNotify: boolean;
  /** The command to run per event (words after `--`), empty for none. */
  exec: string[];
}

const EVENT_NAMES = ['PUT', 'DELETE'];

/** etcdctl's messages for bad watch arguments (etcdctl/ctlv3/command/watch_command.go). */
const BAD_ARGS = 'bad number of arguments';
const BAD_SEPARATOR = 'bad number of arguments (found separator --, but no commands)';
const BAD_ENV = 'bad number of arguments (found conflicting environment key)';

/** The key (and range end) etcdctl takes from ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END. */
interface EnvRange {
  key: string;
  rangeEnd: string;
}

function envRange(): EnvRange {
  const key = process.env.ETCDCTL_WATCH_KEY ?? '';
  const rangeEnd = process.env.ETCDCTL_WATCH_RANGE_END ?? '';
  if (key === '' && rangeEnd !== '')
    throw new CtlError(
      `ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${JSON.stringify(rangeEnd)}`,
      Exit.badArgs,
    );
  return { key, rangeEnd };
}

/**
 * Resolves positionals + environment into the watched range (etcdctl's rules: the environment key
 * conflicts with a positional key; `--prefix` conflicts with a range end).
 */
function resolveRange(
  positionals: string[],
  env: EnvRange,
  prefix: boolean,
): { key: string; rangeEnd?: string } {
  let words = positionals;
  if (env.key !== '') {
    if (positionals.length > 0) throw new CtlError(BAD_ENV, Exit.badArgs);
    words = env.rangeEnd !== '' ? [env.key, env.rangeEnd] : [env.key];
  }
  const [key, rangeEnd] = words;
  if (key === undefined) throw new CtlError(BAD_ARGS, Exit.badArgs);
  if (rangeEnd !== undefined && prefix)
    throw new CtlError('`range_end` and `--prefix` are mutually exclusive', Exit.badArgs);
  return rangeEnd === undefined ? { key } : { key, rangeEnd };
}

/**
 * Splits a request line into words like etcdctl's `argify`: double-quoted (with escapes),
 * single-quoted, or bare words.
 *
 * @example
 * ```ts
 * argify(`watch "a b" --prefix`); // ['watch', 'a b', '--prefix']
 * ```
 */
export function argify(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?/g)) {
    const w = m[0];
    if (w.startsWith("'")) words.push(w.slice(1, -1));
    else if (w.startsWith('"')) words.push(JSON.parse(w) as string);
    else words.push(w);
  }
  return words;
}

/**
 * Parses one interactive line (`watch [--prefix] [--rev N] [--prev-kv] key [range_end] [-- CMD...]`)
 * into a request. Throws a CtlError with etcdctl's message for a bad line.
 */
export function parseWatchLine(words: string[], env: EnvRange = { key: '', rangeEnd: '' }): WatchRequest {
  const sep = words.indexOf('--');
  const exec = sep >= 0 ? words.slice(sep + 1) : [];
  if (sep >= 0 && exec.length === 0) throw new CtlError(BAD_SEPARATOR, Exit.badArgs);
  const flagWords = (sep >= 0 ? words.slice(0, sep) : words).slice(1);
  const req: WatchRequest = { key: '', prefix: false, rev: 0, prevKv: false, progressNotify: false, exec };
  const positionals: string[] = [];
  for (let i = 0; i < flagWords.length; i++) {
    const w = flagWords[i] as string;
    const [name, inline] = w.startsWith('--') ? w.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (name === undefined) {
      positionals.push(w);
    } else if (name === 'prefix' || name === 'prev-kv' || name === 'progress-notify') {
      const on = inline === undefined || inline === 'true';
      if (name === 'prefix') req.prefix = on;
      else if (name === 'prev-kv') req.prevKv = on;
      else req.progressNotify = on;
    } else if (name === 'rev') {
      const value = inline ?? flagWords[++i];
      if (value === undefined) throw new CtlError('flag needs an argument: --rev', Exit.badArgs);
      req.rev = intFlag('rev', value);
    } else {
      throw new CtlError(`unknown flag: --${name}`, Exit.badArgs);
    }
  }
  if (positionals.length === 0 && env.key === '') throw new CtlError(BAD_ARGS, Exit.badArgs);
  return { ...req, ...resolveRange(positionals, env, req.prefix) };
}

/** etcdctl's IsProgressNotify: an empty response that is not a create, cancel or compaction. */
const isProgressNotify = (res: WatchResponse): boolean =>
  res.events.length === 0 &&
  !res.canceled &&
  !res.created &&
  res.compactRevision === 0 &&
  Number(res.header?.revision ?? 0) !== 0;

function printResponse(ctx: Ctx, res: WatchResponse): void {
  if (isProgressNotify(res)) line(`progress notify: ${res.header?.revision ?? 0}`);
  if (ctx.format === 'protobuf') {
    process.stdout.write(encodeWatchResponse(res));
    return;
  }
  if (ctx.format === 'json') {
    line(
      obj([
        ['Header', header(res.header) ?? obj([])],
        [
          'Events',
          arr(
            res.events.map((e) =>
              obj([
                ['type', num(e.type)],
                ['kv', e.kv ? kv(e.kv) : undefined],
                ['prev_kv', e.prevKv ? kv(e.prevKv) : undefined],
              ]),
            ),
            true,
          ),
        ],
        ['CompactRevision', num(res.compactRevision, true)],
        ['Canceled', bool(res.canceled, true)],
        ['Created', bool(res.created, true)],
      ]).raw,
    );
    return;
  }
  if (ctx.format === 'fields') {
    fieldsHeader(res.header);
    for (const e of res.events) {
      line(`"Type" : ${EVENT_NAMES[e.type] ?? e.type}`);
      if (e.prevKv) fieldsKv(e.prevKv, 'Prev');
      if (e.kv) fieldsKv(e.kv);
    }
    return;
  }
  for (const e of res.events) {
    line(EVENT_NAMES[e.type] ?? String(e.type));
    if (e.prevKv) printKv(e.prevKv, ctx.hex);
    if (e.kv) printKv(e.kv, ctx.hex);
  }
}

/** Go's `%q` of a string slice: `["echo" "hi"]`. */
const goQuoteList = (words: string[]): string => `[${words.map((w) => JSON.stringify(w)).join(' ')}]`;

/**
 * Runs `exec` once for an event with etcdctl's environment (values `%q`-quoted like etcdctl's);
 * a failing command ends kvctl with exit 1, as it ends etcdctl.
 */
async function runForEvent(
  exec: string[],
  res: WatchResponse,
  e: WatchResponse['events'][number],
): Promise<void> {
  const env = {
    ...process.env,
    ETCD_WATCH_REVISION: String(res.header?.revision ?? 0),
    ETCD_WATCH_EVENT_TYPE: JSON.stringify(EVENT_NAMES[e.type] ?? String(e.type)),
    ETCD_WATCH_KEY: q(e.kv?.key ?? ''),
    ETCD_WATCH_VALUE: q(e.kv?.value ?? ''),
  };
  const failure = await new Promise<string | undefined>((resolve) => {
    const child = spawn(exec[0] as string, exec.slice(1), { stdio: 'inherit', env });
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === 'ENOENT'
          ? `exec: ${JSON.stringify(exec[0])}: executable file not found in $PATH`
          : err.message,
      ),
    );
    child.once('exit', (code, signal) =>
      resolve(code === 0 ? undefined : signal ? `signal: ${signal}` : `exit status ${code}`),
    );
  });
  if (failure !== undefined) {
    process.stderr.write(`command ${goQuoteList(exec)} error (${failure})\n`);
    process.exit(Exit.error);
  }
}

/** Opens one watch and prints (and execs for) its responses until it ends. */
async function follow(ctx: Ctx, client: KvClient, req: WatchRequest): Promise<void> {
  const opts: WatchOptions = {
    prefix: req.prefix,
    startRevision: req.rev,
    prevKv: req.prevKv,
    progressNotify: req.progressNotify,
  };
  if (req.rangeEnd !== undefined) opts.rangeEnd = req.rangeEnd;
  const w = await client.watch(req.key, opts);
  try {
    for await (const res of w) {
      printResponse(ctx, res);
      if (req.exec.length > 0) for (const e of res.events) await runForEvent(req.exec, res, e);
    }
  } catch (e) {
    if (e instanceof CompactedError || (e instanceof Error && !(e instanceof CtlError))) {
      line(`watch was canceled (${(e as Error).message})`);
      throw new CtlError('watch is canceled by the server', Exit.interrupted);
    }
    throw e;
  }
}

/**
 * `watch` from the command line. `exec` is what followed `--` (undefined when there was no `--`).
 */
export async function watch(ctx: Ctx, a: WatchArgs, exec: string[] | undefined): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields', 'protobuf');
  const env = envRange();
  if (a.interactive) return watchInteractive(ctx, env);
  if (exec !== undefined && exec.length === 0) throw new CtlError(BAD_SEPARATOR, Exit.badArgs);
  const positionals = [a.key, a.range_end].filter((w): w is string => w !== undefined);
  const prefix = a.prefix ?? false;
  const req: WatchRequest = {
    ...resolveRange(positionals, env, prefix),
    prefix,
    rev: intFlag('rev', a.rev),
    prevKv: a['prev-kv'] ?? false,
    progressNotify: a['progress-notify'] ?? false,
    exec: exec ?? [],
  };
  await follow(ctx, ctx.client(), req);
}

/**
 * `watch -i`: each stdin line `watch ...` starts one more watch (all printing to stdout); other lines
 * are reported on stderr and skipped. End of input ends kvctl with etcdctl's exit 3, like etcdctl.
 */
async function watchInteractive(ctx: Ctx, env: EnvRange): Promise<void> {
  const client = ctx.client();
  const failed = new Promise<never>((_resolve, reject) => {
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on('line', (text) => {
      const words = argify(text);
      if (words.length === 0) {
        process.stderr.write(`Invalid command: ${text} (watch and progress supported)\n`);
        return;
      }
      if (words[0] === 'progress') {
        // etcdctl sends a progress request here; kv's client has no call for it yet, so say so.
        process.stderr.write(`Invalid command ${text} (progress requests are not supported by kvctl)\n`);
        return;
      }
      if (words[0] !== 'watch') {
        process.stderr.write(`Invalid command ${text} (only support watch)\n`);
        return;
      }
      if (words.length < 2 && env.key === '') {
        process.stderr.write(`Invalid command ${text} (command type or key is not provided)\n`);
        return;
      }
      let req: WatchRequest;
      try {
        req = parseWatchLine(words, env);
      } catch (e) {
        // etcdctl reports a bad range on the line and goes on; other bad arguments end it.
        if (e instanceof Error && e.message.includes('mutually exclusive')) {
          process.stderr.write(`Invalid command ${text} (${e.message})\n`);
        } else {
          reject(e);
        }
        return;
      }
      follow(ctx, client, req).catch(reject);
    });
    lines.once('close', () =>
      reject(new CtlError('Error reading watch request line: EOF', Exit.invalidInput)),
    );
  });
  await failed;
}
