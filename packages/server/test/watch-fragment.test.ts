/**
 * Watch responses are framed as etcd 3.4 frames them: one message per batch whatever its size, split
 * by size (--max-request-bytes + 512 KiB) only for watchers created with `fragment`. The rule is
 * checked on its own (fragmentCounts), then side by side with Debian's etcd: the same 1,500-key delete
 * (1 KB values) watched by four raw gRPC watchers (fragment x prev_kv) arrives in the same frames from
 * both servers, and `etcdctl watch --prefix --prev-kv` prints the same output for both; two watchers
 * created afterwards from the first put (with and without fragment) replay the history in the same
 * frames as etcd's catch-up (batches of up to 1000 revisions).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type * as grpc from '@grpc/grpc-js';
import type { WatchResponse } from '@kv/client/api';
import { describe, expect, it } from 'vitest';
import { startEtcd } from '../../client/test/etcd-process.js';
import { eventFieldSize, fragmentCounts, fragmentWatchResponse } from '../src/api/watch-fragment.js';
import { startServer } from '../src/index.js';
import { b, call, collectWatch, connect } from './helpers.js';

describe('fragmentCounts (etcd sendFragments rule)', () => {
  it('keeps a response under the limit, or with one event, whole', () => {
    expect(fragmentCounts(20, [100, 100, 100], 1000)).toEqual([3]);
    expect(fragmentCounts(20, [5000], 1000)).toEqual([1]);
    expect(fragmentCounts(20, [], 1000)).toEqual([0]);
  });

  it('fills each fragment while it stays under the limit, at least one event each', () => {
    // Fields of 403 bytes; a fragment is 22 bytes (base + fragment flag) plus its events.
    expect(fragmentCounts(20, [400, 400, 400], 1000)).toEqual([2, 1]);
    // Events larger than the limit travel one per fragment.
    expect(fragmentCounts(20, [2000, 2000, 10], 1000)).toEqual([1, 1, 1]);
  });

  it('splits at the limit exactly as etcd compares (whole: size < limit; fragment: size >= limit)', () => {
    const field = eventFieldSize(100); // 102
    const base = 10;
    // Whole response of exactly `limit` bytes is fragmented; one byte less is not.
    expect(fragmentCounts(base, [100, 100], base + 2 * field)).toEqual([1, 1]);
    expect(fragmentCounts(base, [100, 100], base + 2 * field + 1)).toEqual([2]);
    // A fragment reaching the limit drops its last event (fragment flag counts: 2 bytes).
    expect(fragmentCounts(base, [100, 100, 100], base + 2 + 2 * field)).toEqual([1, 1, 1]);
    expect(fragmentCounts(base, [100, 100, 100], base + 2 + 2 * field + 1)).toEqual([2, 1]);
  });

  it('flags every fragment but the last and keeps header and watch id', () => {
    const ev = (i: number) => ({ kv: { key: b(`k${i}`), value: Buffer.alloc(300) } });
    const parts = fragmentWatchResponse(
      { header: { revision: 7 }, watchId: 3n, events: [ev(1), ev(2), ev(3)] },
      700,
    );
    expect(parts.map((p) => [p.events?.length, p.fragment ?? false, p.watchId, p.header?.revision])).toEqual([
      [2, true, 3n, 7],
      [1, false, 3n, 7],
    ]);
  });
});

const N = 1500;
const VALUE = 'v'.repeat(1000);
const WATCHERS = [
  { fragment: false, prevKv: false },
  { fragment: true, prevKv: false },
  { fragment: false, prevKv: true },
  { fragment: true, prevKv: true },
];

/** Runs etcdctl watch until it has printed `n` DELETE events; resolves with its output. */
function etcdctlWatch(endpoint: string, n: number): { child: ChildProcess; output: Promise<string> } {
  const child = spawn('etcdctl', ['--endpoints', endpoint, 'watch', '--prefix', 'f/', '--prev-kv'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  let out = '';
  const output = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`etcdctl watch printed ${out.length} bytes only`)),
      60_000,
    );
    let settle: NodeJS.Timeout | undefined;
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`etcdctl watch exited after ${out.length} bytes`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // The last event's lines may arrive in a later chunk than its DELETE line: once all n are
      // there, wait for the output to go quiet before taking it.
      if (out.split('\n').filter((l) => l === 'DELETE').length === n) {
        clearTimeout(timer);
        clearTimeout(settle);
        settle = setTimeout(() => resolve(out), 500);
      }
    });
  });
  return { child, output };
}

/** Writes N keys, watches them four ways and through etcdctl, deletes them all in one revision. */
async function framesOfBigDelete(
  address: string,
  server: string,
): Promise<{ frames: [number, boolean][][]; catchUp: [number, boolean][][]; ctl: string }> {
  const c = connect(address);
  let ctl: ReturnType<typeof etcdctlWatch> | undefined;
  try {
    let firstRev = 0;
    for (let i = 0; i < N; i += 100) {
      const puts = await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          call(c.kv, 'put', { key: b(`f/${String(i + j).padStart(5, '0')}`), value: b(VALUE) }),
        ),
      );
      if (i === 0) firstRev = Math.min(...puts.map((p) => Number(p.header.revision)));
    }
    ctl = etcdctlWatch(`http://${address}`, N);
    const stream = c.watch.watch() as grpc.ClientDuplexStream<unknown, WatchResponse>;
    const created = collectWatch(
      stream,
      (all) => all.filter((r) => r.created).length === WATCHERS.length,
      5000,
      `${server}: created`,
    );
    for (const w of WATCHERS) stream.write({ createRequest: { key: b('f/'), rangeEnd: b('f0'), ...w } });
    const ids = (await created).map((r) => Number(r.watchId));
    // etcdctl has no "watching" line: give it time to open its stream (not a timing assertion).
    await new Promise((r) => setTimeout(r, 1000));
    const events = collectWatch(
      stream,
      (all) =>
        ids.every(
          (id) => all.filter((r) => Number(r.watchId) === id).reduce((n, r) => n + r.events.length, 0) === N,
        ),
      60_000,
      `${server}: the delete's events`,
    );
    await call(c.kv, 'deleteRange', { key: b('f/'), rangeEnd: b('f0') });
    const got = await events;
    stream.cancel();
    const frames = ids.map((id) =>
      got
        .filter((r) => Number(r.watchId) === id && r.events.length > 0)
        .map((r): [number, boolean] => [r.events.length, r.fragment]),
    );
    const text = await ctl.output;
    ctl.child.kill();
    // Catch-up watchers from the first put: history in batches of up to 1000 revisions (etcd's
    // syncWatchers), then split by size for the one that asks for fragments.
    const history = c.watch.watch() as grpc.ClientDuplexStream<unknown, WatchResponse>;
    const catchUpIds = (
      await (async () => {
        const made = collectWatch(
          history,
          (all) => all.filter((r) => r.created).length === 2,
          5000,
          `${server}: catch-up watchers created`,
        );
        for (const fragment of [false, true]) {
          history.write({
            createRequest: { key: b('f/'), rangeEnd: b('f0'), startRevision: firstRev, fragment },
          });
        }
        return made;
      })()
    ).map((r) => Number(r.watchId));
    const replayed = await collectWatch(
      history,
      (all) =>
        catchUpIds.every(
          (id) =>
            all.filter((r) => Number(r.watchId) === id).reduce((n, r) => n + r.events.length, 0) === 2 * N,
        ),
      60_000,
      `${server}: catch-up`,
    );
    history.cancel();
    const catchUp = catchUpIds.map((id) =>
      replayed
        .filter((r) => Number(r.watchId) === id && r.events.length > 0)
        .map((r): [number, boolean] => [r.events.length, r.fragment]),
    );
    return { frames, catchUp, ctl: text };
  } finally {
    // Also when a step failed: no etcdctl left running, and its output no longer awaited.
    ctl?.child.kill();
    ctl?.output.catch(() => {});
    c.close();
  }
}

/**
 * Same frames: per watcher the same number of messages with the same fragment flags and the same
 * batches, and each message's event count equal to etcd's give or take one. The tolerance is the
 * header: etcd's member and cluster ids are 64-bit hashes (9-10 byte varints), kv's are below 2^53
 * (8 bytes), so a fragment can fit one event more or less when its size lands within those bytes of
 * the limit. The rule itself is pinned exactly by the fragmentCounts tests above.
 */
function expectSameFraming(ours: [number, boolean][][], theirs: [number, boolean][][]): void {
  expect(ours.map((w) => w.map((f) => f[1]))).toEqual(theirs.map((w) => w.map((f) => f[1])));
  ours.forEach((frames, w) => {
    frames.forEach(([n], i) => {
      expect(Math.abs(n - theirs[w]![i]![0])).toBeLessThanOrEqual(1);
    });
    // Batches (fragments up to an unflagged one) hold the same events in total.
    const batches = (fs: [number, boolean][]) =>
      fs.reduce<number[]>(
        (acc, [n], i) => {
          acc[acc.length - 1]! += n;
          if (!fs[i]![1] && i < fs.length - 1) acc.push(0);
          return acc;
        },
        [0],
      );
    expect(batches(frames)).toEqual(batches(theirs[w]!));
  });
}

/**
 * The reference run on a fresh Debian etcd, once more on another fresh etcd if a watch of the first
 * stalls. Why: once in CI (session 15) a run stopped receiving with 5 responses for 60 s, and the
 * test's timing placed the stall in etcd's run (67 s in all: kv's run ends about 4 s in, etcd's about
 * 8 s in); etcd has had watch responses delayed or lost on a stream that multiplexes prev_kv
 * watchers (etcd-io/etcd#17529). Only the oracle is retried: a stall in kv's run fails the test.
 */
async function etcdFramesOfBigDelete(): Promise<Awaited<ReturnType<typeof framesOfBigDelete>>> {
  for (let attempt = 1; ; attempt++) {
    const etcd = await startEtcd({ args: ['--max-request-bytes=10000'] });
    try {
      return await framesOfBigDelete(etcd.grpcAddress, 'etcd');
    } catch (err) {
      if (attempt === 2 || !String(err).includes('watch (etcd: ')) throw err;
      console.warn(`reference etcd stalled, running it again on a fresh etcd: ${String(err)}`);
    } finally {
      await etcd.stop();
    }
  }
}

describe('a 1,500-key delete, watched on kv and on Debian etcd (--max-request-bytes 10000)', () => {
  it('arrives in the same frames, and etcdctl prints the same events', async () => {
    const args = ['--max-request-bytes', '10000'];
    const kv = await startServer({ backend: 'level', args });
    let ours: Awaited<ReturnType<typeof framesOfBigDelete>>;
    try {
      ours = await framesOfBigDelete(kv.address, 'kv');
    } finally {
      await kv.close();
    }
    const theirs = await etcdFramesOfBigDelete();
    expectSameFraming(ours.frames, theirs.frames);
    // Without fragment: one message of 1,500 events, whatever its size (1.5 MB with prev_kv).
    expect(ours.frames[0]).toEqual([[N, false]]);
    expect(ours.frames[2]).toEqual([[N, false]]);
    // Tombstones are small: under the 522 KiB limit even for the fragmenting watcher.
    expect(ours.frames[1]).toEqual([[N, false]]);
    // With prev_kv the 1.5 MB batch is split by size; only the last fragment is unflagged.
    const split = ours.frames[3]!;
    expect(split.length).toBeGreaterThan(2);
    expect(split.map((f) => f[1])).toEqual([...split.slice(1).map(() => true), false]);
    expect(split.reduce((n, f) => n + f[0], 0)).toBe(N);
    expect(ours.ctl).toBe(theirs.ctl);
    // Catch-up: 1000 put revisions, then 500 puts + the delete's 1500 events; fragmented by size.
    expectSameFraming(ours.catchUp, theirs.catchUp);
    expect(ours.catchUp[0]).toEqual([
      [1000, false],
      [2 * N - 1000, false],
    ]);
    expect(ours.catchUp[1]!.length).toBeGreaterThan(2);
  }, 180_000);
});
