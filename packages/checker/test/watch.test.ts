// Watch checks against a fixed KV history: a correct watch passes, each kind of broken watch is caught.
import { describe, expect, it } from 'vitest';
import { checkHistory, type WatchEvent, type WatchRecord } from '../src/index.js';
import { del, HistoryBuilder, kv, put, putOk } from './builder.js';

// Revisions: 2 a=1, 3 b=1, 4 a=2, 5 del a, 6 a=3 (b is outside the watched key 'a').
function history() {
  return new HistoryBuilder()
    .op(0, 0, 10, put('a', '1'), putOk(2))
    .op(0, 20, 30, put('b', '1'), putOk(3))
    .op(1, 40, 50, put('a', '2'), putOk(4))
    .op(1, 60, 70, del('a'), { type: 'delete', revision: 5, deleted: 1 })
    .op(0, 80, 90, put('a', '3'), putOk(6));
}

const e = {
  a1: { type: 'put', kv: kv('a', '1', 2, 2, 1) } as WatchEvent,
  a2: { type: 'put', kv: kv('a', '2', 2, 4, 2), prevKv: kv('a', '1', 2, 2, 1) } as WatchEvent,
  delA: { type: 'delete', kv: kv('a', '', 0, 5, 0), prevKv: kv('a', '2', 2, 4, 2) } as WatchEvent,
  a3: { type: 'put', kv: kv('a', '3', 6, 6, 1) } as WatchEvent,
};

function watch(responses: WatchRecord['responses'], extra: Partial<WatchRecord> = {}): WatchRecord {
  return { id: 'w', key: 'a', startRevision: 2, prevKv: true, responses, untilRevision: 6, ...extra };
}

function problems(w: WatchRecord) {
  const r = checkHistory(history().watch(w).file());
  return r.watches.problems.map((p) => p.kind);
}

describe('watch checks', () => {
  it('accepts a complete watch, in batches, with progress notifications', () => {
    const r = checkHistory(
      history()
        .watch(
          watch([
            { events: [e.a1] },
            { progressRevision: 3 },
            { events: [e.a2, e.delA] },
            { events: [e.a3] },
          ]),
        )
        .watch({
          id: 'all',
          key: 'a',
          rangeEnd: '\u0000',
          startRevision: 3,
          prevKv: false,
          responses: [{ events: [{ type: 'put', kv: kv('b', '1', 3, 3, 1) }, e.a2, e.delA, e.a3] }],
          untilRevision: 6,
        })
        .file(),
    );
    expect(r.watches.problems).toEqual([]);
    expect(r.watches).toMatchObject({ checked: 2, events: 8 });
    expect(r.verdict).toBe('ok');
  });

  it('catches a missing event', () => {
    expect(problems(watch([{ events: [e.a1, e.delA, e.a3] }]))).toEqual(['missing-event']);
  });

  it('catches a missing event at the end (the watch was open until revision 6)', () => {
    expect(problems(watch([{ events: [e.a1, e.a2, e.delA] }]))).toEqual(['missing-event']);
  });

  it('catches a duplicated event', () => {
    expect(problems(watch([{ events: [e.a1, e.a2] }, { events: [e.a2, e.delA, e.a3] }]))).toEqual([
      'duplicate',
    ]);
  });

  it('catches events out of order', () => {
    expect(problems(watch([{ events: [e.a1, e.delA, e.a2, e.a3] }]))).toEqual(['out-of-order']);
  });

  it('catches a wrong prev_kv', () => {
    const bad = { ...e.delA, prevKv: kv('a', '1', 2, 2, 1) };
    expect(problems(watch([{ events: [e.a1, e.a2, bad, e.a3] }]))).toEqual(['wrong-prev-kv']);
  });

  it('excuses a missing prev_kv only where a compaction may have removed it before delivery', () => {
    // etcd reads prev_kv at revision modRevision - 1 when it sends the event and leaves it out once a
    // compaction passed that revision (etcd-io/etcd#10681): the delete at 5 reads revision 4.
    const { prevKv: _, ...delNoPrev } = e.delA;
    const w = watch([{ events: [e.a1, e.a2, delNoPrev as WatchEvent, e.a3] }]);
    const check = (compactions?: number[]) =>
      checkHistory({ ...history().watch(w).file(), compactions }).watches.problems.map((p) => p.kind);
    expect(check()).toEqual(['wrong-prev-kv']);
    expect(check([4])).toEqual(['wrong-prev-kv']); // revision 4 itself is still readable
    expect(check([5])).toEqual([]);
    expect(check([3, 6])).toEqual([]);
    // A compaction never excuses a wrong prev_kv, only a missing one.
    const wrong = { ...e.delA, prevKv: kv('a', '1', 2, 2, 1) };
    const w2 = watch([{ events: [e.a1, e.a2, wrong, e.a3] }]);
    expect(
      checkHistory({ ...history().watch(w2).file(), compactions: [6] }).watches.problems.map((p) => p.kind),
    ).toEqual(['wrong-prev-kv']);
  });

  it('catches an event with the wrong value and one that never happened', () => {
    const wrong = { ...e.a2, kv: kv('a', 'X', 2, 4, 2) };
    const ghost = { type: 'put', kv: kv('a', 'ghost', 2, 3, 2) } as WatchEvent;
    expect(problems(watch([{ events: [e.a1, ghost, wrong, e.delA, e.a3] }]))).toEqual([
      'unexpected-event',
      'wrong-event',
    ]);
  });

  it('catches a progress notification ahead of events still to come', () => {
    expect(
      problems(watch([{ events: [e.a1] }, { progressRevision: 5 }, { events: [e.a2, e.delA, e.a3] }])),
    ).toEqual(['progress-ahead', 'progress-ahead', 'progress-ahead', 'progress-ahead']);
  });

  it('accepts ErrCompacted after a gap-free prefix, rejects a gap before it', () => {
    const compacted = { canceled: { compactRevision: 5 }, untilRevision: undefined };
    expect(problems(watch([{ events: [e.a1] }], compacted))).toEqual([]);
    expect(problems(watch([{ events: [e.a1, e.delA] }], compacted))).toEqual(['missing-event']);
  });

  it('checks no prev_kv when the watch did not ask for it', () => {
    const plain = [e.a1, e.a2, e.delA, e.a3].map((x) => ({ type: x.type, kv: x.kv }));
    expect(problems(watch([{ events: plain }], { prevKv: false }))).toEqual([]);
  });
});

describe('watches place unknown-outcome writes', () => {
  // Two writes time out; revisions 2 and 3 are filled by them in an order only the watch reveals.
  const base = () =>
    new HistoryBuilder()
      .op(0, 0, 10, put('a', 'x'), null)
      .op(1, 0, 10, put('a', 'y'), null)
      .op(2, 100, 110, put('b', '1'), putOk(4));
  const record = (first: string, second: string): WatchRecord => ({
    id: 'w',
    key: 'a',
    startRevision: 2,
    prevKv: false,
    untilRevision: 4,
    responses: [
      { events: [{ type: 'put', kv: kv('a', first, 2, 2, 1) }] },
      { events: [{ type: 'put', kv: kv('a', second, 2, 3, 2) }] },
    ],
  });

  it('both orders are accepted: the watch decides which one happened', () => {
    for (const [f, s] of [
      ['x', 'y'],
      ['y', 'x'],
    ] as const) {
      const r = checkHistory(base().watch(record(f, s)).file());
      expect(r.watches.problems).toEqual([]);
      expect(r.verdict).toBe('ok');
    }
  });

  it('a watch that contradicts every linearization is reported as a watch problem', () => {
    const r = checkHistory(base().watch(record('x', 'x')).file());
    expect(r.linearizability.verdict).toBe('ok');
    expect(r.linearizability.note).toMatch(/watches/);
    expect(r.verdict).toBe('violation');
    expect(r.watches.problems.length).toBeGreaterThan(0);
  });
});
