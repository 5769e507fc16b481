import { afterAll, describe, expect, it } from 'vitest';
import { ByteSlab, isPartialView } from '../src/byte-slab.js';
import { MvccStore, openBackend } from '../src/index.js';
import { dec, ENGINES, enc, removeTempDirs, tempDir } from './helpers/engines.js';

afterAll(removeTempDirs);

describe('ByteSlab', () => {
  it('hands out disjoint views of shared chunks and never writes a handed-out byte again', () => {
    const slab = new ByteSlab(64, 16);
    const got: { view: Uint8Array; fill: number }[] = [];
    for (let i = 0; i < 40; i++) {
      const n = (i * 7) % 17; // 0..16 bytes: some fill a chunk's tail exactly, some do not fit it
      const view = slab.alloc(n);
      expect(view.length).toBe(n);
      expect(view.every((b) => b === 0)).toBe(true);
      view.fill(i + 1);
      got.push({ view, fill: i + 1 });
    }
    for (const { view, fill } of got) expect(view.every((b) => b === fill)).toBe(true);
    // Views of one chunk share its buffer; a chunk holds at most 64 bytes.
    const buffers = new Set(got.filter((g) => g.view.length > 0).map((g) => g.view.buffer));
    for (const b of buffers) expect(b.byteLength).toBe(64);
    expect(buffers.size).toBeGreaterThan(1);
  });

  it('gives a request above the shared limit a buffer of its own', () => {
    const slab = new ByteSlab(64, 16);
    const small = slab.alloc(8);
    const big = slab.alloc(17);
    expect(isPartialView(small)).toBe(true);
    expect(isPartialView(big)).toBe(false);
    expect(big.buffer.byteLength).toBe(17);
  });
});

// Every engine: the memory engine keeps what a batch gives it, the disk engines copy.
describe.each(ENGINES)('a put owns its key and value (%s)', (engine) => {
  it('keeps them intact when the request buffer is reused, in events, ranges and after commit', async () => {
    const path = await tempDir(`slab-${engine}`);
    const store = await MvccStore.open(await openBackend({ engine, path }));
    try {
      // One request buffer, reused for every put (as a decoder's slab or a socket buffer may be).
      const req = new Uint8Array(64);
      const events: string[] = [];
      store.watch({ key: enc('k'), rangeEnd: enc('l') }, (b) => {
        for (const e of b.events) events.push(`${dec(e.kv.key)}=${dec(e.kv.value)}`);
      });
      const results = [];
      for (let i = 0; i < 3; i++) {
        req.fill(0);
        req.set(enc(`k${i}`), 0);
        req.set(enc(`value-${i}`), 8);
        const r = await store.put({ key: req.subarray(0, 2), value: req.subarray(8, 15) }, { index: i + 1 });
        results.push(r);
      }
      req.fill(0x7a);
      expect(results.flatMap((r) => r.events.map((e) => `${dec(e.kv.key)}=${dec(e.kv.value)}`))).toEqual([
        'k0=value-0',
        'k1=value-1',
        'k2=value-2',
      ]);
      const read = async () =>
        (await store.range({ key: enc('k'), rangeEnd: enc('l') })).kvs.map(
          (kv) => `${dec(kv.key)}=${dec(kv.value)}`,
        );
      expect(await read()).toEqual(['k0=value-0', 'k1=value-1', 'k2=value-2']);
      await store.flush();
      expect(await read()).toEqual(['k0=value-0', 'k1=value-1', 'k2=value-2']);
      await new Promise((r) => setTimeout(r, 20));
      expect(events).toEqual(['k0=value-0', 'k1=value-1', 'k2=value-2']);
    } finally {
      await store.close();
    }
  });
});

describe('the memory engine', () => {
  it('stores a copy of a value that is a view into a shared chunk, not the chunk', async () => {
    const backend = await openBackend({ engine: 'memory', path: await tempDir('slab-memory') });
    const slab = new ByteSlab(1024, 256);
    const value = slab.alloc(5);
    value.set(enc('hello'));
    const b = backend.batch();
    b.put('key', enc('a'), value);
    await b.commit();
    const stored = await backend.get('key', enc('a'));
    expect(dec(stored!)).toBe('hello');
    expect(stored!.buffer.byteLength).toBe(5);
    await backend.close();
  });
});
