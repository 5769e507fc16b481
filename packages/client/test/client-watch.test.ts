/** KvClient watch against kv-server and etcd: live and historical events, resumption after a broken stream, compaction. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompactedError, KvClient, toText, type Watcher, type WatchResponse } from '../src/index.js';
import { SERVER_KINDS, startServer, type TestServer } from './servers.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';

describe.each(SERVER_KINDS)('KvClient watch against %s', (kind) => {
  let server: TestServer;
  let client: KvClient;
  beforeAll(async () => {
    server = await startServer(kind);
    client = server.client();
  });
  afterAll(() => server?.destroy());

  /** "PUT key=value" / "DELETE key" lines for the events of some responses. */
  function describeEvents(responses: WatchResponse[]): string[] {
    return responses.flatMap((r) =>
      r.events.map((e) =>
        e.type === 0
          ? `PUT ${toText(e.kv?.key ?? new Uint8Array())}=${toText(e.kv?.value ?? new Uint8Array())}`
          : `DELETE ${toText(e.kv?.key ?? new Uint8Array())}`,
      ),
    );
  }

  /** Collects events from a watcher until `n` events arrived. */
  async function take(w: Watcher, n: number): Promise<string[]> {
    const got: WatchResponse[] = [];
    for await (const res of w) {
      got.push(res);
      if (describeEvents(got).length >= n) break;
    }
    return describeEvents(got);
  }

  describe('KvClient watch', () => {
    it('delivers live events for a prefix, with prev_kv, via iterator and events', async () => {
      const w = await client.watch('live/', { prefix: true, prevKv: true });
      const emitted: WatchResponse[] = [];
      w.on('response', (r: WatchResponse) => emitted.push(r));
      const events = take(w, 3);
      await client.put('live/a', '1');
      await client.put('other', 'x');
      await client.put('live/a', '2');
      await client.delete('live/a');
      expect(await events).toEqual(['PUT live/a=1', 'PUT live/a=2', 'DELETE live/a']);
      expect(describeEvents(emitted)).toEqual(['PUT live/a=1', 'PUT live/a=2', 'DELETE live/a']);
      const prev = emitted.flatMap((r) => r.events).map((e) => toText(e.prevKv?.value ?? new Uint8Array()));
      expect(prev).toEqual(['', '1', '2']);
    });

    it('replays history from a start revision and honours filters', async () => {
      const rev = (await client.put('hist', 'a')).header?.revision ?? 0;
      await client.put('hist', 'b');
      await client.delete('hist');
      const all = await client.watch('hist', { startRevision: rev });
      expect(await take(all, 3)).toEqual(['PUT hist=a', 'PUT hist=b', 'DELETE hist']);
      const noPut = await client.watch('hist', { startRevision: rev, noPut: true });
      expect(await take(noPut, 1)).toEqual(['DELETE hist']);
    });

    it('resumes from the last delivered revision after the stream breaks', async () => {
      const proxy: TcpProxy = await startProxy(server.endpoint.replace('http://', ''));
      const viaProxy = new KvClient({ endpoints: [`http://${proxy.address}`], dialTimeoutMs: 2000 });
      try {
        const w = await viaProxy.watch('rc/', { prefix: true });
        let disconnects = 0;
        let reconnects = 0;
        w.on('disconnected', () => disconnects++);
        w.on('connected', () => reconnects++);
        const events = take(w, 6);
        await client.put('rc/1', 'a');
        await client.put('rc/2', 'b');
        await new Promise((r) => setTimeout(r, 200));
        proxy.cutAll();
        // Written while the watcher is disconnected: must arrive after the resume, exactly once.
        await client.put('rc/3', 'c');
        await client.put('rc/4', 'd');
        await new Promise((r) => setTimeout(r, 300));
        await client.put('rc/5', 'e');
        await client.delete('rc/1');
        expect(await events).toEqual([
          'PUT rc/1=a',
          'PUT rc/2=b',
          'PUT rc/3=c',
          'PUT rc/4=d',
          'PUT rc/5=e',
          'DELETE rc/1',
        ]);
        expect(disconnects).toBeGreaterThanOrEqual(1);
        expect(reconnects).toBeGreaterThanOrEqual(1);
      } finally {
        viaProxy.close();
        await proxy.close();
      }
    });

    it('surfaces compaction as CompactedError with the compact revision', async () => {
      const first = (await client.put('cmp', '1')).header?.revision ?? 0;
      await client.put('cmp', '2');
      const third = (await client.put('cmp', '3')).header?.revision ?? 0;
      await client.compact(third);
      const w = await client.watch('cmp', { startRevision: first });
      const err = await take(w, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CompactedError);
      expect((err as CompactedError).compactRevision).toBe(third);
      // The watch is over: nothing more is delivered, and iterating again rethrows the same error.
      await expect(take(w, 1)).rejects.toBe(err);
    });

    it('rejects a watch that cannot be established', async () => {
      const dead = new KvClient({ endpoints: ['http://127.0.0.1:1'], dialTimeoutMs: 300 });
      try {
        await expect(dead.watch('x')).rejects.toThrow('context deadline exceeded');
      } finally {
        dead.close();
      }
    });

    it('stops delivering after cancel', async () => {
      const w = await client.watch('cancel-me');
      w.cancel();
      await client.put('cancel-me', 'x');
      const got: WatchResponse[] = [];
      for await (const r of w) got.push(r);
      expect(got).toEqual([]);
    });
  });
});
