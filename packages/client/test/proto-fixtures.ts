/**
 * Test helpers: the etcd protos parsed by protobufjs (the reference implementation) and a seeded
 * generator of random message values shaped like the generated TypeScript interfaces.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const packageRoot = resolve(repoRoot, 'packages/client');

/** Absolute paths of the protos compiled into `src/api/gen/etcd.ts`, read from proto-gen.json. */
export function targetProtos(): string[] {
  const config = JSON.parse(readFileSync(join(packageRoot, 'proto-gen.json'), 'utf8')) as {
    targets: { protos: string[] }[];
  };
  return config.targets.flatMap((t) => t.protos.map((p) => resolve(packageRoot, p)));
}

/** The target's `bigint` selectors from proto-gen.json, as a field predicate (same matching as the generator). */
function bigintSelectors(): (f: protobuf.Field) => boolean {
  const config = JSON.parse(readFileSync(join(packageRoot, 'proto-gen.json'), 'utf8')) as {
    targets: { bigint?: string[] }[];
  };
  const res = config.targets
    .flatMap((t) => t.bigint ?? [])
    .map(
      (sel) =>
        new RegExp(
          `^${sel
            .split('*')
            .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        ),
    );
  return (f) => res.some((re) => re.test(`${f.parent!.fullName.slice(1)}.${f.name}`));
}

/** True for a 64-bit field the generated codec carries as an exact `bigint`. */
export const isBigintField = bigintSelectors();

const LONG_TYPES = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);

/** Parses the target protos with protobufjs, resolving imports under `proto/` like the generator. */
export function loadReferenceRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    const sibling = resolve(dirname(origin), target);
    if (origin && existsSync(sibling)) return sibling;
    return join(repoRoot, 'proto', target);
  };
  root.loadSync(targetProtos(), { keepCase: true });
  root.resolveAll();
  return root;
}

/** Every message type declared in `root`, in declaration order. */
export function allMessageTypes(root: protobuf.NamespaceBase): protobuf.Type[] {
  const out: protobuf.Type[] = [];
  for (const obj of root.nestedArray) {
    if (obj instanceof protobuf.Type) out.push(obj);
    if (obj instanceof protobuf.Namespace || obj instanceof protobuf.Type) out.push(...allMessageTypes(obj));
  }
  return out;
}

/** TypeScript export name of a reflected type: nesting path inside its package joined with `_`. */
export function tsName(t: protobuf.ReflectionObject): string {
  const parts = [t.name];
  for (let p = t.parent; p && p instanceof protobuf.Type; p = p.parent) parts.unshift(p.name);
  return parts.join('_');
}

/** Field name in the generated interfaces (protoc's JSON name). */
export const fieldName = (f: protobuf.Field): string => protobuf.util.jsonName(f.name);

/** Small seeded PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STRING_POOL = [
  '',
  'a',
  'foo/bar',
  'héllo',
  '日本語',
  '😀 emoji',
  'x'.repeat(200),
  'mixed é 😀 ascii tail',
];

function randomScalar(type: string, r: () => number): unknown {
  const int = (max: number) => Math.floor(r() * max);
  const pick = <T>(xs: T[]): T => xs[int(xs.length)]!;
  switch (type) {
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return pick([0, 1, -1, 127, 128, 0x7fffffff, -0x80000000, int(1e6) - 5e5]);
    case 'uint32':
    case 'fixed32':
      return pick([0, 1, 127, 128, 16384, 0xffffffff, int(0xffffffff)]);
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return pick([
        0,
        1,
        -1,
        2 ** 31,
        -(2 ** 31) - 1,
        2 ** 32,
        Number.MAX_SAFE_INTEGER,
        Number.MIN_SAFE_INTEGER,
      ]);
    case 'uint64':
    case 'fixed64':
      return pick([0, 1, 127, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER, int(2 ** 53)]);
    case 'bool':
      return r() < 0.5;
    case 'double':
      return pick([0, 1.5, -2.25, 1e300, r()]);
    case 'float':
      return Math.fround(pick([0, 1.5, -2.25, r()]));
    case 'string':
      return pick(STRING_POOL);
    case 'bytes': {
      const b = new Uint8Array(pick([0, 1, 3, 16, 130, 300]));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return b;
    }
    default:
      throw new Error(`no generator for ${type}`);
  }
}

/**
 * Builds a random value for message type `t` in the generated interface shape (camelCase names,
 * numbers for 64-bit). Fields are present with probability `density`; at most one oneof member is set.
 */
export function randomMessage(
  t: protobuf.Type,
  r: () => number,
  depth = 0,
  density = 0.7,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const chosenOneof = new Map<protobuf.OneOf, protobuf.Field | undefined>();
  for (const o of t.oneofsArray) {
    const members = o.fieldsArray;
    chosenOneof.set(o, r() < density ? members[Math.floor(r() * members.length)] : undefined);
  }
  for (const f of t.fieldsArray) {
    if (f.partOf && chosenOneof.get(f.partOf) !== f) continue;
    if (!f.partOf && r() > density) continue;
    const one = (): unknown => {
      const rt = f.resolvedType;
      if (rt instanceof protobuf.Type) return randomMessage(rt, r, depth + 1, depth >= 2 ? 0.2 : density);
      if (rt instanceof protobuf.Enum) {
        const values = Object.values(rt.values);
        return values[Math.floor(r() * values.length)];
      }
      if (isBigintField(f)) {
        // Exact ids: small values and ones no double can hold.
        const signed = f.type !== 'uint64' && f.type !== 'fixed64';
        const big = signed
          ? [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]
          : [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n];
        return r() < 0.4 ? big[Math.floor(r() * big.length)]! : BigInt(randomScalar(f.type, r) as number);
      }
      return randomScalar(f.type, r);
    };
    if (f.repeated) {
      const n = depth >= 3 ? 0 : Math.floor(r() * 4);
      out[fieldName(f)] = Array.from({ length: n }, one);
    } else {
      if (f.resolvedType instanceof protobuf.Type && depth >= 4) continue;
      out[fieldName(f)] = one();
    }
  }
  return out;
}

/** Converts a generated-shape value into a protobufjs `fromObject` input (proto names). */
export function toReferenceObject(t: protobuf.Type, v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of t.fieldsArray) {
    const x = v[fieldName(f)];
    if (x === undefined) continue;
    const rt = f.resolvedType;
    const conv = (e: unknown): unknown =>
      rt instanceof protobuf.Type
        ? toReferenceObject(rt, e as Record<string, unknown>)
        : typeof e === 'bigint'
          ? e.toString() // protobufjs reads 64-bit values from decimal strings exactly (Long)
          : e;
    out[f.name] = f.repeated ? (x as unknown[]).map(conv) : conv(x);
  }
  return out;
}

/**
 * Converts a protobufjs-decoded message into the generated shape, with proto3 defaults filled,
 * so it can be compared with our decoder's output.
 */
export function fromReferenceMessage(t: protobuf.Type, m: protobuf.Message): Record<string, unknown> {
  const obj = t.toObject(m, { longs: String, enums: Number, defaults: true, arrays: true }) as Record<
    string,
    unknown
  >;
  const out: Record<string, unknown> = {};
  for (const f of t.fieldsArray) {
    const x = obj[f.name];
    const rt = f.resolvedType;
    const conv = (e: unknown): unknown => {
      if (rt instanceof protobuf.Type) return fromReferenceMessage(rt, rt.fromObject(e as object));
      if (f.type === 'bytes') return new Uint8Array(e as Uint8Array);
      if (LONG_TYPES.has(f.type)) return isBigintField(f) ? BigInt(e as string) : Number(e);
      return e;
    };
    if (f.partOf || rt instanceof protobuf.Type) {
      if (!f.repeated && (x === undefined || x === null)) continue;
    }
    if (f.repeated) out[fieldName(f)] = ((x as unknown[]) ?? []).map(conv);
    else out[fieldName(f)] = conv(x);
  }
  return out;
}
