// Decodes protobuf bytes on stdin as the named etcd message (`node pb-decode.mjs RangeResponse`) and
// prints its grpc-gateway JSON, so the differential test compares `-w protobuf` output field by field
// (ids masked by normalize.ts) instead of as raw bytes that embed random ids.
import * as api from '../../client/dist/api/index.js';

// biome-ignore lint/performance/noDynamicNamespaceImportAccess: the message type is the argument
const codec = api[process.argv[2]];
if (!codec?.decode) {
  process.stderr.write(`pb-decode: unknown message ${process.argv[2]}\n`);
  process.exit(2);
}
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const bytes = Buffer.concat(chunks);
process.stdout.write(
  `${bytes.length === 0 ? '(empty)' : JSON.stringify(codec.toJSON(codec.decode(bytes)))}\n`,
);
