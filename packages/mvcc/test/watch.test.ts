/**
 * Watch invariants under random workloads: watchers on random keys/ranges start at random revisions
 * (past, now, future) with random filters and prev_kv, while consumers are fast, slow (sink returns a
 * promise) or parking (sink returns false, resumed later); tiny queue and batch bounds force the
 * overflow -> catch-up-from-history path. At the end every surviving watcher must have received exactly
 * the events of its range from its start revision, once each, in revision order, with correct prev_kv;
 * watchers canceled by compaction must have received a prefix and a compact revision.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import {
  type EngineName,
  type Event,
  MvccStore,
  type WatchBatch,
  type Watcher,
  type WatchFilter,
} from '../src/index.js';
import { delArb, KEYS, putArb, txnArb } from './helpers/arbitraries.js';
import { dec, ENGINES, enc, freshBackend, removeTempDirs } from './helpers/engines.js';
import { type MOp, Model } from './helpers/model.js';
import { toKv, txnReq } from './helpers/requests.js';

afterAll(removeTempDirs);

type Consumer = 'fast' | 'slow' | 'parking';

interface WatchSpec {
  key: string;
  end: string | undefined;
  start: 'now' | 'past' | 'future';
  offset: number;
  filters: WatchFilter[];
  prevKv: boolean;
  consumer: Consumer;
}

type WStep =
  | { kind: 'write'; ops: MOp[] }
  | { kind: 'watch'; spec: WatchSpec }
  | { kind: 'compact'; back: number }
  | { kind: 'sleep'; ms: number }
  | { kind: 'progress' };

const specArb: fc.Arbitrary<WatchSpec> = fc.record({
  key: fc.constantFrom(...KEYS),
  end: fc.constantFrom<string | undefined>(undefined, '\0', 'c', 'e'),
  start: fc.constantFrom('now' as const, 'past' as const, 'past' as const, 'future' as const),
  offset: fc.integer({ min: 0, max: 12 }),
  filters: fc.constantFrom<WatchFilter[]>([], [], ['noput'], ['nodelete'], [1]),
  prevKv: fc.boolean(),
  consumer: fc.constantFrom<Consumer>('fast', 'slow', 'parking'),
});

const stepArb: fc.Arbitrary<WStep> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .oneof(
        putArb.map((put) => [{ put }]),
        delArb.map((del) => [{ del }]),
      )
      .map((ops) => ({ kind: 'write' as const, ops })),
  },
  { weight: 2, arbitrary: txnArb.map((t) => ({ kind: 'write' as const, ops: [{ txn: t }] })) },
  { weight: 3, arbitrary: specArb.map((spec) => ({ kind: 'watch' as const, spec })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 6 }).map((back) => ({ kind: 'compact' as const, back })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 }).map((ms) => ({ kind: 'sleep' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'progress' as const }) },
);

interface Live {
  spec: WatchSpec;
  startRev: number;
  watcher: Watcher;
  batches: WatchBatch[];
  canceled?: WatchBatch;
  progressAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inRange(k: string, spec: WatchSpec): boolean {
  if (spec.end === undefined) return k === spec.key;
  if (spec.end === '\0') return k >= spec.key;
  return k >= spec.key && k < spec.end;
}

function wants(ev: Event, spec: WatchSpec): boolean {
  const noPut = spec.filters.includes('noput') || spec.filters.includes(0);
  const noDel = spec.filters.includes('nodelete') || spec.filters.includes(1);
  if (ev.type === 0 ? noPut : noDel) return false;
  return inRange(dec(ev.kv.key), spec);
}

const fmt = (ev: Event) => `${ev.type}:${dec(ev.kv.key)}@${ev.kv.modRevision}`;

async function runWorkload(engine: EngineName, steps: WStep[]): Promise<void> {
  const store = await MvccStore.open((await freshBackend(engine)).backend, {
    batchInterval: 2,
    batchLimit: 5,
    watch: { maxEventsPerBatch: 3, maxQueuedBatches: 2 },
  });
  const model = new Model();
  const history: Event[] = [];
  const lives: Live[] = [];
  let index = 1;
  try {
    for (const step of steps) {
      if (step.kind === 'write') {
        const t =
          step.ops.length === 1 && 'txn' in step.ops[0]!
            ? step.ops[0].txn
            : { compare: [], success: step.ops, failure: [] };
        let modelOk = true;
        try {
          model.txn(t);
        } catch {
          modelOk = false;
        }
        try {
          const r = await store.txn(txnReq(t), { index: index++ });
          expect(modelOk).toBe(true);
          history.push(...r.events);
        } catch (e) {
          expect(modelOk, String(e)).toBe(false);
        }
      } else if (step.kind === 'compact') {
        const rev = store.rev() - step.back;
        if (rev > store.compactRevision()) {
          await store.compact(rev, { index: index++ });
          model.compact(rev);
        }
      } else if (step.kind === 'sleep') {
        await sleep(step.ms);
      } else if (step.kind === 'progress') {
        for (const l of lives) l.watcher.requestProgress();
      } else {
        const { spec } = step;
        const head = store.rev();
        const startRev =
          spec.start === 'now'
            ? head + 1
            : spec.start === 'future'
              ? head + 1 + (spec.offset % 4)
              : Math.max(1, head - spec.offset);
        const live: Live = {
          spec,
          startRev,
          batches: [],
          progressAt: 0,
          watcher: undefined as unknown as Watcher,
        };
        let n = 0;
        live.watcher = store.watch(
          {
            key: enc(spec.key),
            rangeEnd: spec.end === undefined ? undefined : enc(spec.end),
            startRevision: spec.start === 'now' ? 0 : startRev,
            filters: spec.filters,
            prevKv: spec.prevKv,
          },
          (batch) => {
            if (batch.canceled) {
              live.canceled = batch;
              return;
            }
            if (batch.progress) {
              live.progressAt = Math.max(live.progressAt, batch.revision);
              return;
            }
            live.batches.push(batch);
            n++;
            if (spec.consumer === 'slow') return sleep(n % 3);
            if (spec.consumer === 'parking' && n % 2 === 0) {
              setTimeout(() => live.watcher.resume(), n % 4);
              return false;
            }
            return undefined;
          },
        );
        lives.push(live);
      }
    }
    // Drain: every surviving watcher must report progress at the final head.
    const head = store.rev();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pending = lives.filter((l) => !l.canceled && l.progressAt < head);
      if (pending.length === 0) break;
      if (Date.now() > deadline) throw new Error(`watchers never caught up: ${pending.length}`);
      for (const l of pending) {
        l.watcher.resume();
        l.watcher.requestProgress();
      }
      await sleep(5);
    }
    for (const l of lives) checkWatcher(l, history, model, store.compactRevision());
    // A watcher sees events only from its own range; prove a few were actually delivered overall.
  } finally {
    await store.close();
  }
}

function checkWatcher(l: Live, history: Event[], model: Model, compactRev: number): void {
  const expected = history.filter((ev) => ev.kv.modRevision >= l.startRev && wants(ev, l.spec));
  const got = l.batches.flatMap((b) => b.events);
  const label = `${JSON.stringify(l.spec)} start=${l.startRev}`;
  if (l.canceled) {
    expect(l.canceled.compactRevision, label).toBeGreaterThan(0);
    expect(l.canceled.compactRevision!, label).toBeLessThanOrEqual(compactRev);
    expect(got.map(fmt), label).toEqual(expected.slice(0, got.length).map(fmt));
  } else {
    // etcd semantics: a watcher may start at the compacted revision itself, and history at that
    // revision keeps only what compaction keeps (a key deleted at or before it is gone entirely). So
    // events at or below the final compact revision may be missing; everything after must be exact.
    const after = (evs: Event[]) => evs.filter((ev) => ev.kv.modRevision > compactRev).map(fmt);
    expect(after(got), label).toEqual(after(expected));
    const early = got.filter((ev) => ev.kv.modRevision <= compactRev).map(fmt);
    const allowed = expected.filter((ev) => ev.kv.modRevision <= compactRev).map(fmt);
    expect(
      allowed.filter((e) => early.includes(e)),
      label,
    ).toEqual(early);
  }
  // Batches: revisions never go backwards; a revision is never split between batches.
  let last = 0;
  for (const b of l.batches) {
    expect(b.revision).toBeGreaterThanOrEqual(last);
    last = b.revision;
    for (const ev of b.events) expect(ev.kv.modRevision).toBeLessThanOrEqual(b.revision);
  }
  for (let i = 1; i < l.batches.length; i++) {
    const prev = l.batches[i - 1]!.events;
    expect(prev[prev.length - 1]!.kv.modRevision).toBeLessThan(l.batches[i]!.events[0]!.kv.modRevision);
  }
  for (const ev of got) {
    const key = dec(ev.kv.key);
    // A txn may put and then delete the same key; only the last change of a revision shows in the model.
    const sameChange = history.filter((h) => h.kv.modRevision === ev.kv.modRevision && dec(h.kv.key) === key);
    if (sameChange.length === 1) {
      if (ev.type === 0) expect(toKv(ev.kv)).toEqual(model.stateAt(ev.kv.modRevision).get(key));
      else expect(model.stateAt(ev.kv.modRevision).has(key)).toBe(false);
    }
    if (l.spec.prevKv) {
      const before = model.stateAt(ev.kv.modRevision - 1).get(key);
      // etcd's isCreateEvent (v3rpc/watch.go): a PUT whose create revision is its mod revision gets no
      // prev_kv lookup, even when a delete earlier in the same txn removed an older version of the key
      // (the store allows that txn; the server's duplicate-key check refuses it before it gets here).
      if (ev.type === 0 && ev.kv.createRevision === ev.kv.modRevision) expect(ev.prevKv).toBeUndefined();
      else if (ev.prevKv) expect(toKv(ev.prevKv)).toEqual(before);
      // Like etcd, prev_kv is left out when the previous revision was compacted before delivery.
      else if (ev.kv.modRevision - 1 >= compactRev) expect(before).toBeUndefined();
    } else {
      expect(ev.prevKv).toBeUndefined();
    }
  }
}

describe('watch hub invariants', () => {
  test('random workloads, start revisions and slow consumers (memory engine)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 10, maxLength: 60 }), (steps) =>
        runWorkload('memory', steps),
      ),
      { numRuns: 60 },
    );
  });

  test.each(ENGINES.filter((e) => e !== 'memory'))('random workloads on %s', async (engine) => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 10, maxLength: 60 }), (steps) =>
        runWorkload(engine, steps),
      ),
      { numRuns: 12 },
    );
  });

  test('a watcher behind compacted history is canceled with the compact revision', async () => {
    const store = await MvccStore.open((await freshBackend('memory')).backend);
    for (let i = 1; i <= 5; i++) await store.put({ key: enc('k'), value: enc(`v${i}`) }, { index: i });
    await store.compact(4, { index: 6 });
    const got: WatchBatch[] = [];
    store.watch({ key: enc('k'), startRevision: 2 }, (b) => {
      got.push(b);
    });
    await sleep(20);
    expect(got).toEqual([{ watchId: 1, events: [], revision: 6, compactRevision: 4, canceled: true }]);
    // From the compact revision itself is still possible: the newest value at 4 is kept.
    const ok: WatchBatch[] = [];
    store.watch({ key: enc('k'), startRevision: 4 }, (b) => {
      ok.push(b);
    });
    await sleep(20);
    expect(ok.flatMap((b) => b.events).map((e) => [dec(e.kv.value), e.kv.modRevision])).toEqual([
      ['v3', 4],
      ['v4', 5],
      ['v5', 6],
    ]);
    await store.close();
  });

  test('a large txn is one batch, whatever the batch bound', async () => {
    const store = await MvccStore.open((await freshBackend('memory')).backend, {
      watch: { maxEventsPerBatch: 4 },
    });
    const got: WatchBatch[] = [];
    store.watch({ key: enc('a'), rangeEnd: enc('z') }, (b) => {
      got.push(b);
    });
    const success = 'abcdefghij'.split('').map((k) => ({ requestPut: { key: enc(k), value: enc(k) } }));
    await store.txn({ success }, { index: 1 });
    await sleep(10);
    expect(got.map((b) => b.events.length)).toEqual([10]);
    await store.close();
  });

  test('catch-up batches hold the matching events of up to 1000 revisions, as etcd frames them', async () => {
    const store = await MvccStore.open((await freshBackend('level')).backend);
    let index = 1;
    for (let i = 0; i < 1500; i++) {
      await store.put({ key: enc(`f/${String(i).padStart(4, '0')}`), value: enc('v') }, { index: index++ });
      if (i % 3 === 0) await store.put({ key: enc(`other/${i}`), value: enc('o') }, { index: index++ });
    }
    await store.deleteRange({ key: enc('f/'), rangeEnd: enc('f0') }, { index: index++ });
    await store.flush();
    const batches: WatchBatch[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    let seen = 0;
    store.watch({ key: enc('f/'), rangeEnd: enc('f0'), startRevision: 1 }, (b) => {
      batches.push(b);
      seen += b.events.length;
      if (seen === 3000) done();
    });
    await all;
    // 1000 put revisions (other/ revisions in between do not count), then 500 puts + the delete's 1500.
    expect(batches.map((b) => b.events.length)).toEqual([1000, 2000]);
    const firstRevs = new Set(batches[0]!.events.map((e) => e.kv.modRevision));
    expect(firstRevs.size).toBe(1000);
    expect(batches[0]!.revision).toBe(batches[1]!.events[0]!.kv.modRevision - 1);
    await store.close();
  });

  test('thousands of single-key watchers each get exactly their key', async () => {
    const store = await MvccStore.open((await freshBackend('memory')).backend);
    const seen = new Map<string, number[]>();
    const KEYS_N = 2000;
    for (let i = 0; i < KEYS_N; i++) {
      const k = `w${i}`;
      seen.set(k, []);
      store.watch({ key: enc(k) }, (b) => {
        seen.get(k)!.push(...b.events.map((e) => e.kv.modRevision));
      });
    }
    const ranged: number[] = [];
    store.watch({ key: enc('w1'), rangeEnd: enc('w2') }, (b) => {
      ranged.push(...b.events.map((e) => e.kv.modRevision));
    });
    const t0 = Date.now();
    for (let i = 0; i < 3 * KEYS_N; i++) {
      await store.put({ key: enc(`w${(i * 7) % KEYS_N}`), value: enc('v') }, { index: i + 1 });
    }
    expect(Date.now() - t0).toBeLessThan(20_000);
    await sleep(20);
    for (let i = 0; i < KEYS_N; i++) {
      const want = [0, 1, 2].map((round) => 2 + round * KEYS_N + ((i * 1143) % KEYS_N));
      // 7 * 1143 = 8001 = 1 mod 2000, so key w_i is written at steps i*1143 mod 2000 of each round.
      expect(seen.get(`w${i}`)).toEqual(want);
    }
    const inRange = [...seen.keys()].filter((k) => k >= 'w1' && k < 'w2').length;
    expect(ranged.length).toBe(3 * inRange);
    await store.close();
  });

  test('writers never wait for a stuck consumer', async () => {
    const store = await MvccStore.open((await freshBackend('memory')).backend, {
      watch: { maxQueuedBatches: 8 },
    });
    let release!: () => void;
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    const seen: number[] = [];
    store.watch({ key: enc('k') }, (b) => {
      seen.push(...b.events.map((e) => e.kv.modRevision));
      return stuck;
    });
    const t0 = Date.now();
    for (let i = 1; i <= 500; i++) await store.put({ key: enc('k'), value: enc(`${i}`) }, { index: i });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(seen.length).toBeLessThan(500);
    release();
    const deadline = Date.now() + 5000;
    while (seen.length < 500 && Date.now() < deadline) await sleep(5);
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i + 2));
    await store.close();
  });
});
