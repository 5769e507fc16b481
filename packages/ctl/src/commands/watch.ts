/** watch: prints events like etcdctl until interrupted; a compacted start revision ends with exit 5. */
import { CompactedError, type WatchOptions, type WatchResponse } from '@kv/client';
import type { Ctx } from '../context.js';
import { fieldsHeader, fieldsKv, printKv } from '../display.js';
import { arr, bool, header, kv, num, obj } from '../gojson.js';
import { CtlError, Exit, intFlag, line } from '../util.js';

export interface WatchArgs {
  key?: string;
  range_end?: string;
  prefix?: boolean;
  rev?: string;
  'prev-kv'?: boolean;
  'progress-notify'?: boolean;
}

const EVENT_NAMES = ['PUT', 'DELETE'];

function printResponse(ctx: Ctx, res: WatchResponse): void {
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

export async function watch(ctx: Ctx, a: WatchArgs, rest: string[]): Promise<void> {
  ctx.requireFormats('simple', 'json', 'fields');
  if (a.key === undefined)
    throw new CtlError(
      'watch in non-interactive mode requires one argument as key or prefix, with range end optional',
      Exit.badArgs,
    );
  if (rest.length > 0)
    throw new CtlError('watch with an exec command is not supported by kvctl', Exit.badFeature);
  if (a.prefix && a.range_end !== undefined)
    throw new CtlError('`range_end` and `--prefix` are mutually exclusive', Exit.badArgs);
  const opts: WatchOptions = {
    prefix: a.prefix ?? false,
    startRevision: intFlag('rev', a.rev),
    prevKv: a['prev-kv'] ?? false,
    progressNotify: a['progress-notify'] ?? false,
  };
  if (a.range_end !== undefined) opts.rangeEnd = a.range_end;
  const w = await ctx.client().watch(a.key, opts);
  try {
    for await (const res of w) printResponse(ctx, res);
  } catch (e) {
    if (e instanceof CompactedError || (e instanceof Error && !(e instanceof CtlError))) {
      line(`watch was canceled (${(e as Error).message})`);
      throw new CtlError('watch is canceled by the server', Exit.interrupted);
    }
    throw e;
  }
}
