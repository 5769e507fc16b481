/**
 * tools/gen-proto.mjs on fixture protos: proto2 semantics (as @kv/raft and @kv/wal use them), proto3
 * `optional`, cross-package name clashes, determinism and loud failure on unsupported features.
 * The generated TypeScript is transpiled in memory and imported, and checked against protobufjs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './proto-fixtures.js';

const fixtures = join(repoRoot, 'packages/client/test/fixtures');
const generator = join(repoRoot, 'tools/gen-proto.mjs');
let dir: string;
// biome-ignore lint/suspicious/noExplicitAny: the generated module is imported dynamically.
let gen: any;

function generate(protos: string[], out: string) {
  return spawnSync(
    process.execPath,
    [generator, ...protos.flatMap((p) => ['--proto', join(fixtures, p)]), '--out', out],
    {
      encoding: 'utf8',
    },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kv-gen-proto-'));
  const out = join(dir, 'fixture.ts');
  const res = generate(['modern.proto', 'clash.proto', 'map.proto'], out);
  expect(res.status, res.stderr).toBe(0);
  const js = ts.transpileModule(readFileSync(out, 'utf8'), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  writeFileSync(join(dir, 'fixture.mjs'), js);
  gen = await import(pathToFileURL(join(dir, 'fixture.mjs')).href);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = new protobuf.Root();
root.loadSync(join(fixtures, 'modern.proto'), { keepCase: true });
root.resolveAll();
const RefRecord = root.lookupType('legacy.Record');
const mapRoot = new protobuf.Root();
mapRoot.loadSync(join(fixtures, 'map.proto'), { keepCase: true });
const RefWithMap = mapRoot.lookupType('maps.WithMap');

describe('proto2 (legacy.Record)', () => {
  it('always writes scalar fields, as gogoproto nullable=false does, with declared defaults', () => {
    const bytes: Uint8Array = gen.legacy_Record.encode({});
    // term=0 (08 00), index=5 (10 05), must=0 (18 00), kind=0 (30 00), data='' (3a 00)
    expect([...bytes]).toEqual([0x08, 0x00, 0x10, 0x05, 0x18, 0x00, 0x30, 0x00, 0x3a, 0x00]);
    expect(gen.legacy_Record.decode(new Uint8Array(0))).toMatchObject({
      term: 0,
      index: 5,
      must: 0,
      kind: 0,
    });
    expect(gen.legacy_Record_Inner.decode(new Uint8Array(0)).note).toBe('hi');
  });

  it('packs only fields declared packed, and reads both forms', () => {
    const bytes: Uint8Array = gen.legacy_Record.encode({ must: 1, unpacked: [1, 2], packed: [3, 4] });
    const hex = Buffer.from(bytes).toString('hex');
    expect(hex).toContain('20012002'); // field 4 unpacked: two tags
    expect(hex).toContain('2a020304'); // field 5 packed
    const ref = RefRecord.toObject(RefRecord.decode(bytes), { longs: Number });
    expect(ref.unpacked).toEqual([1, 2]);
    expect(ref.packed).toEqual([3, 4]);
    // protobufjs encodes field 4 unpacked too; feed it a packed form by hand.
    expect(gen.legacy_Record.decode(new Uint8Array([0x22, 0x02, 0x07, 0x08])).unpacked).toEqual([7, 8]);
  });

  it('agrees with protobufjs on a full record', () => {
    const value = {
      term: 2 ** 40,
      index: 9,
      must: -3,
      unpacked: [1],
      packed: [Number.MAX_SAFE_INTEGER],
      kind: 1,
      data: new Uint8Array([1, 2]),
      inner: { note: 'x' },
    };
    const decodedByRef = RefRecord.toObject(RefRecord.decode(gen.legacy_Record.encode(value)), {
      longs: Number,
      bytes: Array,
    });
    expect(decodedByRef).toEqual({ ...value, data: [1, 2] });
    const ours = gen.legacy_Record.decode(RefRecord.encode(RefRecord.fromObject(value)).finish());
    expect(ours).toEqual({ ...value, inner: { note: 'x' } });
  });
});

describe('proto3 optional, nested enums, name clashes', () => {
  it('tracks presence of proto3 optional scalars', () => {
    expect([...gen.Member.encode({ maybe: 0 })]).toEqual([0x08, 0x00]);
    expect(gen.Member.decode(new Uint8Array([0x08, 0x00])).maybe).toBe(0);
    expect(gen.Member.decode(new Uint8Array(0)).maybe).toBeUndefined();
  });

  it('names nested enums Parent_Child with name tables', () => {
    expect(gen.Other_Level.HIGH).toBe(1);
    expect(gen.Other_Level_names[1]).toBe('HIGH');
    expect(gen.Other_Level_values.LOW).toBe(0);
    expect(gen.Member.toJSON({ level: 1 })).toEqual({ level: 'HIGH' });
  });

  it('keeps the first Member and prefixes the later package, nested types included', () => {
    expect(gen.Member.typeName).toBe('modern.Member');
    expect(gen.clash_v1_Member.typeName).toBe('clash.v1.Member');
    expect(gen.clash_v1_Member_Detail.typeName).toBe('clash.v1.Member.Detail');
    const m = gen.clash_v1_Member.decode(gen.clash_v1_Member.encode({ name: 'n', detail: { n: 3 } }));
    expect(m).toEqual({ name: 'n', detail: { n: 3 } });
  });
});

describe('map fields', () => {
  const value = {
    counts: { a: 1, zero: 0, '': -5 },
    byId: { '12': { s: 'x' }, '-3': { s: '' } },
    flags: { true: new Uint8Array([1]), false: new Uint8Array(0) },
  };

  it('round-trip, with string keys for every key type', () => {
    expect(gen.WithMap.decode(gen.WithMap.encode(value))).toEqual(value);
    expect(gen.WithMap.decode(new Uint8Array(0))).toEqual({ counts: {}, byId: {}, flags: {} });
  });

  it('agree with protobufjs both ways', () => {
    const theirs = RefWithMap.toObject(RefWithMap.decode(gen.WithMap.encode(value)), {
      longs: String,
      bytes: Array,
    });
    expect(theirs).toEqual({
      counts: value.counts,
      by_id: { '12': { s: 'x' }, '-3': {} },
      flags: { true: [1], false: [] },
    });
    const ref = RefWithMap.encode(
      RefWithMap.fromObject({ counts: { a: 1 }, by_id: { 12: { s: 'x' } }, flags: { true: [1] } }),
    ).finish();
    expect(gen.WithMap.decode(ref)).toEqual({
      counts: { a: 1 },
      byId: { '12': { s: 'x' } },
      flags: { true: new Uint8Array([1]) },
    });
  });

  it('map to JSON objects (entries always written) and validate keys on input', () => {
    expect(gen.WithMap.toJSON(value)).toEqual({
      counts: { a: 1, zero: 0, '': -5 },
      by_id: { '12': { s: 'x' }, '-3': {} },
      flags: { true: 'AQ==', false: '' },
    });
    expect(gen.WithMap.fromJSON(gen.WithMap.toJSON(value))).toEqual(value);
    expect(() => gen.WithMap.fromJSON({ by_id: { abc: {} } })).toThrow(/by_id\[abc\]: expected an integer/);
  });
});

describe('generator behaviour', () => {
  it('prefixes names that would shadow globals, and the output type-checks under strict tsc', () => {
    // legacy.Record would hide TypeScript's Record<K, V> that the generated code itself uses.
    expect(gen.Record).toBeUndefined();
    expect(typeof gen.legacy_Record.encode).toBe('function');
    const program = ts.createProgram([join(dir, 'fixture.ts')], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules/@types')],
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(errors).toEqual([]);
  });

  it('is deterministic', () => {
    const a = join(dir, 'a.ts');
    const b = join(dir, 'b.ts');
    generate(['modern.proto', 'clash.proto'], a);
    generate(['modern.proto', 'clash.proto'], b);
    expect(readFileSync(a, 'utf8')).toBe(readFileSync(b, 'utf8'));
    expect(readFileSync(a, 'utf8')).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it('fails loudly on groups and on missing files', () => {
    const res = generate(['group.proto'], join(dir, 'group.ts'));
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/groups are not supported/);
    const missing = generate(['nope.proto'], join(dir, 'nope.ts'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('--check reports a stale file and exits 1', () => {
    const out = join(dir, 'stale.ts');
    generate(['clash.proto'], out);
    writeFileSync(out, `${readFileSync(out, 'utf8')}// edited\n`);
    const res = spawnSync(
      process.execPath,
      [generator, '--proto', join(fixtures, 'clash.proto'), '--out', out, '--check'],
      {
        encoding: 'utf8',
      },
    );
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/stale/);
    execFileSync(process.execPath, [generator, '--proto', join(fixtures, 'clash.proto'), '--out', out]);
    expect(readFileSync(out, 'utf8')).not.toMatch(/\/\/ edited/);
  });
});

describe('64-bit fields selected as bigint', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the generated module is imported dynamically.
  let ids: any;
  beforeAll(async () => {
    const out = join(dir, 'ids.ts');
    const res = spawnSync(
      process.execPath,
      [
        generator,
        '--proto',
        join(fixtures, 'ids.proto'),
        '--out',
        out,
        '--bigint',
        'ids.Ids.*',
        '--bigint',
        '*.member',
      ],
      { encoding: 'utf8' },
    );
    expect(res.status, res.stderr).toBe(0);
    const source = readFileSync(out, 'utf8');
    expect(source).toContain('revision: bigint');
    const js = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
    }).outputText;
    writeFileSync(join(dir, 'ids.mjs'), js);
    ids = await import(pathToFileURL(join(dir, 'ids.mjs')).href);
  });

  const extremes = {
    member: 2n ** 64n - 1n,
    lease: -(2n ** 63n),
    delta: -(2n ** 62n) - 7n,
    hash: 0xfedcba9876543210n,
    signedHash: -1n,
    voters: [1n, 2n ** 53n + 1n, 0x8e9e05c52164694dn],
    revision: 2n ** 63n - 1n,
  };

  it('round-trips values no JS number can hold, on the wire and in JSON', () => {
    const decoded = ids.Ids.decode(ids.Ids.encode(extremes));
    expect(decoded).toEqual(extremes);
    const json = ids.Ids.toJSON(extremes);
    expect(json.member).toBe('18446744073709551615');
    expect(json.lease).toBe('-9223372036854775808');
    expect(ids.Ids.fromJSON(json)).toEqual(extremes);
    expect(ids.Ids.decode(new Uint8Array(0))).toMatchObject({ member: 0n, voters: [] });
  });

  it('writes the bytes protobufjs writes for the same values', () => {
    const root = new protobuf.Root();
    root.loadSync(join(fixtures, 'ids.proto'), { keepCase: true });
    const Ref = root.lookupType('ids.Ids');
    const ref = Ref.encode(
      Ref.fromObject({
        member: '18446744073709551615',
        lease: '-9223372036854775808',
        delta: (-(2n ** 62n) - 7n).toString(),
        hash: '18364758544493064720',
        signed_hash: '-1',
        voters: ['1', String(2n ** 53n + 1n), String(0x8e9e05c52164694dn)],
        revision: String(2n ** 63n - 1n),
      }),
    ).finish();
    expect([...ids.Ids.encode(extremes)]).toEqual([...ref]);
  });

  it('refuses out-of-range JSON and selectors that match nothing', () => {
    expect(() => ids.Ids.fromJSON({ member: '18446744073709551616' })).toThrow(/out of range/);
    expect(() => ids.Ids.fromJSON({ lease: '9223372036854775808' })).toThrow(/out of range/);
    const res = spawnSync(
      process.execPath,
      [
        generator,
        '--proto',
        join(fixtures, 'ids.proto'),
        '--out',
        join(dir, 'x.ts'),
        '--bigint',
        'ids.Ids.nope',
      ],
      { encoding: 'utf8' },
    );
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/match no 64-bit field: ids.Ids.nope/);
  });
});
