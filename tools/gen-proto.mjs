#!/usr/bin/env node
/**
 * gen-proto: .proto files -> one self-contained TypeScript codec file per target.
 *
 * USAGE
 *   node tools/gen-proto.mjs            write every target
 *   node tools/gen-proto.mjs --check    regenerate in memory, list stale/missing files, exit 1 if any
 *   node tools/gen-proto.mjs --only packages/raft   limit to packages whose path contains the string
 *   node tools/gen-proto.mjs --proto a.proto [--proto b.proto] --out x.ts
 *                                       one ad-hoc target outside any package (used by the tests)
 *   ... --bigint 'pkg.Msg.field'       (with --proto/--out, repeatable) a field emitted as bigint
 *
 * TARGETS
 *   Each package lists its own targets in `packages/<pkg>/proto-gen.json` (paths relative to the package):
 *     {"targets": [{"protos": ["../../proto/raft/raftpb/raft.proto"], "out": "src/gen/raft.ts",
 *                   "bigint": ["raftpb.Message.from", "*.ID"]}]}
 *   `bigint` (optional) selects 64-bit fields by full name (`pkg.Message.field`, `*` = any characters)
 *   that are emitted as exact `bigint` instead of `number`; a selector that matches no 64-bit field fails.
 *   Imports resolve next to the importing file first, then under the repository's `proto/` directory
 *   (like `protoc -I proto`). A target contains every message/enum/service declared in its `protos`
 *   plus every type they reference (transitively), so the output imports nothing. Generated files are
 *   committed; biome ignores `**\/gen`. Output is deterministic (declaration order, no timestamps).
 *
 * GENERATED API (per file)
 *   For each message `M` (nested types are named `Parent_Child`):
 *   - `export interface M` with lowerCamelCase fields:
 *       int32/uint32/sint32/fixed32/sfixed32/int64/uint64/sint64/fixed64/sfixed64/double/float -> number
 *         (64-bit values above 2^53 lose precision, so fields holding ids are selected as `bigint`),
 *       a 64-bit field selected by the target's `bigint` list -> bigint (0n default, exact on the wire
 *         and in JSON, where it is a decimal string),
 *       bool -> boolean, string -> string, bytes -> Uint8Array, enum -> its TS enum,
 *       repeated -> T[], singular message -> `field?: Sub`, oneof member -> `field?: T`,
 *       map<K, V> -> `{ [key: string]: V }` (keys are strings at runtime for every key type; JSON
 *       writes every entry, as protojson does)
 *       (a oneof scalar set to 0/''/false is still present and still encoded),
 *       proto3 `optional` -> `field?: T`. proto2 scalars are plain `T` (default from the .proto) and are
 *       always written, matching gogoproto's nullable=false output.
 *   - `export const M = {typeName, create, encode, decode, toJSON, fromJSON}`:
 *       `M.create(partial?)`  -> full M with proto3 defaults filled in,
 *       `M.encode(partial)`   -> Uint8Array (absent/default fields skipped; input may be partial),
 *       `M.decode(bytes)`     -> M with every scalar filled (0, false, '', empty Uint8Array, []);
 *                                the input is copied first (small inputs into a shared slab) and bytes
 *                                fields are views into that private copy, never into the caller's buffer;
 *                                unknown fields are skipped; malformed input (truncation, bad wire type,
 *                                field 0, overlong varint, overrun nesting, stack exhaustion) throws
 *                                `ProtoDecodeError`,
 *       `M.toJSON(partial)`   -> grpc-gateway JSON as etcd configures it: proto (snake_case) names,
 *                                64-bit integers as decimal strings, bytes as base64, enums as names,
 *                                default values omitted,
 *       `M.fromJSON(obj)`     -> accepts snake_case or camelCase names, numbers or strings for integers,
 *                                enum names or numbers, standard or URL-safe base64, null as absent;
 *                                throws `ProtoJsonError`.
 *   For each enum `E`: `export enum E` (numeric), `E_names` (number -> name), `E_values` (name -> number).
 *   For each service `S`: `export const SService`, a grpc-js ServiceDefinition: keys are lowerCamelCase
 *   method names (`range`), each with path `/pkg.S/Method`, requestStream, responseStream, Buffer
 *   (de)serializers and `originalName` ('Range'). Use `server.addService(SService, impl)` and
 *   `makeGenericClientConstructor(SService, 'S')`.
 *   If RPC comments carry a gateway line like `// POST /v3/kv/range`, `GATEWAY_ROUTES` maps each path to
 *   {httpMethod, service, method, key, requestStream, responseStream, request, response}.
 *   Also exported: `ProtoDecodeError`, `ProtoJsonError`, `DeepPartial<T>`, `JsonObject`, `JsonValue`
 *   (and `GrpcMethodDefinition` when the file has services).
 *
 * RUNTIME
 *   tools/gen-proto/runtime.ts (hand-rolled varint Reader/Writer, base64, JSON helpers) is copied into
 *   each output, so packages such as @kv/raft need no protobuf dependency. Not supported: groups and
 *   extensions (the generator fails loudly on groups; extensions are ignored).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emitFile } from './gen-proto/emit.mjs';
import { loadProtos } from './gen-proto/load.mjs';
import { collect } from './gen-proto/model.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const includeRoots = [join(repoRoot, 'proto')];

/** Finds every `packages/<pkg>/proto-gen.json` and returns its targets with absolute paths. */
function discoverTargets(only) {
  const pkgsDir = join(repoRoot, 'packages');
  const targets = [];
  for (const pkg of readdirSync(pkgsDir).sort()) {
    const configPath = join(pkgsDir, pkg, 'proto-gen.json');
    if (!existsSync(configPath)) continue;
    if (only && !relative(repoRoot, configPath).includes(only)) continue;
    let config;
    try {
      config = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new Error(`${relative(repoRoot, configPath)}: ${e.message}`);
    }
    if (!Array.isArray(config.targets))
      throw new Error(`${relative(repoRoot, configPath)}: missing "targets" array`);
    for (const t of config.targets) {
      if (!Array.isArray(t.protos) || typeof t.out !== 'string') {
        throw new Error(
          `${relative(repoRoot, configPath)}: each target needs "protos" (array) and "out" (string)`,
        );
      }
      targets.push({
        config: relative(repoRoot, configPath),
        protos: t.protos.map((p) => resolve(pkgsDir, pkg, p)),
        out: resolve(pkgsDir, pkg, t.out),
        bigint: Array.isArray(t.bigint) ? t.bigint : [],
      });
    }
  }
  return targets;
}

/** Generates the source text of one target. */
export function generateTarget(target) {
  for (const p of target.protos) {
    if (!existsSync(p)) throw new Error(`${target.config}: proto file not found: ${relative(repoRoot, p)}`);
  }
  const root = loadProtos(target.protos, includeRoots);
  const decls = collect(root, target.protos);
  return emitFile(
    decls,
    target.protos.map((p) => relative(repoRoot, p)),
    target.bigint ?? [],
  );
}

/** Values of every `--name value` occurrence in argv. */
function optionValues(argv, name) {
  const out = [];
  argv.forEach((a, i) => {
    if (a === name && i + 1 < argv.length) out.push(argv[i + 1]);
  });
  return out;
}

function main(argv) {
  const check = argv.includes('--check');
  const only = optionValues(argv, '--only')[0];
  const adHocProtos = optionValues(argv, '--proto');
  const adHocOut = optionValues(argv, '--out')[0];
  if (adHocProtos.length > 0 !== (adHocOut !== undefined)) {
    process.stderr.write('gen-proto: --proto and --out go together\n');
    return 2;
  }
  const targets = adHocOut
    ? [
        {
          config: '(command line)',
          protos: adHocProtos.map((p) => resolve(p)),
          out: resolve(adHocOut),
          bigint: optionValues(argv, '--bigint'),
        },
      ]
    : discoverTargets(only);
  const stale = [];
  for (const target of targets) {
    const rel = relative(repoRoot, target.out);
    let source;
    try {
      source = generateTarget(target);
    } catch (e) {
      process.stderr.write(`gen-proto: ${rel}: ${e.message}\n`);
      return 2;
    }
    const current = existsSync(target.out) ? readFileSync(target.out, 'utf8') : undefined;
    if (check) {
      if (current !== source) stale.push(rel);
    } else if (current !== source) {
      mkdirSync(dirname(target.out), { recursive: true });
      writeFileSync(target.out, source);
      process.stdout.write(`gen-proto: wrote ${rel}\n`);
    } else {
      process.stdout.write(`gen-proto: ${rel} is up to date\n`);
    }
  }
  if (check) {
    if (stale.length) {
      process.stderr.write(
        `gen-proto: stale generated files (run \`node tools/gen-proto.mjs\`):\n${stale.map((s) => `  ${s}\n`).join('')}`,
      );
      return 1;
    }
    process.stdout.write(`gen-proto: ${targets.length} generated file(s) are current\n`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
