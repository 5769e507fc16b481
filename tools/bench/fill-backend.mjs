// Fills a stopped kv-server's backend directly with `--mib` MiB of key revisions, far faster than
// puts through the server (a 1 GiB data dir in seconds instead of minutes): each key `<prefix>NNNNNNNNN`
// gets one revision above the store's current one, with a `--value`-byte value: a slice of a 64 MiB
// random pool, so LevelDB's snappy compression (per 4 KiB block) cannot shrink the tables. Raft never saw these writes: the data
// dir is a test and benchmark fixture, not a member of a real cluster. The server's index rebuild at
// the next start picks the keys up (MvccStore.restore scans the key bucket).
// Usage (the server must be stopped; its data dir made by one start with --backend level):
//   node tools/bench/fill-backend.mjs --data-dir DIR [--mib 1024] [--value 65536] [--prefix big/] [--compact]
// Build @kv/mvcc first. Prints one JSON line.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { encodeKeyValue, KEY_BUCKET, openBackend, revToBytes } from '../../packages/mvcc/dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const dataDir = arg('data-dir', undefined);
if (!dataDir) throw new Error('--data-dir is required');
const mib = Number(arg('mib', '1024'));
const valueBytes = Number(arg('value', '65536'));
const prefix = arg('prefix', 'big/');
const count = Math.ceil((mib * 1024 * 1024) / valueBytes);
// One LevelDB batch per 2 MiB: the engine's write buffer size (level.ts), so each batch is about one table.
const perBatch = Math.max(1, Math.floor((2 << 20) / valueBytes));
const enc = new TextEncoder();

const started = Date.now();
const backend = await openBackend({ engine: 'level', path: join(dataDir, 'member', 'snap', 'db') });
let rev = 1;
for await (const chunk of backend.scanChunks(KEY_BUCKET, { reverse: true, limit: 1 })) {
  for (const [k] of chunk) rev = Number(new DataView(k.buffer, k.byteOffset).getBigUint64(0));
}
const firstRev = rev + 1;
const pool = randomBytes(Math.max(64 << 20, 2 * valueBytes));
const slots = Math.floor((pool.length - valueBytes) / 4096);
for (let i = 0; i < count; ) {
  const batch = backend.batch();
  for (let j = 0; j < perBatch && i < count; j++, i++) {
    rev++;
    const kv = {
      key: enc.encode(`${prefix}${String(i).padStart(9, '0')}`),
      createRevision: rev,
      modRevision: rev,
      version: 1,
      value: pool.subarray((i % slots) * 4096 + (i % 4096), (i % slots) * 4096 + (i % 4096) + valueBytes),
      lease: 0n,
    };
    batch.put(KEY_BUCKET, revToBytes(rev, 0), encodeKeyValue(kv));
  }
  await batch.commit();
}
// --compact: let LevelDB finish compacting now (a whole-range compaction), as a long-running member's
// tables would be, so a measurement right after the start does not share the machine with it.
if (process.argv.includes('--compact')) await backend.defragment();
const size = await backend.size();
await backend.close();
console.log(
  JSON.stringify({
    keys: count,
    valueBytes,
    firstRev,
    lastRev: rev,
    backendMiB: Math.round((size / 1024 / 1024) * 10) / 10,
    ms: Date.now() - started,
  }),
);
