/**
 * Every generated message round-trips through binary and JSON, and agrees with protobufjs (the reference
 * implementation, reading the same .proto files) in both directions.
 */
import type protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import * as api from '../src/api/index.js';
import {
  allMessageTypes,
  fromReferenceMessage,
  loadReferenceRoot,
  randomMessage,
  rng,
  toReferenceObject,
} from './proto-fixtures.js';

interface Codec {
  typeName: string;
  create(init?: unknown): Record<string, unknown>;
  encode(m: unknown): Uint8Array;
  decode(b: Uint8Array): Record<string, unknown>;
  toJSON(m: unknown): api.JsonObject;
  fromJSON(o: unknown): Record<string, unknown>;
}

const root = loadReferenceRoot();
const types = allMessageTypes(root);
const codecs = new Map<string, Codec>();
for (const value of Object.values(api as Record<string, unknown>)) {
  const c = value as Partial<Codec> | undefined;
  if (c && typeof c === 'object' && typeof c.typeName === 'string') codecs.set(c.typeName, c as Codec);
}
const ROUNDS = 40;

function codecFor(t: protobuf.Type): Codec {
  const c = codecs.get(t.fullName.slice(1));
  if (!c) throw new Error(`no generated codec for ${t.fullName}`);
  return c;
}

describe('generated codecs cover the protos', () => {
  it('has a codec with the right typeName for every message', () => {
    expect(types.length).toBeGreaterThan(120);
    for (const t of types) expect(codecFor(t).typeName).toBe(t.fullName.slice(1));
    // ...and nothing else: every generated codec corresponds to a declared message.
    expect(codecs.size).toBe(types.length);
  });
});

describe.each(types.map((t) => [t.fullName.slice(1), t] as const))('%s', (_name, t) => {
  const codec = codecFor(t);

  it('round-trips random values through binary', () => {
    const r = rng(0x5eed ^ t.fullName.length);
    for (let i = 0; i < ROUNDS; i++) {
      const value = randomMessage(t, r);
      const decoded = codec.decode(codec.encode(value));
      expect(decoded).toEqual(codec.create(value));
    }
  });

  it('round-trips random values through JSON', () => {
    const r = rng(0x1234 ^ t.fullName.length);
    for (let i = 0; i < ROUNDS; i++) {
      const value = codec.create(randomMessage(t, r));
      const json = JSON.parse(JSON.stringify(codec.toJSON(value)));
      expect(codec.fromJSON(json)).toEqual(value);
    }
  });

  it('decodes what protobufjs encodes, and protobufjs decodes what we encode', () => {
    const r = rng(0xabcd ^ t.fullName.length);
    for (let i = 0; i < ROUNDS; i++) {
      const value = randomMessage(t, r);
      const expected = codec.create(value);
      const theirs = t.encode(t.fromObject(toReferenceObject(t, value))).finish();
      expect(codec.decode(theirs)).toEqual(expected);
      expect(fromReferenceMessage(t, t.decode(codec.encode(value)))).toEqual(expected);
    }
  });

  it('decodes an empty buffer to all defaults', () => {
    expect(codec.decode(new Uint8Array(0))).toEqual(codec.create());
    expect(codec.encode({})).toEqual(new Uint8Array(0));
  });
});
