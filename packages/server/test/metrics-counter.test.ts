/**
 * The Counter wrapper buffers increments in plain numbers and hands them to prom-client when the
 * metric is read; the exposition must be exactly what prom-client's own inc would have produced.
 */
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Registry } from '../src/metrics/registry.js';

/** The same increments straight through prom-client, for the expected text. */
async function reference(apply: (c: client.Counter<string>) => void, labelNames: string[]): Promise<string> {
  const reg = new client.Registry();
  apply(new client.Counter({ name: 't_total', help: 'h', labelNames, registers: [reg] }));
  return reg.metrics();
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
