/** Key helpers on plain Uint8Arrays and on Node Buffers (whose `slice` is a view, not a copy). */
import { describe, expect, it } from 'vitest';
import { prefixEnd } from '../src/bytes.js';

describe('prefixEnd', () => {
  it('increments the last byte below 0xff and drops trailing 0xff bytes', () => {
    expect([...prefixEnd(new Uint8Array([0x61, 0x62]))]).toEqual([0x61, 0x63]);
    expect([...prefixEnd(new Uint8Array([0x61, 0xff, 0xff]))]).toEqual([0x62]);
    expect([...prefixEnd(new Uint8Array([0xff]))]).toEqual([0]);
  });

  it('leaves a Buffer argument unchanged', () => {
    const prefix = Buffer.from('config/');
    const end = prefixEnd(prefix);
    expect(prefix.toString()).toBe('config/');
    expect(Buffer.from(end).toString()).toBe('config0');
  });
});
