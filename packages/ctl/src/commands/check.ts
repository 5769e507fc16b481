/**
 * check perf | check datascale: etcdctl 3.4's load checks (etcdctl/ctlv3/command/check.go for the
 * load profiles, pass/fail rules and output lines). A progress bar goes to stderr on a terminal.
 */
import { KvClient } from '@kv/client';
import type { Ctx } from '../context.js';
import { ProgressBar } from '../progress.js';
import { CtlError, Exit, line } from '../util.js';
import { clientFor } from './cluster.js';

/** `check perf` profiles: puts per second, concurrent clients, seconds. */
export const PERF_PROFILES = {
  s: { limit: 150, clients: 50, duration: 60 },
  m: { limit: 1000, clients: 200, duration: 60 },
  l: { limit: 8000, clients: 500, duration: 60 },
  xl: { limit: 15000, clients: 1000, duration: 60 },
} as const;

/** `check datascale` profiles: key-values written, bytes per key-value, concurrent clients. */
export const DATASCALE_PROFILES = {
  s: { limit: 10000, kvSize: 1024, clients: 50 },
  m: { limit: 100000, kvSize: 1024, clients: 200 },
  l: { limit: 1000000, kvSize: 1024, clients: 500 },
  xl: { limit: 3000000, kvSize: 1024, clients: 1000 },
} as const;

type Load = keyof typeof PERF_PROFILES;

const LOAD_ALIASES: Record<string, Load> = {
  s: 's',
  small: 's',
  m: 'm',
  medium: 'm',
  l: 'l',
  large: 'l',
  xl: 'xl',
  xLarge: 'xl',
};

/** The profile name for `--load` (etcdctl's aliases), or etcdctl's error (exit 4). */
export function loadOf(text: string): Load {
  const load = LOAD_ALIASES[text];
  if (load === undefined) throw new CtlError(`unknown load option ${text}`, Exit.badFeature);
  return load;
}

/** Latency statistics of a run, as etcd's pkg/report computes them (seconds). */
export interface RunStats {
  /** Requests per second over the whole run. */
  rps: number;
  slowest: number;
  stddev: number;
  /** Error message → count. */
  errors: Map<string, number>;
}

/** Statistics of latencies (seconds) measured over `totalSeconds`. */
export function statsOf(latencies: number[], errors: Map<string, number>, totalSeconds: number): RunStats {
  const n = latencies.length;
  const mean = n === 0 ? 0 : latencies.reduce((a, b) => a + b, 0) / n;
  const variance = n === 0 ? 0 : latencies.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  return {
    rps: totalSeconds > 0 ? n / totalSeconds : 0,
    slowest: latencies.reduce((a, b) => Math.max(a, b), 0),
    stddev: Math.sqrt(variance),
    errors,
  };
}

/** Go's `%f`: six decimals. */
const f6 = (v: number): string => v.toFixed(6);

/**
 * check perf's verdict: the lines etcdctl prints and whether the run passed (throughput above 90% of
 * the profile's rate, slowest request at most 0.5 s, standard deviation at most 0.1 s, no errors).
 *
 * @example
 * ```ts
 * perfVerdict({ rps: 149.5, slowest: 0.02, stddev: 0.003, errors: new Map() }, 150).ok; // true
 * ```
 */
export function perfVerdict(s: RunStats, limit: number): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  if (s.errors.size > 0) {
    lines.push('FAIL: too many errors');
    for (const [msg, count] of s.errors) lines.push(`FAIL: ERROR(${msg}) -> ${count}`);
    ok = false;
  }
  if (s.rps / limit <= 0.9) {
    lines.push(`FAIL: Throughput too low: ${Math.trunc(s.rps) + 1} writes/s`);
    ok = false;
  } else {
    lines.push(`PASS: Throughput is ${Math.trunc(s.rps) + 1} writes/s`);
  }
  if (s.slowest > 0.5) {
    lines.push(`Slowest request took too long: ${f6(s.slowest)}s`);
    ok = false;
  } else {
    lines.push(`PASS: Slowest request took ${f6(s.slowest)}s`);
  }
  if (s.stddev > 0.1) {
    lines.push(`Stddev too high: ${f6(s.stddev)}s`);
    ok = false;
  } else {
    lines.push(`PASS: Stddev is ${f6(s.stddev)}s`);
  }
  lines.push(ok ? 'PASS' : 'FAIL');
  return { lines, ok };
}

/** A random key of `size` bytes under `prefix`: a Go varint of a random int63, zero padded. */
function randomKey(prefix: string, size: number): Uint8Array {
  const key = new Uint8Array(size);
  // binary.PutVarint zig-zags; a random non-negative value gives the same spread of bytes.
  let v = BigInt(Math.floor(Math.random() * 2 ** 53)) * 2n;
  let i = 0;
  while (v >= 0x80n) {
    key[i++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  key[i] = Number(v);
  const p = new TextEncoder().encode(prefix);
  const out = new Uint8Array(p.length + size);
  out.set(p);
  out.set(key, p.length);
  return out;
}

/** Flags of both checks. */
export interface CheckFlags {
  load: string;
  prefix: string;
  autoCompact: boolean;
  autoDefrag: boolean;
  /** kvctl only: seconds `check perf` runs (etcdctl: always the profile's 60). */
  durationSeconds?: number;
}

async function refuseUsedPrefix(client: KvClient, prefix: string): Promise<void> {
  const res = await client.get(prefix, { prefix: true, limit: 1 });
  if (res.kvs.length > 0)
    throw new CtlError(
      `prefix ${JSON.stringify(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`,
      Exit.invalidInput,
    );
}

/** Deletes the check's keys, then compacts and defragments as asked (etcdctl's lines). */
async function cleanUp(ctx: Ctx, client: KvClient, f: CheckFlags): Promise<void> {
  const del = await client.delete(f.prefix, { prefix: true }, { timeoutMs: 30_000 });
  if (f.autoCompact) {
    const rev = Number(del.header?.revision ?? 0);
    line(`Compacting with revision ${rev}`);
    await client.compact(rev, { physical: true }, { timeoutMs: 30_000 });
    line(`Compacted with revision ${rev}`);
  }
  if (f.autoDefrag) {
    for (const ep of ctx.endpoints) {
      line(`Defragmenting ${JSON.stringify(ep)}`);
      const one = clientFor(ctx, ep);
      try {
        await one.defragment({ timeoutMs: 30_000 });
      } finally {
        one.close();
      }
      line(`Defragmented ${JSON.stringify(ep)}`);
    }
  }
}

/**
 * Runs `workers` loops, each with a client (connection) of its own as etcdctl's checks have, that
 * take the next put from `next` until it returns undefined.
 */
async function runWorkers(
  shared: KvClient,
  workers: number,
  next: () => Promise<Uint8Array | undefined>,
  value: Uint8Array,
  onDone: () => void,
): Promise<{ latencies: number[]; errors: Map<string, number> }> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const clients = Array.from({ length: workers }, () => new KvClient({ ...shared.conn.options }));
  const loop = async (client: KvClient): Promise<void> => {
    for (let key = await next(); key !== undefined; key = await next()) {
      const started = performance.now();
      try {
        await client.put(key, value);
        latencies.push((performance.now() - started) / 1000);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        errors.set(msg, (errors.get(msg) ?? 0) + 1);
      }
      onDone();
    }
  };
  try {
    await Promise.all(clients.map(loop));
  } finally {
    for (const c of clients) c.close();
  }
  return { latencies, errors };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `check perf`: puts at the profile's rate from its number of concurrent clients. */
export async function checkPerf(ctx: Ctx, f: CheckFlags): Promise<void> {
  const cfg = PERF_PROFILES[loadOf(f.load)];
  const client = ctx.client();
  await refuseUsedPrefix(client, f.prefix);
  const seconds = f.durationSeconds ?? cfg.duration;
  const bar = new ProgressBar(seconds, { unit: 's' });
  const ticker = setInterval(() => bar.add(1), 1000);
  const started = performance.now();
  const endAt = started + seconds * 1000;
  // A token bucket of one token refilled `limit` times a second (golang.org/x/time/rate with burst 1):
  // the n-th put may start at started + n/limit.
  let issued = 0;
  const next = async (): Promise<Uint8Array | undefined> => {
    const at = started + (issued * 1000) / cfg.limit;
    if (at >= endAt) return undefined;
    issued++;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    return randomKey(f.prefix, 256);
  };
  const { latencies, errors } = await runWorkers(client, cfg.clients, next, new Uint8Array(1024), () => {});
  clearInterval(ticker);
  bar.set(seconds);
  bar.finish();
  const stats = statsOf(latencies, errors, (performance.now() - started) / 1000);
  await cleanUp(ctx, client, f);
  const verdict = perfVerdict(stats, cfg.limit);
  for (const l of verdict.lines) line(l);
  if (!verdict.ok) process.exitCode = Exit.error;
}

/**
 * The `process_resident_memory_bytes` gauge of an endpoint's /metrics, or 0 after printing why not
 * (etcdctl's endpointMemoryMetrics).
 */
async function residentMemory(endpoint: string): Promise<number> {
  const base = /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
  const url = `${base}/metrics`;
  let text: string;
  try {
    text = await (await fetch(url)).text();
  } catch (e) {
    line(`fetch error: ${e instanceof Error ? e.message : String(e)}`);
    return 0;
  }
  const key = 'process_resident_memory_bytes';
  const found = text.split('\n').find((l) => l.startsWith(key));
  if (found === undefined) {
    line(`could not find: ${key}`);
    return 0;
  }
  const v = Number(found.slice(key.length).trim());
  if (!Number.isFinite(v)) {
    line(`parse error: ${found}`);
    return 0;
  }
  return v;
}

/** `check datascale`: writes the profile's key-values and reports the server's resident memory growth. */
export async function checkDatascale(ctx: Ctx, f: CheckFlags): Promise<void> {
  const cfg = DATASCALE_PROFILES[loadOf(f.load)];
  const client = ctx.client();
  await refuseUsedPrefix(client, f.prefix);
  const endpoint = ctx.endpoints[0] ?? '127.0.0.1:2379';
  const before = await residentMemory(endpoint);
  if (before === 0) {
    line('FAIL: Could not read process_resident_memory_bytes before the put operations.');
    process.exitCode = Exit.error;
    return;
  }
  line(
    `Start data scale check for work load [${cfg.limit} key-value pairs, ${cfg.kvSize} bytes per key-value, ${cfg.clients} concurrent clients].`,
  );
  const bar = new ProgressBar(cfg.limit, { unit: 'keys' });
  let issued = 0;
  const next = async (): Promise<Uint8Array | undefined> =>
    issued++ < cfg.limit ? randomKey(f.prefix, cfg.kvSize / 2) : undefined;
  const { errors } = await runWorkers(client, cfg.clients, next, new Uint8Array(cfg.kvSize / 2), () =>
    bar.add(1),
  );
  bar.finish();
  const after = await residentMemory(endpoint);
  if (after === 0) {
    line('FAIL: Could not read process_resident_memory_bytes after the put operations.');
    process.exitCode = Exit.error;
    return;
  }
  await cleanUp(ctx, client, f);
  if (errors.size > 0) {
    line('FAIL: too many errors');
    for (const [msg, count] of errors) line(`FAIL: ERROR(${msg}) -> ${count}`);
    process.exitCode = Exit.error;
    return;
  }
  line(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.`);
}
