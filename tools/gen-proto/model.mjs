// Turns a protobufjs Root into the ordered list of declarations one generated file must contain.

import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const { Type, Enum, Service, Namespace } = protobuf;

/**
 * Names a generated file cannot give a message, enum or service: TypeScript/JavaScript globals the
 * generated code refers to, and every top-level declaration of the runtimes copied into each output.
 * A proto declaration with such a name gets the package prefix (walpb.Record -> walpb_Record), the same
 * rule as for clashes between packages, instead of shadowing the global and breaking the output.
 */
const RESERVED_NAMES = new Set([
  ...['Array', 'BigInt', 'Boolean', 'Buffer', 'DataView', 'Date', 'Error', 'JSON', 'Map', 'Math', 'Number'],
  ...['Object', 'Partial', 'Promise', 'RangeError', 'Readonly', 'Record', 'Set', 'String', 'Symbol'],
  ...['TextDecoder', 'TextEncoder', 'TypeError', 'Uint8Array', 'GATEWAY_ROUTES', 'GatewayRoute'],
  ...['runtime.ts', 'runtime-grpc.ts'].flatMap((f) =>
    [
      ...readFileSync(new URL(f, import.meta.url), 'utf8').matchAll(
        /^(?:export )?(?:declare )?(?:abstract )?(?:function|class|const|let|type|interface|enum) (\w+)/gm,
      ),
    ].map((m) => m[1]),
  ),
]);

/** Scalar proto types and how they travel on the wire. */
export const SCALARS = {
  double: { wire: 1, ts: 'number', zero: '0', packable: true },
  float: { wire: 5, ts: 'number', zero: '0', packable: true },
  int32: { wire: 0, ts: 'number', zero: '0', packable: true },
  uint32: { wire: 0, ts: 'number', zero: '0', packable: true },
  sint32: { wire: 0, ts: 'number', zero: '0', packable: true },
  fixed32: { wire: 5, ts: 'number', zero: '0', packable: true },
  sfixed32: { wire: 5, ts: 'number', zero: '0', packable: true },
  int64: { wire: 0, ts: 'number', zero: '0', packable: true, long: true },
  uint64: { wire: 0, ts: 'number', zero: '0', packable: true, long: true },
  sint64: { wire: 0, ts: 'number', zero: '0', packable: true, long: true },
  fixed64: { wire: 1, ts: 'number', zero: '0', packable: true, long: true },
  sfixed64: { wire: 1, ts: 'number', zero: '0', packable: true, long: true },
  bool: { wire: 0, ts: 'boolean', zero: 'false', packable: true },
  string: { wire: 2, ts: 'string', zero: "''", packable: false },
  bytes: { wire: 2, ts: 'Uint8Array', zero: 'EMPTY_BYTES', packable: false },
};

/** Names assigned by `collect` when a short name clashed (see there). */
const assigned = new WeakMap();

/** Package of a declaration, e.g. `etcdserverpb` (dots become `_`). */
function packageOf(obj) {
  let p = obj.parent;
  while (p && (p instanceof Type || p instanceof Service)) p = p.parent;
  return p ? fullName(p).replace(/\./g, '_') : '';
}

/**
 * TypeScript name of a message/enum/service: nesting path inside its package joined with `_`
 * (`RangeRequest_SortOrder`), or `<package>_<name>` when that short name was already taken.
 */
export function tsName(obj) {
  const given = assigned.get(obj);
  if (given) return given;
  return shortName(obj);
}

function shortName(obj) {
  const parts = [obj.name];
  for (let p = obj.parent; p && (p instanceof Type || p instanceof Service); p = p.parent)
    parts.unshift(p.name);
  return parts.join('_');
}

/** Fully qualified proto name without the leading dot. */
export function fullName(obj) {
  return obj.fullName.replace(/^\./, '');
}

function walk(ns, out) {
  for (const obj of ns.nestedArray) {
    if (obj instanceof Type || obj instanceof Enum || obj instanceof Service) out.push(obj);
    if (obj instanceof Namespace && obj.nestedArray) walk(obj, out);
  }
}

/**
 * Collects the declarations for one target: everything declared in `files`, plus every message or enum
 * those declarations reference (transitively), so the generated file is self-contained.
 * Order is declaration order (files in the order given, then imports), which is deterministic.
 * @returns {{messages: import('protobufjs').Type[], enums: import('protobufjs').Enum[],
 *   services: import('protobufjs').Service[]}}
 */
export function collect(root, files) {
  const all = [];
  walk(root, all);
  const wanted = new Set();
  const fileSet = new Set(files);
  const queue = [];
  const want = (obj) => {
    if (wanted.has(obj)) return;
    wanted.add(obj);
    queue.push(obj);
  };
  for (const obj of all) if (fileSet.has(obj.filename)) want(obj);
  while (queue.length > 0) {
    const obj = queue.pop();
    if (obj instanceof Type) {
      for (const f of obj.fieldsArray) {
        if (f.resolvedType) want(f.resolvedType);
      }
    } else if (obj instanceof Service) {
      for (const m of obj.methodsArray) {
        want(m.resolvedRequestType);
        want(m.resolvedResponseType);
      }
    }
  }
  const picked = all.filter((o) => wanted.has(o));
  // Short names are unique within a package but not across packages (etcdserverpb.Member vs
  // membershippb.Member): the first declaration keeps the short name, later ones get a package prefix.
  const names = new Map([...RESERVED_NAMES].map((n) => [n, null]));
  const exported = (o, base) => (o instanceof Service ? `${base}Service` : base);
  for (const obj of picked) {
    let base = assigned.get(obj) ?? shortName(obj);
    if (names.has(exported(obj, base))) {
      base = `${packageOf(obj)}_${base}`;
      assigned.set(obj, base);
    }
    const name = exported(obj, base);
    const prev = names.get(name);
    if (prev !== undefined)
      throw new Error(
        `name clash: ${prev ? fullName(prev) : 'a reserved name'} and ${fullName(obj)} both map to ${name}`,
      );
    names.set(name, obj);
    // Nested declarations derive their names from the parent's.
    if (assigned.has(obj)) {
      for (const inner of picked) {
        if (inner !== obj && inner.fullName.startsWith(`${obj.fullName}.`)) {
          assigned.set(inner, `${base}_${inner.fullName.slice(obj.fullName.length + 1).replace(/\./g, '_')}`);
        }
      }
    }
  }
  return {
    messages: picked.filter((o) => o instanceof Type),
    enums: picked.filter((o) => o instanceof Enum),
    services: picked.filter((o) => o instanceof Service),
  };
}
