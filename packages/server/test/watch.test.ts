import type { WatchResponse } from '@kv/client/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedServer, startServer } from '../src/index.js';
import { b, call, collectWatch, connect, s } from './helpers.js';

const events = (all: WatchResponse[], id: bigint) =>
  all
    .filter((r) => r.watchId === id)
    .flatMap((r) => r.events.map((e) => `${e.type}:${s(e.kv!.key)}=${s(e.kv!.value)}@${e.kv!.modRevision}`));

describe('Watch over gRPC', () => {
  let srv: StartedServer;
  let c: ReturnType<typeof connect>;
  beforeAll(async () => {
    srv = await startServer();
    c = connect(srv.address);
  });
  afterAll(async () => {
    c.close();
    await srv.close();
  });

  it('replays history from a revision, then streams live events, with prev_kv', async () => {
    await call(c.kv, 'put', { key: b('w/a'), value: b('1') }); // rev 2
    await call(c.kv, 'put', { key: b('w/a'), value: b('2') }); // rev 3
    await call(c.kv, 'deleteRange', { key: b('w/a') }); // rev 4
    const stream = c.watch.watch();
    stream.write({ createRequest: { key: b('w/'), rangeEnd: b('w0'), startRevision: 2, prevKv: true } });
    const history = collectWatch(stream, (all) => events(all, 0n).length >= 3);
    const got = await history;
    expect(got[0]!.created).toBe(true);
    expect(events(got, 0n)).toEqual(['0:w/a=1@2', '0:w/a=2@3', '1:w/a=@4']);
    const withPrev = got.flatMap((r) => r.events).find((e) => e.type === 1)!;
    expect(s(withPrev.prevKv!.value)).toBe('2');
    const live = collectWatch(stream, (all) => events(all, 0n).length >= 1);
    await call(c.kv, 'put', { key: b('w/b'), value: b('live') });
    await call(c.kv, 'put', { key: b('other'), value: b('ignored') });
    expect(events(await live, 0n)).toEqual(['0:w/b=live@5']);
    stream.end();
  });

  it('multiplexes watchers on one stream, honours filters and cancels', async () => {
    const stream = c.watch.watch();
    const created = collectWatch(stream, (all) => all.filter((r) => r.created).length >= 2);
    stream.write({ createRequest: { key: b('m1') } });
    stream.write({ createRequest: { key: b('m2'), filters: [0] } }); // NOPUT
    const ids = (await created).map((r) => r.watchId);
    expect(new Set(ids).size).toBe(2);
    const evs = collectWatch(stream, (all) => all.some((r) => r.events.some((e) => e.type === 1)));
    await call(c.kv, 'put', { key: b('m1'), value: b('x') });
    await call(c.kv, 'put', { key: b('m2'), value: b('y') });
    await call(c.kv, 'deleteRange', { key: b('m2') });
    const all = await evs;
    expect(events(all, ids[0]!)).toHaveLength(1);
    expect(all.filter((r) => r.watchId === ids[1]).flatMap((r) => r.events.map((e) => e.type))).toEqual([1]);
    const canceled = collectWatch(stream, (rs) => rs.some((r) => r.canceled));
    stream.write({ cancelRequest: { watchId: ids[0] } });
    const cancel = (await canceled).find((r) => r.canceled)!;
    expect(cancel.watchId).toBe(ids[0]);
    const progress = collectWatch(stream, (rs) => rs.some((r) => r.watchId === -1n));
    stream.write({ progressRequest: {} });
    expect((await progress).find((r) => r.watchId === -1n)!.header!.revision).toBeGreaterThan(0);
    stream.end();
  });

  it('keeps a client-chosen watch id above 2^53 exact in created, event and cancel responses', async () => {
    const stream = c.watch.watch();
    // 2^60 + 1 and 2^60 are the same JS number: a rounded id would name the other watcher.
    const id = 2n ** 60n + 1n;
    const created = collectWatch(stream, (all) => all.filter((r) => r.created).length >= 2);
    stream.write({ createRequest: { key: b('big-a'), watchId: id } });
    stream.write({ createRequest: { key: b('big-b'), watchId: id - 1n } });
    expect((await created).map((r) => r.watchId)).toEqual([id, id - 1n]);
    const evs = collectWatch(stream, (all) => all.some((r) => r.events.length > 0));
    await call(c.kv, 'put', { key: b('big-a'), value: b('x') });
    expect((await evs).find((r) => r.events.length > 0)!.watchId).toBe(id);
    const canceled = collectWatch(stream, (rs) => rs.some((r) => r.canceled));
    stream.write({ cancelRequest: { watchId: id } });
    expect((await canceled).find((r) => r.canceled)!.watchId).toBe(id);
    const after = collectWatch(stream, (all) => all.some((r) => r.events.length > 0));
    await call(c.kv, 'put', { key: b('big-a'), value: b('y') });
    await call(c.kv, 'put', { key: b('big-b'), value: b('z') });
    expect((await after).filter((r) => r.events.length > 0).map((r) => r.watchId)).toEqual([id - 1n]);
    stream.end();
  });

  it('cancels a watcher whose start revision was compacted', async () => {
    await call(c.kv, 'put', { key: b('cw'), value: b('1') });
    const r = await call(c.kv, 'put', { key: b('cw'), value: b('2') });
    await call(c.kv, 'compact', { revision: r.header.revision });
    const stream = c.watch.watch();
    const got = collectWatch(stream, (all) => all.some((x) => x.canceled));
    stream.write({ createRequest: { key: b('cw'), startRevision: 1 } });
    const canceled = (await got).find((x) => x.canceled)!;
    expect(canceled.compactRevision).toBe(r.header.revision);
    stream.end();
  });
});
