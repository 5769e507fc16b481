/**
 * The replicated state machine's storage: keys and values in one of @kv/mvcc's engines (memory, LevelDB,
 * LMDB), plus the index of the last raft entry applied, written in the same atomic batch as the entry's
 * effects. On restart that index tells which committed entries a persistent engine already holds, so
 * replaying the log never applies an entry twice.
 */
import { type Backend, bytesToUint64, type EngineName, openBackend, uint64ToBytes } from '@kv/mvcc';
import type { Command } from './command.js';

/** Engine names accepted by `--engine` (the source documents say `leveldb`; @kv/mvcc calls it `level`). */
export const ENGINES = { memory: 'memory', leveldb: 'level', lmdb: 'lmdb' } as const satisfies Record<
  string,
  EngineName
>;

/** An engine name metcd accepts. */
export type MetcdEngine = keyof typeof ENGINES;

const KEYS = 'kv';
const META = 'meta';
const APPLIED = new TextEncoder().encode('applied');

/**
 * Keys, values and the applied index over a @kv/mvcc {@link Backend}.
 *
 * @example
 * ```ts
 * const store = await KvStore.open('leveldb', '/tmp/metcd-1/engine');
 * await store.apply(7, [{ op: 'put', requestId: newRequestId(), key: utf8('a'), value: utf8('1') }]);
 * await store.get(utf8('a')); // Uint8Array [49]
 * ```
 */
export class KvStore {
  private constructor(
    readonly engine: MetcdEngine,
    private readonly backend: Backend,
    private applied: number,
  ) {}

  /** Opens (or creates) the engine; on-disk engines keep their data in `dir`. */
  static async open(engine: MetcdEngine, dir: string): Promise<KvStore> {
    const backend = await openBackend({ engine: ENGINES[engine], path: dir });
    const raw = await backend.get(META, APPLIED);
    return new KvStore(engine, backend, raw ? bytesToUint64(raw) : 0);
  }

  /** Index of the last raft entry whose effects this engine holds (0: none). */
  appliedIndex(): number {
    return this.applied;
  }

  /** The value of `key`, or undefined. Reads the local state: what this member has applied. */
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.backend.get(KEYS, key);
  }

  /** Applies the commands of entries up to `index` and records `index` as applied, atomically. */
  async apply(index: number, commands: readonly Command[]): Promise<void> {
    const batch = this.backend.batch();
    for (const c of commands) {
      if (c.op === 'put') batch.put(KEYS, c.key, c.value);
      else batch.delete(KEYS, c.key);
    }
    batch.put(META, APPLIED, uint64ToBytes(index));
    await batch.commit();
    this.applied = index;
  }

  /** The whole engine as bytes (any engine can restore them), for a raft snapshot. */
  async snapshot(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.backend.snapshot()) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /** Replaces the whole engine with `bytes` from {@link snapshot}, as of raft index `index`. */
  async restore(bytes: Uint8Array, index: number): Promise<void> {
    await this.backend.restore([bytes]);
    await this.apply(index, []);
  }

  /** Number of keys (for status and tests). */
  async keyCount(): Promise<number> {
    let n = 0;
    for await (const chunk of this.backend.scanChunks(KEYS)) n += chunk.length;
    return n;
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}
