/**
 * The registry's wrappers keep hot-path updates in plain numbers: the Counter buffers increments and
 * hands them to prom-client when the metric is read, the Gauge keeps its newest unlabelled value, and
 * the Histogram counts in typed arrays and renders itself. The exposition must be exactly what
 * prom-client's own metrics would have produced for the same calls.
 */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { exponentialBuckets, Registry } from '../src/metrics/registry.js';

/** The same increments straight through prom-client, for the expected text. */
async function reference(apply: (c: client.Counter<string>) => void, labelNames: string[]): Promise<string> {
  const reg = new client.Registry();
  apply(new client.Counter({ name: 't_total', help: 'h', labelNames, registers: [reg] }));
  return reg.metrics();
}

/** Deterministic pseudo-random values (a linear congruential generator), so a failure reproduces. */
function values(n: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    // Spread over and past the buckets: 0 up to ~40 s, some exactly on a bound, a few negative.
    const r = x / 2 ** 31;
    out.push(i % 17 === 0 ? 0.004 : i % 23 === 0 ? -r : r ** 4 * 40);
  }
  return out;
}

describe('Counter', () => {
  it('renders buffered increments exactly as prom-client counts them, across several scrapes', async () => {
    const reg = new Registry();
    const c = reg.counter('t_total', 'h', ['code', 'method']);
    const put = { code: 'OK', method: 'Put' };
    const range = { code: 'OK', method: 'Range' };
    for (let i = 0; i < 1000; i++) c.inc(put);
    c.inc(range, 2.5);
    c.inc({ method: 'Put', code: 'OK' }); // another object with the same labels: the same series
    c.inc({ code: 'Unavailable', method: 'Put' }, 0); // an increment of 0 still creates the series
    expect(await reg.render()).toBe(
      await reference(
        (p) => {
          p.inc({ code: 'OK', method: 'Put' }, 1001);
          p.inc({ code: 'OK', method: 'Range' }, 2.5);
          p.inc({ code: 'Unavailable', method: 'Put' }, 0);
        },
        ['code', 'method'],
      ),
    );
    // A second scrape adds only what came since the first.
    c.inc(put, 4);
    expect(await c.get(put)).toBe(1005);
    expect(await c.get(range)).toBe(2.5);
    expect(await c.get({ code: 'OK', method: 'Other' })).toBe(0);
  });

  it('an unlabelled counter; bad labels and bad amounts fail at the call', async () => {
    const reg = new Registry();
    const plain = reg.counter('t_total', 'h');
    plain.inc();
    plain.inc(undefined, 41);
    expect(await plain.get()).toBe(42);
    const labelled = reg.counter('l_total', 'h', ['code']);
    expect(() => labelled.inc({ nope: 'x' })).toThrow();
    expect(() => plain.inc(undefined, -1)).toThrow();
    expect(() => plain.inc(undefined, Number.NaN)).toThrow();
    expect(await plain.get()).toBe(42);
  });

  it('callers that build a new label object per call stay bounded and lose no increment', async () => {
    const reg = new Registry();
    const c = reg.counter('t_total', 'h', ['n']);
    for (let i = 0; i < 10_000; i++) c.inc({ n: String(i % 3) });
    expect([await c.get({ n: '0' }), await c.get({ n: '1' }), await c.get({ n: '2' })]).toEqual([
      3334, 3333, 3333,
    ]);
  });
});

describe('Counter.series', () => {
  it('bound series count like inc with the same labels, next to other series of the counter', async () => {
    const reg = new Registry();
    const c = reg.counter('t_total', 'h', ['code', 'method']);
    const put = c.series({ code: 'OK', method: 'Put' });
    for (let i = 0; i < 500; i++) put.inc();
    put.inc(0.5);
    c.inc({ code: 'OK', method: 'Range' }, 3);
    expect(await c.get({ code: 'OK', method: 'Put' })).toBe(500.5);
    // Increments after a scrape are handed over at the next one.
    put.inc(2);
    expect(await c.get({ code: 'OK', method: 'Put' })).toBe(502.5);
    expect(await c.get({ code: 'OK', method: 'Range' })).toBe(3);
    // A series that was bound but never incremented does not appear, as with prom-client.
    c.series({ code: 'Unavailable', method: 'Put' });
    expect(await reg.render()).not.toContain('Unavailable');
    expect(() => c.series({ nope: 'x' })).toThrow(/not one of its labels/);
    expect(() => put.inc(-1)).toThrow(/cannot add -1/);
    expect(await c.get({ code: 'OK', method: 'Put' })).toBe(502.5);
  });
});

describe('Gauge', () => {
  it('an unlabelled set is read at the next scrape; inc and dec apply after it in call order', async () => {
    const reg = new Registry();
    const g = reg.gauge('g', 'h');
    g.set(5);
    g.set(7);
    expect(await g.get()).toBe(7);
    g.set(10);
    g.inc();
    g.dec(undefined, 3);
    expect(await g.get()).toBe(8);
    g.set(1);
    expect(await reg.render()).toContain('\ng 1\n');
    expect(() => g.set('x' as unknown as number)).toThrow(TypeError);
    expect(await g.get()).toBe(1);
  });

  it('labelled series and computed gauges work as before', async () => {
    const reg = new Registry();
    const g = reg.gauge('g', 'h', undefined, ['k']);
    g.set(2, { k: 'a' });
    g.inc({ k: 'a' });
    expect(await g.get({ k: 'a' })).toBe(3);
    let n = 0;
    const computed = reg.gauge('c', 'h', () => ++n);
    expect(await computed.get()).toBe(1);
    expect(await computed.get()).toBe(2);
  });
});

describe('Histogram', () => {
  const bounds = exponentialBuckets(0.001, 2, 14);

  it('an unlabelled histogram renders exactly as prom-client, empty and after observations', async () => {
    const ref = new client.Registry();
    const p = new client.Histogram({ name: 'h_seconds', help: 'help', buckets: bounds, registers: [ref] });
    const reg = new Registry();
    const h = reg.histogram('h_seconds', 'help', bounds);
    expect(await reg.render()).toBe(await ref.metrics());
    for (const v of values(5000, 7)) {
      p.observe(v);
      h.observe(v);
    }
    expect(await reg.render()).toBe(await ref.metrics());
    expect(await h.count()).toBe(5000);
    // The JSON form too (prom-client adds an empty exemplar to its bucket lines).
    const json = (await ref.getMetricsAsJSON()) as unknown as { values: { exemplar?: unknown }[] }[];
    for (const v of json[0]!.values) delete v.exemplar;
    expect(await reg.prom.getMetricsAsJSON()).toEqual(json);
  });

  it('labelled series render exactly as prom-client, whatever label object the caller passes', async () => {
    const ref = new client.Registry();
    const p = new client.Histogram({
      name: 'rtt',
      help: 'help',
      buckets: bounds,
      labelNames: ['To'],
      registers: [ref],
    });
    const reg = new Registry();
    const h = reg.histogram('rtt', 'help', bounds, ['To']);
    const to2 = { To: '2' };
    const vs = values(3000, 11);
    for (let i = 0; i < vs.length; i++) {
      const to = i % 3 === 0 ? { To: '3' } : to2; // a new object per call for one peer
      p.observe(to, vs[i]!);
      h.observe(vs[i]!, to);
    }
    expect(await reg.render()).toBe(await ref.metrics());
    expect(await h.count({ To: '3' })).toBe(1000);
    expect(await h.count({ To: '9' })).toBe(0);
    expect(() => h.observe(1, { nope: 'x' })).toThrow(/not one of its labels/);
    expect(() => h.observe(1)).toThrow(/needs labels/);
    expect(() => h.observe(Number.NaN, to2)).toThrow(TypeError);
    expect(await h.count({ To: '2' })).toBe(2000);
  });

  it('reset forgets every observation, as prom-client reset does', async () => {
    const reg = new Registry();
    const h = reg.histogram('h', 'help', [1, 2]);
    h.observe(1.5);
    reg.prom.resetMetrics();
    expect(await h.count()).toBe(0);
    expect(await reg.render()).toContain('h_bucket{le="2"} 0\n');
    expect(() => reg.histogram('x', 'help', [1], ['le'])).toThrow(/reserved/);
  });
});
