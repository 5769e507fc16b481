// Emits the TypeScript source for one target from the declarations picked by model.mjs.
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { fullName, SCALARS, tsName } from './model.mjs';

const { Type, Enum } = protobuf;

/** Reads a runtime template, dropping its lint directives (generated files are not linted). */
function template(name) {
  return readFileSync(new URL(name, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('// biome-ignore-all'))
    .join('\n');
}

const runtimeSource = template('./runtime.ts');
const grpcRuntimeSource = template('./runtime-grpc.ts');

const WIRE_LEN = 2;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Property access that stays valid for any JSON member name. */
function prop(obj, name) {
  return IDENT.test(name) ? `${obj}.${name}` : `${obj}[${JSON.stringify(name)}]`;
}

/** protoc's JSON name (`remaining_TTL` -> `remainingTTL`), also used as the TypeScript field name. */
function camel(name) {
  return protobuf.util.jsonName(name);
}

function lowerFirst(s) {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Renders a proto comment as a TSDoc block (or nothing). */
function doc(comment, indent, extra) {
  const lines = [];
  if (comment) lines.push(...comment.replace(/\*\//g, '*\\/').split('\n'));
  if (extra) lines.push(...(lines.length ? ['', extra] : [extra]));
  if (lines.length === 0) return '';
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

/**
 * Fields whose 64-bit values the current target emits as `bigint` (see `bigint` in proto-gen.json).
 * Set by `emitFile` for the duration of one target.
 * @type {(f: import('protobufjs').Field) => boolean}
 */
let isBigintField = () => false;

/** Turns `bigint` selectors (`pkg.Message.field`, `*` = any run of characters) into a field predicate. */
function bigintMatcher(selectors) {
  const res = selectors.map(
    (sel) =>
      new RegExp(
        `^${sel
          .split('*')
          .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
  const used = new Set();
  const match = (f) => {
    const name = `${fullName(f.parent)}.${f.name}`;
    let hit = false;
    res.forEach((re, i) => {
      if (re.test(name)) {
        used.add(i);
        hit = true;
      }
    });
    return hit;
  };
  /** Selectors that matched no 64-bit field (a typo would otherwise silently keep `number`). */
  match.unused = () => selectors.filter((_, i) => !used.has(i));
  return match;
}

/** Classifies one field for code generation. */
function fieldInfo(f) {
  if (f.delimited) throw new Error(`${fullName(f.parent)}.${f.name}: groups are not supported by gen-proto`);
  const t = f.resolvedType;
  const scalar = t ? undefined : SCALARS[f.type];
  if (!t && !scalar) throw new Error(`${fullName(f.parent)}.${f.name}: unknown type ${f.type}`);
  const isMessage = t instanceof Type;
  const isEnum = t instanceof Enum;
  const kind = isMessage ? 'message' : isEnum ? 'enum' : f.type;
  const wire = isMessage ? WIRE_LEN : isEnum ? 0 : scalar.wire;
  const tsType = isMessage || isEnum ? tsName(t) : scalar.ts;
  // Reader/Writer method for scalars; enums travel as int32.
  const io = isEnum ? 'int32' : f.type;
  const oneof = f.partOf ? f.partOf : undefined;
  /** Presence: 'repeated' | 'message' | 'oneof' | 'explicit' (proto2: always written) | 'implicit' (proto3). */
  let presence;
  if (f.map) presence = 'map';
  else if (f.repeated) presence = 'repeated';
  else if (oneof) presence = 'oneof';
  else if (isMessage) presence = 'message';
  else if (f.hasPresence) presence = 'explicit';
  else presence = 'implicit';
  let zero;
  if (isMessage) zero = 'undefined';
  else if (isEnum) {
    const first = Object.keys(t.values)[0];
    let v = t.values[first];
    if (f.options && f.options.default !== undefined) {
      v = typeof f.options.default === 'string' ? t.values[f.options.default] : f.options.default;
    }
    zero = `${v} as ${tsType}`;
  } else if (presence === 'explicit' && f.options && f.options.default !== undefined) {
    const d = f.options.default;
    if (f.type === 'string') zero = JSON.stringify(String(d));
    else if (f.type === 'bytes')
      zero = `new Uint8Array(${JSON.stringify([...Buffer.from(String(d), 'utf8')])})`;
    else if (f.type === 'bool') zero = d === true || d === 'true' ? 'true' : 'false';
    else zero = String(Number(d));
  } else zero = scalar.zero;
  // 64-bit ids (member, cluster, lease, raft node) are exact only as bigint; selected per target.
  const big = Boolean(scalar?.long) && isBigintField(f);
  if (big) {
    if (f.map) throw new Error(`${fullName(f.parent)}.${f.name}: bigint map values are not supported`);
    zero =
      presence === 'explicit' && f.options?.default !== undefined ? `${BigInt(f.options.default)}n` : '0n';
  }
  return {
    f,
    name: camel(f.name),
    protoName: f.name,
    jsonName: camel(f.name),
    id: f.id,
    kind,
    isMessage,
    isEnum,
    long: Boolean(scalar?.long),
    big,
    wire,
    tsType: big ? 'bigint' : tsType,
    io: big ? `${io}n` : io,
    presence,
    oneof,
    zero,
    packed: f.repeated && (isEnum || (scalar?.packable ?? false)) && f.packed,
    packable: f.repeated && (isEnum || (scalar?.packable ?? false)),
    required: f.required,
    key: f.map ? mapKeyInfo(f) : undefined,
  };
}

/** Key of a map field: JS objects key by string, so integer keys are converted on the wire. */
function mapKeyInfo(f) {
  const scalar = SCALARS[f.keyType];
  if (!scalar || f.keyType === 'bytes' || f.keyType === 'double' || f.keyType === 'float') {
    throw new Error(`${fullName(f.parent)}.${f.name}: invalid map key type ${f.keyType}`);
  }
  const isString = f.keyType === 'string';
  const isBool = f.keyType === 'bool';
  return {
    type: f.keyType,
    // Keys are strings at runtime whatever the proto key type (as in protobufjs); numeric indexing
    // still type-checks against a string index signature.
    ts: 'string',
    wire: scalar.wire,
    io: f.keyType,
    // Expression turning the object key `k` (always a string at runtime) into the wire value.
    toWire: isString ? 'k' : isBool ? "k === 'true'" : 'Number(k)',
    zero: isString ? "''" : isBool ? 'false' : '0',
  };
}

/** Zero value of a map entry's value when the entry omits it. */
function mapValueZero(fi) {
  return fi.isMessage ? `create_${fi.tsType}(undefined)` : fi.zero;
}

function tagOf(id, wire) {
  return ((id << 3) | wire) >>> 0;
}

function emitEnum(e) {
  const name = tsName(e);
  const entries = Object.entries(e.values);
  const out = [];
  out.push(doc(e.comment, '', `Proto enum \`${fullName(e)}\`.`));
  out.push(`export enum ${name} {\n`);
  for (const [k, v] of entries) {
    const c = e.comments?.[k];
    out.push(doc(c, '  '));
    out.push(`  ${k} = ${v},\n`);
  }
  out.push('}\n\n');
  const byNumber = new Map();
  for (const [k, v] of entries) if (!byNumber.has(v)) byNumber.set(v, k);
  out.push(`/** Names of {@link ${name}} values, by number (the JSON spelling). */\n`);
  out.push(`export const ${name}_names: Readonly<Record<number, string>> = {\n`);
  for (const [v, k] of byNumber) out.push(`  ${v}: ${JSON.stringify(k)},\n`);
  out.push('};\n\n');
  out.push(`/** Numbers of {@link ${name}} values, by name. */\n`);
  out.push(`export const ${name}_values: Readonly<Record<string, number>> = {\n`);
  for (const [k, v] of entries) out.push(`  ${k}: ${v},\n`);
  out.push('};\n\n');
  return out.join('');
}

function emitInterface(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(doc(t.comment, '', `Proto message \`${fullName(t)}\`.`));
  out.push(`export interface ${name} {\n`);
  for (const fi of fields) {
    const extra =
      fi.oneof && !fi.oneof.name.startsWith('_') ? `Member of oneof \`${fi.oneof.name}\`.` : undefined;
    out.push(doc(fi.f.comment, '  ', extra));
    if (fi.presence === 'map') out.push(`  ${fi.name}: { [key: ${fi.key.ts}]: ${fi.tsType} };\n`);
    else if (fi.presence === 'repeated') out.push(`  ${fi.name}: ${fi.tsType}[];\n`);
    else if (fi.presence === 'message' || fi.presence === 'oneof') out.push(`  ${fi.name}?: ${fi.tsType};\n`);
    else out.push(`  ${fi.name}: ${fi.tsType};\n`);
  }
  out.push('}\n\n');
  return out.join('');
}

/** Condition under which a singular value `v` must be written. */
function writeCondition(fi) {
  if (fi.presence !== 'implicit') return 'v != null';
  if (fi.kind === 'bytes') return 'v != null && v.length !== 0';
  if (fi.kind === 'string') return "v != null && v !== ''";
  if (fi.kind === 'bool') return 'v === true';
  if (fi.big) return 'v != null && v !== 0n';
  return 'v != null && v !== 0';
}

function emitWriteValue(fi, expr, indent) {
  if (fi.isMessage) {
    return (
      `${indent}{\n${indent}  const at = w.fork();\n` +
      `${indent}  write_${fi.tsType}(${expr}, w);\n${indent}  w.join(at);\n${indent}}\n`
    );
  }
  return `${indent}w.${fi.io}(${expr});\n`;
}

function emitWriter(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(`function write_${name}(m: DeepPartial<${name}>, w: Writer): void {\n`);
  for (const fi of fields) {
    out.push(`  {\n    const v = m.${fi.name};\n`);
    if (fi.presence === 'map') {
      // Map entries are messages {1: key, 2: value}; both are always written.
      out.push(`    if (v != null) {\n      for (const k of Object.keys(v)) {\n`);
      out.push(`        const e = v[k];\n        if (e == null) continue;\n`);
      out.push(`        w.uint32(${tagOf(fi.id, WIRE_LEN)});\n        const at = w.fork();\n`);
      out.push(`        w.uint32(${tagOf(1, fi.key.wire)});\n        w.${fi.key.io}(${fi.key.toWire});\n`);
      out.push(`        w.uint32(${tagOf(2, fi.wire)});\n`);
      out.push(emitWriteValue(fi, 'e', '        '));
      out.push(`        w.join(at);\n      }\n    }\n`);
    } else if (fi.presence === 'repeated') {
      if (fi.packed) {
        out.push(`    if (v != null && v.length !== 0) {\n`);
        out.push(`      w.uint32(${tagOf(fi.id, WIRE_LEN)});\n      const at = w.fork();\n`);
        out.push(`      for (const e of v) w.${fi.io}(e);\n      w.join(at);\n    }\n`);
      } else {
        out.push(`    if (v != null) {\n      for (const e of v) {\n`);
        out.push(`        w.uint32(${tagOf(fi.id, fi.wire)});\n`);
        out.push(emitWriteValue(fi, 'e', '        '));
        out.push(`      }\n    }\n`);
      }
    } else if (fi.presence === 'explicit') {
      // proto2 scalars have no presence in the TS shape: always write them (absent input = default),
      // byte-compatible with gogoproto's nullable=false output that etcd's raftpb and walpb use.
      out.push(`    w.uint32(${tagOf(fi.id, fi.wire)});\n`);
      out.push(emitWriteValue(fi, `v ?? (${fi.zero})`, '    '));
    } else {
      out.push(`    if (${writeCondition(fi)}) {\n      w.uint32(${tagOf(fi.id, fi.wire)});\n`);
      out.push(emitWriteValue(fi, 'v', '      '));
      out.push(`    }\n`);
    }
    out.push('  }\n');
  }
  out.push('}\n\n');
  return out.join('');
}

function emitReadValue(fi) {
  if (fi.isMessage) return `read_${fi.tsType}(r, r.delimited())`;
  if (fi.isEnum) return `r.int32() as ${fi.tsType}`;
  return `r.${fi.io}()`;
}

function emitReader(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(`function read_${name}(r: Reader, end: number): ${name} {\n`);
  out.push(`  const m: ${name} = {\n`);
  for (const fi of fields) {
    if (fi.presence === 'map') out.push(`    ${fi.name}: {},\n`);
    else if (fi.presence === 'repeated') out.push(`    ${fi.name}: [],\n`);
    else if (fi.presence === 'message' || fi.presence === 'oneof') out.push(`    ${fi.name}: undefined,\n`);
    else out.push(`    ${fi.name}: ${fi.zero},\n`);
  }
  out.push('  };\n');
  out.push('  while (r.pos < end) {\n    const t = r.uint32();\n    switch (t) {\n');
  for (const fi of fields) {
    const tag = tagOf(fi.id, fi.wire);
    if (fi.presence === 'map') {
      out.push(`      case ${tagOf(fi.id, WIRE_LEN)}: {\n        const e = r.delimited();\n`);
      const keyTs = fi.key.type === 'bool' ? 'boolean' : fi.key.type === 'string' ? 'string' : 'number';
      out.push(`        let k: ${keyTs} = ${fi.key.zero};\n`);
      out.push(`        let val: ${fi.tsType} | undefined;\n`);
      out.push(`        while (r.pos < e) {\n          const et = r.uint32();\n          switch (et) {\n`);
      out.push(
        `            case ${tagOf(1, fi.key.wire)}:\n              k = r.${fi.key.io}();\n              break;\n`,
      );
      if (fi.isMessage) {
        out.push(`            case ${tagOf(2, fi.wire)}: {\n              const ve = r.delimited();\n`);
        out.push(
          `              val = read_${fi.tsType}(r, ve);\n              checkEnd(r, ve);\n              break;\n            }\n`,
        );
      } else {
        out.push(
          `            case ${tagOf(2, fi.wire)}:\n              val = ${emitReadValue(fi)};\n              break;\n`,
        );
      }
      out.push(
        `            default:\n              r.skip(et);\n          }\n        }\n        checkEnd(r, e);\n`,
      );
      out.push(`        m.${fi.name}[String(k)] = val ?? ${mapValueZero(fi)};\n`);
      out.push('        break;\n      }\n');
      continue;
    }
    if (fi.presence === 'repeated') {
      if (fi.packable) {
        // Accept both packed and unpacked encodings, as the spec requires of parsers.
        out.push(`      case ${tagOf(fi.id, WIRE_LEN)}: {\n        const e = r.delimited();\n`);
        out.push(`        while (r.pos < e) m.${fi.name}.push(${emitReadValue(fi)});\n`);
        out.push(`        checkEnd(r, e);\n        break;\n      }\n`);
        out.push(`      case ${tag}:\n        m.${fi.name}.push(${emitReadValue(fi)});\n        break;\n`);
      } else if (fi.isMessage) {
        out.push(`      case ${tag}: {\n        const e = r.delimited();\n`);
        out.push(
          `        m.${fi.name}.push(read_${fi.tsType}(r, e));\n        checkEnd(r, e);\n        break;\n      }\n`,
        );
      } else {
        out.push(`      case ${tag}:\n        m.${fi.name}.push(${emitReadValue(fi)});\n        break;\n`);
      }
      continue;
    }
    out.push(`      case ${tag}: {\n`);
    if (fi.isMessage) {
      out.push(`        const e = r.delimited();\n        m.${fi.name} = read_${fi.tsType}(r, e);\n`);
      out.push(`        checkEnd(r, e);\n`);
    } else {
      out.push(`        m.${fi.name} = ${emitReadValue(fi)};\n`);
    }
    if (fi.presence === 'oneof') {
      // Last member seen wins, as in every protobuf implementation.
      for (const other of fields) {
        if (other !== fi && other.oneof === fi.oneof) out.push(`        m.${other.name} = undefined;\n`);
      }
    }
    out.push('        break;\n      }\n');
  }
  out.push('      default:\n        r.skip(t);\n    }\n  }\n');
  out.push('  return m;\n}\n\n');
  return out.join('');
}

function emitCreate(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(`function create_${name}(i: DeepPartial<${name}> | undefined): ${name} {\n`);
  out.push(`  if (i == null) {\n    return {\n`);
  for (const fi of fields) {
    if (fi.presence === 'map') out.push(`      ${fi.name}: {},\n`);
    else if (fi.presence === 'repeated') out.push(`      ${fi.name}: [],\n`);
    else if (fi.presence === 'message' || fi.presence === 'oneof') out.push(`      ${fi.name}: undefined,\n`);
    else out.push(`      ${fi.name}: ${fi.zero},\n`);
  }
  out.push('    };\n  }\n  return {\n');
  for (const fi of fields) {
    const v = `i.${fi.name}`;
    if (fi.presence === 'map') {
      const conv = fi.isMessage ? `create_${fi.tsType}(e)` : 'e';
      out.push(
        `    ${fi.name}: ${v} == null ? {} : Object.fromEntries(Object.entries(${v}).filter(([, e]) => e != null)` +
          `.map(([k, e]) => [k, ${conv}])) as { [key: string]: ${fi.tsType} },\n`,
      );
    } else if (fi.presence === 'repeated') {
      if (fi.isMessage)
        out.push(`    ${fi.name}: ${v} == null ? [] : ${v}.map((e) => create_${fi.tsType}(e)),\n`);
      else out.push(`    ${fi.name}: ${v} == null ? [] : ${v}.slice(),\n`);
    } else if (fi.isMessage) {
      out.push(`    ${fi.name}: ${v} == null ? undefined : create_${fi.tsType}(${v}),\n`);
    } else if (fi.presence === 'oneof') {
      out.push(`    ${fi.name}: ${v} ?? undefined,\n`);
    } else {
      out.push(`    ${fi.name}: ${v} ?? ${fi.zero},\n`);
    }
  }
  out.push('  };\n}\n\n');
  return out.join('');
}

function jsonOutValue(fi, expr) {
  if (fi.isMessage) return `json_${fi.tsType}(${expr})`;
  if (fi.isEnum) return `jsonEnumOut(${expr}, ${fi.tsType}_names)`;
  if (fi.long) return `String(${expr})`;
  if (fi.kind === 'bytes') return `base64Encode(${expr})`;
  if (fi.kind === 'float' || fi.kind === 'double') return `jsonFloatOut(${expr})`;
  return expr;
}

function emitToJson(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(`function json_${name}(m: DeepPartial<${name}>): JsonObject {\n  const o: JsonObject = {};\n`);
  for (const fi of fields) {
    const target = prop('o', fi.protoName);
    out.push(`  {\n    const v = m.${fi.name};\n`);
    if (fi.presence === 'map') {
      out.push(`    if (v != null && Object.keys(v).length !== 0) {\n      const mo: JsonObject = {};\n`);
      out.push(
        `      for (const [k, e] of Object.entries(v)) if (e != null) mo[k] = ${jsonOutValue(fi, 'e')};\n`,
      );
      out.push(`      ${target} = mo;\n    }\n`);
    } else if (fi.presence === 'repeated') {
      out.push(`    if (v != null && v.length !== 0) ${target} = v.map((e) => ${jsonOutValue(fi, 'e')});\n`);
    } else {
      // JSON omits default values for every field without explicit presence (grpc-gateway, EmitDefaults off).
      const cond =
        fi.presence === 'explicit' ? writeCondition({ ...fi, presence: 'implicit' }) : writeCondition(fi);
      out.push(`    if (${cond}) ${target} = ${jsonOutValue(fi, 'v')};\n`);
    }
    out.push('  }\n');
  }
  out.push('  return o;\n}\n\n');
  return out.join('');
}

function jsonInValue(fi, expr, path) {
  if (fi.isMessage) return `fromJson_${fi.tsType}(${expr}, ${path})`;
  if (fi.isEnum) return `jsonEnum(${expr}, ${path}, ${fi.tsType}_values) as ${fi.tsType}`;
  if (fi.big) return `jsonBig(${expr}, ${path}, ${fi.kind === 'uint64' || fi.kind === 'fixed64'})`;
  switch (fi.kind) {
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return `jsonInt64(${expr}, ${path})`;
    case 'uint64':
    case 'fixed64':
      return `jsonUint64(${expr}, ${path})`;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return `jsonInt32(${expr}, ${path})`;
    case 'uint32':
    case 'fixed32':
      return `jsonUint32(${expr}, ${path})`;
    case 'float':
    case 'double':
      return `jsonFloat(${expr}, ${path})`;
    case 'bool':
      return `jsonBool(${expr}, ${path})`;
    case 'string':
      return `jsonString(${expr}, ${path})`;
    case 'bytes':
      return `jsonBytes(${expr}, ${path})`;
    default:
      throw new Error(`unhandled kind ${fi.kind}`);
  }
}

function emitFromJson(t, fields) {
  const name = tsName(t);
  const out = [];
  out.push(`function fromJson_${name}(x: unknown, path: string): ${name} {\n`);
  out.push(`  const o = jsonObject(x, path);\n  const m = create_${name}(undefined);\n`);
  if (fields.length) out.push('  let v: unknown;\n');
  for (const fi of fields) {
    out.push(`  v = jsonField(o, ${JSON.stringify(fi.protoName)}, ${JSON.stringify(fi.jsonName)});\n`);
    const p = `\`\${path}.${fi.protoName}\``;
    if (fi.presence === 'map') {
      const kp = `\`\${path}.${fi.protoName}[\${k}]\``;
      const keyCheck =
        fi.key.type === 'string'
          ? ''
          : fi.key.type === 'bool'
            ? `jsonBool(k, ${kp}); `
            : `${jsonInValue({ ...fi, isMessage: false, isEnum: false, kind: fi.key.type }, 'k', kp)}; `;
      out.push(`  if (v !== undefined) {\n    for (const [k, e] of Object.entries(jsonObject(v, ${p}))) {\n`);
      out.push(`      ${keyCheck}if (e === null) continue;\n`);
      out.push(`      m.${fi.name}[k] = ${jsonInValue(fi, 'e', kp)};\n    }\n  }\n`);
    } else if (fi.presence === 'repeated') {
      out.push(
        `  if (v !== undefined) m.${fi.name} = jsonArray(v, ${p}).map((e, n) => ` +
          `${jsonInValue(fi, 'e', `\`\${path}.${fi.protoName}[\${n}]\``)});\n`,
      );
    } else {
      out.push(`  if (v !== undefined) m.${fi.name} = ${jsonInValue(fi, 'v', p)};\n`);
    }
  }
  out.push('  return m;\n}\n\n');
  return out.join('');
}

function emitCodecConst(t) {
  const name = tsName(t);
  const fn = fullName(t);
  return (
    `/** Codec for {@link ${name}} (\`${fn}\`). */\n` +
    `export const ${name} = {\n` +
    `  /** Fully qualified proto name. */\n` +
    `  typeName: ${JSON.stringify(fn)},\n` +
    `  /** Builds a complete message from a partial one, filling proto3 defaults. */\n` +
    `  create: (init?: DeepPartial<${name}>): ${name} => create_${name}(init),\n` +
    `  /** Encodes to protobuf binary; absent and default-valued fields are skipped. */\n` +
    `  encode: (m: DeepPartial<${name}>): Uint8Array => {\n` +
    `    const w = startEncode();\n    write_${name}(m, w);\n    return finishEncode(w);\n  },\n` +
    `  /** Decodes protobuf binary; throws ProtoDecodeError on malformed input. */\n` +
    `  decode: (b: Uint8Array): ${name} => {\n` +
    `    const r = startDecode(b, ${JSON.stringify(fn)});\n` +
    `    try {\n      return read_${name}(r, r.end);\n    } catch (e) {\n` +
    `      throw decodeError(e, ${JSON.stringify(fn)});\n    }\n  },\n` +
    `  /** Maps to grpc-gateway JSON (proto field names, 64-bit as strings, bytes as base64). */\n` +
    `  toJSON: (m: DeepPartial<${name}>): JsonObject => json_${name}(m),\n` +
    `  /** Maps from JSON (proto or camelCase names); throws ProtoJsonError on bad input. */\n` +
    `  fromJSON: (o: unknown): ${name} => fromJson_${name}(o, ${JSON.stringify(fn)}),\n` +
    '} as const;\n\n'
  );
}

function emitMessage(t) {
  const fields = t.fieldsArray
    .slice()
    .sort((a, b) => a.id - b.id)
    .map(fieldInfo);
  return [
    emitInterface(t, fields),
    emitCodecConst(t),
    emitCreate(t, fields),
    emitWriter(t, fields),
    emitReader(t, fields),
    emitToJson(t, fields),
    emitFromJson(t, fields),
  ].join('');
}

/** Gateway annotation kept as a comment on an RPC, e.g. `// POST /v3/kv/range`. */
const HTTP_COMMENT = /^\s*(GET|POST|PUT|DELETE|PATCH)\s+(\/\S+)\s*$/gm;

function emitService(s, routes) {
  const name = `${tsName(s)}Service`;
  const out = [];
  out.push(
    doc(
      s.comment,
      '',
      `grpc-js service definition for \`${fullName(s)}\`: \`server.addService(${name}, impl)\` or ` +
        `\`makeGenericClientConstructor(${name}, '${s.name}')\`.`,
    ),
  );
  out.push(`export const ${name} = {\n`);
  for (const m of s.methodsArray) {
    const req = tsName(m.resolvedRequestType);
    const res = tsName(m.resolvedResponseType);
    const key = lowerFirst(m.name);
    out.push(doc(m.comment, '  '));
    out.push(`  ${key}: {\n`);
    out.push(`    path: ${JSON.stringify(`/${fullName(s)}/${m.name}`)},\n`);
    out.push(
      `    requestStream: ${Boolean(m.requestStream)},\n    responseStream: ${Boolean(m.responseStream)},\n`,
    );
    out.push(`    requestSerialize: (v: DeepPartial<${req}>): Buffer => asBuffer(${req}.encode(v)),\n`);
    out.push(`    requestDeserialize: (b: Buffer): ${req} => ${req}.decode(b),\n`);
    out.push(`    responseSerialize: (v: DeepPartial<${res}>): Buffer => asBuffer(${res}.encode(v)),\n`);
    out.push(`    responseDeserialize: (b: Buffer): ${res} => ${res}.decode(b),\n`);
    out.push(`    originalName: ${JSON.stringify(m.name)},\n  },\n`);
    for (const http of m.comment ? m.comment.matchAll(HTTP_COMMENT) : []) {
      routes.push({
        httpMethod: http[1],
        path: http[2],
        service: fullName(s),
        serviceConst: name,
        method: m.name,
        key,
        request: req,
        response: res,
        requestStream: Boolean(m.requestStream),
        responseStream: Boolean(m.responseStream),
      });
    }
  }
  out.push('} as const;\n\n');
  return out.join('');
}

function emitRoutes(routes) {
  const out = [];
  out.push('/** The codec operations a JSON gateway needs, shared by every message codec. */\n');
  out.push('export interface GatewayCodec {\n  readonly typeName: string;\n');
  out.push('  fromJSON(o: unknown): object;\n  toJSON(m: object): JsonObject;\n');
  out.push('  encode(m: object): Uint8Array;\n  decode(b: Uint8Array): object;\n}\n\n');
  out.push('/** One JSON gateway route, taken from the `// POST /v3/...` comment on an RPC. */\n');
  out.push('export interface GatewayRoute {\n');
  out.push('  /** HTTP method. */\n  readonly httpMethod: string;\n');
  out.push('  /** Fully qualified service name, e.g. `etcdserverpb.KV`. */\n  readonly service: string;\n');
  out.push('  /** RPC name as declared, e.g. `Range`. */\n  readonly method: string;\n');
  out.push(
    '  /** Key of the method in the service definition constant, e.g. `range`. */\n  readonly key: string;\n',
  );
  out.push('  /** Whether the RPC takes a request stream (the gateway reads newline-delimited JSON). */\n');
  out.push('  readonly requestStream: boolean;\n');
  out.push('  /** Whether the RPC streams responses (the gateway sends newline-delimited JSON). */\n');
  out.push('  readonly responseStream: boolean;\n');
  out.push('  /** Request codec. */\n');
  out.push('  readonly request: GatewayCodec;\n');
  out.push('  /** Response codec. */\n');
  out.push('  readonly response: GatewayCodec;\n}\n\n');
  out.push('/** JSON gateway routes by URL path. */\n');
  out.push('export const GATEWAY_ROUTES: Readonly<Record<string, GatewayRoute>> = {\n');
  for (const r of routes) {
    out.push(
      `  ${JSON.stringify(r.path)}: {\n    httpMethod: ${JSON.stringify(r.httpMethod)},\n` +
        `    service: ${JSON.stringify(r.service)},\n    method: ${JSON.stringify(r.method)},\n` +
        `    key: ${JSON.stringify(r.key)},\n    requestStream: ${r.requestStream},\n` +
        `    responseStream: ${r.responseStream},\n` +
        `    request: ${r.request},\n    response: ${r.response},\n  },\n`,
    );
  }
  out.push('};\n');
  return out.join('');
}

/**
 * Renders the complete generated file.
 * @param {{messages: any[], enums: any[], services: any[]}} decls
 * @param {string[]} sources proto paths (relative to the repository) the target was generated from
 * @param {string[]} [bigint] selectors of 64-bit fields emitted as `bigint` (`pkg.Msg.field`, `*` wildcard)
 */
export function emitFile(decls, sources, bigint = []) {
  isBigintField = bigintMatcher(bigint);
  const out = [];
  out.push('// Code generated by tools/gen-proto.mjs. DO NOT EDIT.\n');
  out.push(`// Sources: ${sources.join(', ')}\n`);
  out.push('// Regenerate with `node tools/gen-proto.mjs`; `--check` verifies this file is current.\n');
  out.push('/* eslint-disable */\n\n');
  out.push(runtimeSource.trimEnd());
  out.push('\n\n');
  if (decls.services.length) {
    out.push(grpcRuntimeSource.trimEnd());
    out.push('\n\n');
  }
  out.push('// ---- enums ----\n\n');
  for (const e of decls.enums) out.push(emitEnum(e));
  out.push('// ---- messages ----\n\n');
  for (const t of decls.messages) out.push(emitMessage(t));
  const routes = [];
  if (decls.services.length) {
    out.push('// ---- services ----\n\n');
    for (const s of decls.services) out.push(emitService(s, routes));
  }
  if (routes.length) out.push(emitRoutes(routes));
  const unused = isBigintField.unused?.() ?? [];
  if (unused.length) throw new Error(`bigint selectors match no 64-bit field: ${unused.join(', ')}`);
  return `${out.join('').trimEnd()}\n`;
}
