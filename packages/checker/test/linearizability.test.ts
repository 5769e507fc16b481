// Hand-made histories: each known-wrong one must be caught, each known-good one accepted.
import { describe, expect, it } from 'vitest';
import { checkHistory, type HistoryFile, parseHistory, stringifyHistory } from '../src/index.js';
import { del, get, getOk, HistoryBuilder, kv, put, putOk } from './builder.js';

function verdict(h: HistoryFile, model: 'global' | 'per-key' = 'global') {
  // Round-trip through the file format on the way, so the format is exercised by every case.
  return checkHistory(parseHistory(stringifyHistory(h)), { model, minimizeMs: 2_000 });
}

describe('known-wrong histories are caught', () => {
  it('a stale read (old value after a newer write completed)', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(0, 20, 30, put('a', '2'), putOk(3))
      .op(1, 40, 50, get('a'), getOk(2, kv('a', '1', 2, 2, 1)))
      .file();
    const r = verdict(h);
    expect(r.verdict).toBe('violation');
    expect(r.violation!.stuck).toBe(2);
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('a lost write (acknowledged, then absent)', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(1, 20, 30, get('a'), getOk(2))
      .file();
    expect(verdict(h).verdict).toBe('violation');
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('two values at one revision', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(1, 0, 10, put('b', '1'), putOk(2))
      .file();
    expect(verdict(h).verdict).toBe('violation');
    // The trade-off of per-key checking: revision anomalies across keys are invisible to it.
    expect(verdict(h, 'per-key').verdict).toBe('ok');
  });

  it('a read that observes a write which failed', () => {
    const h = new HistoryBuilder()
      .fail(0, 0, 10, put('a', '1'))
      .op(1, 20, 30, get('a'), getOk(2, kv('a', '1', 2, 2, 1)))
      .file();
    expect(verdict(h).verdict).toBe('violation');
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('a txn whose compare was misevaluated', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(
        1,
        20,
        30,
        {
          type: 'txn',
          compare: [{ key: 'a', target: 'value', result: '=', operand: '1' }],
          success: [put('a', '2') as { type: 'put'; key: string; value: string }],
          failure: [],
        },
        { type: 'txn', revision: 2, succeeded: false, results: [] },
      )
      .file();
    expect(verdict(h).verdict).toBe('violation');
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('a txn on mod revision that succeeded although the revision had moved on', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(0, 20, 30, put('a', '2'), putOk(3))
      .op(
        1,
        40,
        50,
        {
          type: 'txn',
          compare: [{ key: 'a', target: 'mod', result: '=', operand: 2 }],
          success: [{ type: 'put', key: 'a', value: '3' }],
          failure: [{ type: 'get', key: 'a' }],
        },
        { type: 'txn', revision: 4, succeeded: true, results: [{ type: 'put' }] },
      )
      .file();
    expect(verdict(h).verdict).toBe('violation');
  });

  it('a wrong version or create revision', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', '1'), putOk(2))
      .op(0, 20, 30, put('a', '2'), putOk(3))
      .op(1, 40, 50, get('a'), getOk(3, kv('a', '2', 3, 3, 1)))
      .file();
    expect(verdict(h).verdict).toBe('violation');
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('a key attached to a revoked lease that is still readable', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, { type: 'leaseGrant', ttl: 600 }, { type: 'leaseGrant', revision: 1, id: '7587' })
      .op(0, 20, 30, put('a', '1', '7587'), putOk(2))
      .op(0, 40, 50, { type: 'leaseRevoke', id: '7587' }, { type: 'leaseRevoke', revision: 3 })
      .op(1, 60, 70, get('a'), getOk(3, { ...kv('a', '1', 2, 2, 1), lease: '7587' }))
      .file();
    expect(verdict(h).verdict).toBe('violation');
    expect(verdict(h, 'per-key').verdict).toBe('violation');
  });

  it('a put with a lease that was never granted', () => {
    const h = new HistoryBuilder().op(0, 0, 10, put('a', '1', '99'), putOk(2)).file();
    expect(verdict(h).verdict).toBe('violation');
  });
});

describe('known-good histories are accepted', () => {
  it('concurrent overlapping puts and reads', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 100, put('a', '1'), putOk(3))
      .op(1, 10, 90, put('a', '2'), putOk(2))
      .op(2, 20, 30, get('a'), getOk(1))
      .op(2, 40, 95, get('a'), getOk(2, kv('a', '2', 2, 2, 1)))
      .op(3, 50, 120, get('a'), getOk(3, kv('a', '1', 2, 3, 2)))
      .op(3, 130, 140, del('a'), { type: 'delete', revision: 4, deleted: 1 })
      .op(3, 150, 160, del('a'), { type: 'delete', revision: 4, deleted: 0 })
      .file();
    const r = verdict(h);
    expect(r.verdict).toBe('ok');
    expect(r.operations).toMatchObject({ total: 7, ok: 7, unknown: 0 });
    expect(verdict(h, 'per-key').verdict).toBe('ok');
  });

  it('unknown outcomes: one took effect (seen later), one never did', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', 'x'), null) // timed out, but applied
      .op(1, 5, 15, put('b', 'never'), null) // timed out, never applied
      .op(2, 100, 110, get('a'), getOk(2, kv('a', 'x', 2, 2, 1)))
      .op(2, 120, 130, get('b'), getOk(2))
      .file();
    const r = verdict(h);
    expect(r.verdict).toBe('ok');
    expect(r.operations.unknown).toBe(2);
  });

  it('an unknown write that takes effect long after its call', () => {
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', 'late'), null)
      .op(1, 20, 30, get('a'), getOk(1))
      .op(1, 40, 50, put('a', 'w'), putOk(2))
      .op(1, 60, 70, get('a'), getOk(3, kv('a', 'late', 2, 3, 2)))
      .file();
    expect(verdict(h).verdict).toBe('ok');
  });

  it('a txn with reads of its own writes, compares on create and version, and a lease lifecycle', () => {
    const h = new HistoryBuilder()
      .op(
        0,
        0,
        10,
        {
          type: 'txn',
          compare: [{ key: 'a', target: 'create', result: '=', operand: 0 }],
          success: [
            { type: 'put', key: 'a', value: '1' },
            { type: 'put', key: 'b', value: '1' },
            { type: 'get', key: 'a' },
          ],
          failure: [],
        },
        {
          type: 'txn',
          revision: 2,
          succeeded: true,
          results: [{ type: 'put' }, { type: 'put' }, { type: 'get', kvs: [kv('a', '1', 2, 2, 1)] }],
        },
      )
      .op(
        1,
        20,
        30,
        {
          type: 'txn',
          compare: [{ key: 'a', target: 'version', result: '>', operand: 1 }],
          success: [{ type: 'delete', key: 'a' }],
          failure: [{ type: 'get', key: 'b' }],
        },
        {
          type: 'txn',
          revision: 2,
          succeeded: false,
          results: [{ type: 'get', kvs: [kv('b', '1', 2, 2, 1)] }],
        },
      )
      .op(
        0,
        40,
        50,
        { type: 'leaseGrant', ttl: 600 },
        { type: 'leaseGrant', revision: 2, id: '12345678901234567' },
      )
      .op(0, 60, 70, put('c', '1', '12345678901234567'), putOk(3))
      .op(0, 80, 90, { type: 'leaseRevoke', id: '12345678901234567' }, { type: 'leaseRevoke', revision: 4 })
      .op(1, 100, 110, get('c'), getOk(4))
      .file();
    expect(verdict(h).verdict).toBe('ok');
    expect(verdict(h, 'per-key').verdict).toBe('ok');
  });

  it('a history that starts from existing data', () => {
    const h = new HistoryBuilder().op(0, 0, 10, get('a'), getOk(7, kv('a', 'old', 5, 7, 3))).file({
      revision: 7,
      kvs: [kv('a', 'old', 5, 7, 3)],
    });
    expect(verdict(h).verdict).toBe('ok');
  });
});

describe('serializable reads (the weaker check)', () => {
  const base = () =>
    new HistoryBuilder().op(0, 0, 10, put('a', '1'), putOk(2)).op(0, 20, 30, put('a', '2'), putOk(3));

  it('accepts a stale serializable read', () => {
    const h = base()
      .op(1, 40, 50, get('a', true), getOk(2, kv('a', '1', 2, 2, 1)))
      .file();
    const r = verdict(h);
    expect(r.verdict).toBe('ok');
    expect(r.serializable.checked).toBe(1);
  });

  it('rejects a value the key never held', () => {
    const h = base()
      .op(1, 40, 50, get('a', true), getOk(3, kv('a', '9', 2, 2, 1)))
      .file();
    expect(verdict(h).serializable.problems).toHaveLength(1);
    expect(verdict(h).verdict).toBe('violation');
  });

  it('rejects a read older than what the same process already saw', () => {
    const h = base()
      .op(1, 40, 50, get('a'), getOk(3, kv('a', '2', 2, 3, 2)))
      .op(1, 60, 70, get('a', true), getOk(2, kv('a', '1', 2, 2, 1)))
      .file();
    expect(verdict(h).verdict).toBe('violation');
  });

  it('a serializable read decides which unknown write took which revision', () => {
    // Two timed-out puts fill revisions 2 and 3; only the serializable read says a=x came second.
    const h = new HistoryBuilder()
      .op(0, 0, 10, put('a', 'x'), null)
      .op(1, 0, 10, put('b', 'y'), null)
      .op(2, 100, 110, put('c', '1'), putOk(4))
      .op(3, 115, 118, get('c'), getOk(4, kv('c', '1', 4, 4, 1)))
      .op(3, 120, 130, get('a', true), getOk(4, kv('a', 'x', 3, 3, 1)))
      .file();
    const r = verdict(h);
    expect(r.serializable.problems).toEqual([]);
    expect(r.verdict).toBe('ok');
  });

  it('rejects a revision the store never reached', () => {
    const h = base()
      .op(1, 40, 50, get('a', true), getOk(9, kv('a', '2', 2, 3, 2)))
      .file();
    expect(verdict(h).verdict).toBe('violation');
  });
});

describe('reports', () => {
  it('shrinks a long failing history and draws the stuck operation', () => {
    const b = new HistoryBuilder();
    let t = 0;
    for (let i = 0; i < 150; i++) {
      b.op(i % 3, t, t + 5, put(`k${i % 4}`, `v${i}`), putOk(i + 2));
      t += 10;
    }
    // k1 was last written by i = 149 (revision 151): returning v141 (revision 143) is stale.
    b.op(5, t, t + 5, get('k1'), getOk(151, kv('k1', 'v141', 3, 143, 36)));
    const r = checkHistory(b.file(), { minimizeMs: 10_000 });
    expect(r.verdict).toBe('violation');
    expect(r.violation!.stuck).toBe(150);
    expect(r.violation!.subHistory.length).toBeLessThan(10);
    expect(r.violation!.subHistory.map((o) => o.id)).toContain(150);
    expect(r.violation!.svg).toMatch(/^<svg[^>]*>/);
    expect(r.violation!.svg).toContain('#f8c0c0'); // the highlighted box
    expect(r.violation!.text.some((l) => l.includes('get k1'))).toBe(true);
  });

  it('answers unknown instead of hanging when the budget runs out', () => {
    const b = new HistoryBuilder();
    // Many concurrent unknown writes: a huge search space, and a read nothing can explain.
    for (let p = 0; p < 40; p++) b.op(p, 0, 1, put('a', `v${p}`), null);
    b.op(100, 10, 20, get('a'), getOk(50, kv('a', 'nope', 2, 50, 49)));
    const r = checkHistory(b.file(), { maxStates: 5_000, minimizeMs: 0 });
    expect(r.verdict).toBe('unknown');
    expect(r.linearizability.reason).toContain('5000');
  });

  it('when the global search runs out of budget, a violation on one key is still found per key', () => {
    const b = new HistoryBuilder();
    // Unknown writes to `a` make the global search's space explode (each may take any revision);
    // `b` has a stale read that a search of `b` alone rejects at once.
    for (let p = 0; p < 40; p++) b.op(p, 0, 100, put('a', `v${p}`), null);
    b.op(50, 10, 20, put('b', '1'), putOk(2))
      .op(50, 30, 40, put('b', '2'), putOk(3))
      .op(51, 50, 60, get('b'), getOk(3, kv('b', '1', 2, 2, 1)));
    const r = checkHistory(b.file(), { maxStates: 5_000, minimizeMs: 0 });
    expect(r.verdict).toBe('violation');
    expect(r.linearizability.model).toBe('global');
    expect(r.linearizability.note).toMatch(
      /global search: explored 5000 states; the violation was found per key/,
    );
    expect(r.violation!.subHistory.every((o) => o.request.type !== 'put' || o.request.key === 'b')).toBe(
      true,
    );
  });

  it('refuses a malformed history', () => {
    expect(() => parseHistory('{"format":"x","events":[]}')).toThrow(/kv-history\/1/);
    const bad = new HistoryBuilder().file();
    bad.events.push({ type: 'ok', process: 1, time: 5, response: putOk(2) });
    expect(() => checkHistory(bad)).toThrow(/without an invoke/);
  });
});
