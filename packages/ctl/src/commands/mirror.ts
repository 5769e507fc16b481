/**
 * move-leader and make-mirror, with etcdctl 3.4's checks, messages and exit codes
 * (etcdctl/ctlv3/command/move_leader_command.go, make_mirror_command.go).
 */
import { readFileSync } from 'node:fs';
import { KvClient, type TlsOptions } from '@kv/client';
import type { Ctx } from '../context.js';
import { header, obj } from '../gojson.js';
import { ProgressBar } from '../progress.js';
import { encodeHeaderOnlyResponse } from '../protobuf.js';
import { prefixRange, scanPrefix } from '../scan.js';
import { CtlError, Exit, hex, line, out, parseDuration } from '../util.js';
import { clientFor } from './cluster.js';

/** `move-leader <hex id>`: finds the leader among `--endpoints` and asks it to hand leadership over. */
export async function moveLeader(ctx: Ctx, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CtlError('move-leader command needs 1 argument', Exit.badArgs);
  const text = args[0] as string;
  if (!/^[0-9a-fA-F]{1,16}$/.test(text))
    throw new CtlError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`, Exit.badArgs);
  const target = BigInt(`0x${text}`);
  // etcdctl asks each endpoint in turn, in order, and uses the first that is the leader.
  for (const ep of ctx.endpoints) {
    const c = clientFor(ctx, ep);
    try {
      const st = await c.status();
      if (String(st.header?.memberId) !== String(st.leader)) continue;
      const targetId = target <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(target) : target;
      const res = await c.moveLeader(targetId);
      printMoveLeader(ctx, st.leader, target, res);
      return;
    } finally {
      c.close();
    }
  }
  throw new CtlError(`no leader endpoint given at [${ctx.endpoints.join(' ')}]`, Exit.badArgs);
}

function printMoveLeader(
  ctx: Ctx,
  leader: number | bigint,
  target: bigint,
  res: { header?: Parameters<typeof header>[0] },
): void {
  ctx.requireFormats('simple', 'json', 'protobuf');
  if (ctx.format === 'protobuf') {
    out(encodeHeaderOnlyResponse(res.header));
    return;
  }
  if (ctx.format === 'json') {
    line(obj([['header', header(res.header)]]).raw);
    return;
  }
  line(`Leadership transferred from ${hex(leader)} to ${hex(target)}`);
}

/** Flags of `make-mirror`. */
export interface MirrorFlags {
  prefix: string;
  destPrefix: string;
  noDestPrefix: boolean;
  destCacert?: string;
  destCert?: string;
  destKey?: string;
  destInsecureTransport: boolean;
  dialTimeout: string;
}

/** Rewrites a source key for the destination: the first `from` becomes `to` (Go's strings.Replace n=1). */
export function mirrorKey(key: Uint8Array, from: string, to: string): Uint8Array {
  const text = Buffer.from(key).toString('latin1');
  const fromL = Buffer.from(from).toString('latin1');
  const i = text.indexOf(fromL);
  if (i < 0) return key;
  return Buffer.concat([key.subarray(0, i), Buffer.from(to), key.subarray(i + Buffer.byteLength(from))]);
}

function destClient(dest: string, f: MirrorFlags): KvClient {
  const secure = f.destCacert || f.destCert || f.destKey || !f.destInsecureTransport;
  const tls: TlsOptions | undefined = secure
    ? {
        ca: f.destCacert ? readFileSync(f.destCacert) : undefined,
        cert: f.destCert ? readFileSync(f.destCert) : undefined,
        key: f.destKey ? readFileSync(f.destKey) : undefined,
      }
    : undefined;
  return new KvClient({ endpoints: [dest], tls, dialTimeoutMs: parseDuration(f.dialTimeout) });
}

/**
 * `make-mirror <dest>`: copies every key under `--prefix` to the destination at one revision, then
 * follows the source's watch, applying each revision's events in one destination txn. Prints the
 * number of mirrored changes every 30 s (as etcdctl does) and runs until interrupted or an error.
 */
export async function makeMirror(ctx: Ctx, args: string[], f: MirrorFlags): Promise<void> {
  if (args.length !== 1) throw new CtlError('make-mirror takes one destination argument', Exit.badArgs);
  if (f.noDestPrefix && f.destPrefix.length > 0)
    throw new CtlError(
      '`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one',
      Exit.badArgs,
    );
  const destPrefix = !f.noDestPrefix && f.destPrefix === '' ? f.prefix : f.destPrefix;
  const rename = (k: Uint8Array) => mirrorKey(k, f.prefix, destPrefix);
  const src = ctx.client();
  const dst = destClient(args[0] as string, f);
  let total = 0;
  const bar = new ProgressBar(undefined, { unit: 'changes mirrored' });
  const counter = setInterval(() => line(String(total)), 30_000);
  try {
    // The base copy: all keys at one revision, in pages (clientv3/mirror's SyncBase).
    let rev = 0;
    for await (const kvs of scanPrefix(src, f.prefix, { onRevision: (r) => (rev = r) })) {
      for (const kv of kvs) {
        await dst.put(rename(kv.key), kv.value);
        total++;
        bar.set(total);
      }
    }
    // Then the updates after that revision, one destination txn per source revision.
    const { key: first, rangeEnd } = prefixRange(f.prefix);
    const w = await src.watch(first, { rangeEnd, startRevision: rev + 1 });
    for await (const res of w) {
      let ops: { type: number; key: Uint8Array; value: Uint8Array }[] = [];
      let lastRev = 0;
      const flush = async () => {
        if (ops.length === 0) return;
        await dst.txn({
          success: ops.map((o) =>
            o.type === 0
              ? { requestPut: { key: o.key, value: o.value } }
              : { requestDeleteRange: { key: o.key } },
          ),
        });
        ops = [];
      };
      for (const e of res.events) {
        const modRev = Number(e.kv?.modRevision ?? 0);
        if (lastRev !== 0 && modRev > lastRev) await flush();
        lastRev = modRev;
        ops.push({
          type: e.type,
          key: rename(e.kv?.key ?? new Uint8Array()),
          value: e.kv?.value ?? new Uint8Array(),
        });
        total++;
        bar.set(total);
      }
      await flush();
    }
  } finally {
    clearInterval(counter);
    dst.close();
  }
}
