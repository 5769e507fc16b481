/**
 * kvctl's own operator commands (not in etcdctl): `check consistency` and `inspect largest |
 * prefixes | hot`. The computations live in ../inspect.ts; this module does the reading and printing.
 */
import type { Ctx } from '../context.js';
import { printTable } from '../display.js';
import {
  consistencyVerdict,
  hottest,
  type KvSize,
  LargestValues,
  type MemberHash,
  PrefixUsageCounter,
} from '../inspect.js';
import { ProgressBar } from '../progress.js';
import { prefixRange, scanPrefix } from '../scan.js';
import { CtlError, Exit, line, parseDuration } from '../util.js';
import { clientFor, humanBytes } from './cluster.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString();

/** The formats these commands print (no etcdctl equivalent, so no fields/protobuf). */
function requireOwnFormats(ctx: Ctx): void {
  ctx.requireFormats('simple', 'json', 'table');
}

/**
 * `check consistency`: every member's HashKV at one revision (the lowest current revision among
 * them, so none is asked for a future one), a verdict line, exit 1 when they differ.
 */
export async function checkConsistency(ctx: Ctx, endpointsOnly: boolean): Promise<void> {
  requireOwnFormats(ctx);
  let endpoints = ctx.endpoints;
  if (!endpointsOnly) {
    const { members } = await ctx.client().memberList();
    endpoints = members
      .filter((m) => !m.isLearner && m.clientURLs.length > 0)
      .map((m) => m.clientURLs[0] as string);
  }
  const clients = endpoints.map((ep) => ({ ep, c: clientFor(ctx, ep) }));
  try {
    const statuses = await Promise.all(clients.map(({ c }) => c.status()));
    const revision = Math.min(...statuses.map((s) => Number(s.header?.revision ?? 0)));
    const hashes: MemberHash[] = await Promise.all(
      clients.map(async ({ ep, c }) => {
        const h = await c.hashKV(revision);
        return { endpoint: ep, hash: h.hash, compactRevision: h.compactRevision };
      }),
    );
    const verdict = consistencyVerdict(revision, hashes);
    if (ctx.format === 'json') {
      line(
        JSON.stringify({
          revision,
          consistent: verdict.ok,
          members: hashes.map((h) => ({
            endpoint: h.endpoint,
            hash: h.hash,
            compact_revision: h.compactRevision,
          })),
        }),
      );
    } else {
      const rows = hashes.map((h) => [h.endpoint, String(h.hash), String(h.compactRevision)]);
      if (ctx.format === 'table') printTable(['ENDPOINT', 'HASH', 'COMPACT REVISION'], rows);
      else for (const r of rows) line(r.join(', '));
      line(verdict.line);
    }
    if (!verdict.ok) process.exitCode = Exit.error;
  } finally {
    for (const { c } of clients) c.close();
  }
}

/** Scans `prefix` at one revision, handing each key-value's sizes to `visit`; returns the revision. */
async function scanSizes(ctx: Ctx, prefix: string, visit: (kv: KvSize) => void): Promise<number> {
  let revision = 0;
  const bar = new ProgressBar(undefined, { unit: 'keys scanned' });
  let scanned = 0;
  for await (const kvs of scanPrefix(ctx.client(), prefix, { onRevision: (r) => (revision = r) })) {
    for (const kv of kvs) visit({ key: text(kv.key), keyBytes: kv.key.length, valueBytes: kv.value.length });
    scanned += kvs.length;
    bar.set(scanned);
  }
  bar.finish();
  return revision;
}

/** `inspect largest`: the `limit` largest values under `prefix`. */
export async function inspectLargest(ctx: Ctx, prefix: string, limit: number): Promise<void> {
  requireOwnFormats(ctx);
  if (!(limit > 0)) throw new CtlError('--limit must be a positive number', Exit.badArgs);
  const top = new LargestValues(limit);
  const revision = await scanSizes(ctx, prefix, (kv) => top.add(kv));
  const rows = top.result();
  if (ctx.format === 'json') {
    line(
      JSON.stringify({
        revision,
        largest: rows.map((r) => ({ key: r.key, key_bytes: r.keyBytes, value_bytes: r.valueBytes })),
      }),
    );
  } else if (ctx.format === 'table') {
    printTable(
      ['KEY', 'VALUE SIZE', 'KEY SIZE'],
      rows.map((r) => [r.key, humanBytes(r.valueBytes), humanBytes(r.keyBytes)]),
    );
  } else {
    for (const r of rows) line(`${r.valueBytes}\t${r.key}`);
  }
}

/** `inspect prefixes`: key counts and bytes by the first `depth` segments, largest first. */
export async function inspectPrefixes(ctx: Ctx, prefix: string, depth: number): Promise<void> {
  requireOwnFormats(ctx);
  if (!(depth > 0)) throw new CtlError('--depth must be a positive number', Exit.badArgs);
  const usage = new PrefixUsageCounter(depth);
  const revision = await scanSizes(ctx, prefix, (kv) => usage.add(kv));
  const rows = usage.result();
  if (ctx.format === 'json') {
    line(JSON.stringify({ revision, prefixes: rows }));
  } else if (ctx.format === 'table') {
    printTable(
      ['PREFIX', 'KEYS', 'SIZE'],
      rows.map((r) => [r.prefix, String(r.keys), humanBytes(r.bytes)]),
    );
  } else {
    for (const r of rows) line(`${r.keys}\t${r.bytes}\t${r.prefix}`);
  }
}

/**
 * `inspect hot`: watches `prefix` for `duration` and ranks prefix groups by writes per second
 * (puts and deletes, from the watch's events).
 */
export async function inspectHot(
  ctx: Ctx,
  prefix: string,
  depth: number,
  durationText: string,
  limit: number,
): Promise<void> {
  requireOwnFormats(ctx);
  if (!(depth > 0)) throw new CtlError('--depth must be a positive number', Exit.badArgs);
  const ms = parseDuration(durationText);
  if (!(ms > 0)) throw new CtlError('--duration must be positive', Exit.badArgs);
  const { key, rangeEnd } = prefixRange(prefix);
  const keys: string[] = [];
  const w = await ctx.client().watch(key, { rangeEnd });
  const bar = new ProgressBar(Math.ceil(ms / 1000), { unit: 's' });
  const tick = setInterval(() => bar.add(1), 1000);
  const started = performance.now();
  const timer = setTimeout(() => w.cancel(), ms);
  try {
    for await (const res of w) for (const e of res.events) keys.push(text(e.kv?.key ?? new Uint8Array()));
  } finally {
    clearTimeout(timer);
    clearInterval(tick);
    bar.finish();
  }
  const seconds = (performance.now() - started) / 1000;
  const rows = hottest(keys, depth, seconds).slice(0, limit > 0 ? limit : undefined);
  if (ctx.format === 'json') {
    line(JSON.stringify({ seconds: Number(seconds.toFixed(3)), prefixes: rows }));
  } else if (ctx.format === 'table') {
    printTable(
      ['PREFIX', 'WRITES', 'WRITES/S'],
      rows.map((r) => [r.prefix, String(r.writes), r.rate.toFixed(2)]),
    );
  } else {
    for (const r of rows) line(`${r.rate.toFixed(2)}/s\t${r.writes}\t${r.prefix}`);
  }
}
