/**
 * The server's view of @kv/mvcc: one narrow interface (what the apply layer, the read path and the
 * maintenance API need) over MvccStore + Backend, so the rest of the server does not depend on the
 * store's exact shapes.
 */

import { join } from 'node:path';
import {
  type Backend,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  ErrStorage,
  type Event,
  type IndexEvent,
  type KeyValue,
  MvccStore,
  openBackend,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type TxnRequest,
  type TxnResponse,
  toId,
} from '@kv/mvcc';
import type { ServerConfig } from '../config/parse.js';
import { withTestBackend } from '../failpoints.js';
import { Status as GrpcStatus } from '../transport/grpc/status.js';
import { checkEngineRecord } from './engine-record.js';
import { EtcdError } from './errors.js';

type MvccTxnResponse = TxnResponse;

export type {
  DeleteRangeRequest,
  KeyValue,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '@kv/mvcc';

/** An MVCC event (PUT=0, DELETE=1). */
export type KvEvent = Event;

/** Result of a write: response, revision after it, events produced. */
export interface WriteResult<R> {
  response: R;
  revision: number;
  events: KvEvent[];
}

/** What the server needs from the store. */
export interface KvStore {
  readonly backend: Backend;
  readonly mvcc: MvccStore;
  rev(): number;
  compactRevision(): number;
  consistentIndex(): number;
  range(req: RangeRequest): Promise<{ response: RangeResponse; revision: number }>;
  put(req: PutRequest, ctx: { index: number }): Promise<WriteResult<PutResponse>>;
  deleteRange(req: DeleteRangeRequest, ctx: { index: number }): Promise<WriteResult<DeleteRangeResponse>>;
  txn(req: TxnRequest, ctx: { index: number }): Promise<WriteResult<TxnResponse>>;
  /**
   * The same writes without a promise: the result, or undefined (nothing written) when the store's
   * write lock is busy or the write reads a revision that is not in memory; then use the async form.
   */
  tryPut(req: PutRequest, ctx: { index: number }): WriteResult<PutResponse> | undefined;
  tryDeleteRange(
    req: DeleteRangeRequest,
    ctx: { index: number },
  ): WriteResult<DeleteRangeResponse> | undefined;
  tryTxn(req: TxnRequest, ctx: { index: number }): WriteResult<TxnResponse> | undefined;
  /** Evaluates a txn without writes locally (no revision, no raft). */
  readTxn(req: TxnRequest): Promise<{ response: TxnResponse; revision: number }>;
  /** Compacts (logically at once); `physical` resolves once dead revisions are removed. */
  compact(rev: number, ctx: { index: number }): Promise<{ revision: number; physical: Promise<void> }>;
  /** Writes a server-owned bucket in the next batched commit (with ctx: also the consistent index). */
  putMeta(bucket: string, key: Uint8Array, value: Uint8Array, ctx?: { index: number }): void;
  deleteMeta(bucket: string, key: Uint8Array, ctx?: { index: number }): void;
  /** Records an applied entry that wrote nothing to the store. */
  setConsistentIndex(index: number): void;
  rangeMeta(bucket: string): Promise<Array<[Uint8Array, Uint8Array]>>;
  /** Current keys that carry a lease, by lease id. */
  keysWithLease(): Promise<Map<bigint, Uint8Array[]>>;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** The whole backend as one buffer (memory engine snapshots). */
  dumpBackend(): Promise<Uint8Array>;
  restoreBackend(dump: Uint8Array): Promise<void>;
}

/**
 * Opens the backend of the configured engine and the MVCC store on it. The data dir's engine record
 * is checked first (and written for a new data dir): a data dir created with another engine is
 * refused with `EngineMismatchError` before anything is opened or created (see engine-record.ts).
 */
export async function openKvStore(
  engine: ServerConfig['backend'],
  path: string,
  cfg: Pick<
    ServerConfig,
    | 'backendBatchIntervalMs'
    | 'backendBatchLimit'
    | 'watchProgressNotifyIntervalMs'
    | 'dataDir'
    | 'walDir'
    | 'backendMaxOpenFiles'
  >,
  hooks: { onCommit?: (seconds: number) => void; onIndexEvent?: (event: IndexEvent) => void } = {},
): Promise<KvStore> {
  await checkEngineRecord({ dataDir: cfg.dataDir, walDir: cfg.walDir, dbPath: path }, engine);
  const open = async () =>
    withTestBackend(
      await openBackend(
        engine === 'memory' ? { engine } : { engine, path, maxOpenFiles: cfg.backendMaxOpenFiles },
      ),
    );
  let backend = await open();
  const storeOpts = {
    batchInterval: cfg.backendBatchIntervalMs,
    batchLimit: cfg.backendBatchLimit,
    watch: { progressInterval: cfg.watchProgressNotifyIntervalMs },
    onCommit: hooks.onCommit,
    // A clean stop saves the key index next to the backend's files and the next start loads it instead
    // of reading every revision (MvccStore's indexFile; docs/benchmarks.md "Restart and RSS (session 6)").
    indexFile: engine === 'memory' ? undefined : join(path, KEY_INDEX_FILE),
    onIndexEvent: hooks.onIndexEvent,
  };
  let mvcc = await MvccStore.open(backend, storeOpts);
  const store: KvStore = {
    get backend() {
      return backend;
    },
    get mvcc() {
      return mvcc;
    },
    rev: () => mvcc.rev(),
    compactRevision: () => mvcc.compactRevision(),
    consistentIndex: () => mvcc.consistentIndex(),
    async range(req) {
      try {
        const r = await mvcc.range(req);
        return { response: { kvs: r.kvs, more: r.more, count: r.count }, revision: r.revision };
      } catch (err) {
        throw storageToEtcd(err);
      }
    },
    // The store's own result already has this shape (plus `skipped`): passed on as is, without an extra
    // async hop and object per applied write.
    put: (req, ctx) => mvcc.put(req, ctx),
    deleteRange: (req, ctx) => mvcc.deleteRange(req, ctx),
    txn: (req, ctx) => mvcc.txn(req, ctx),
    tryPut: (req, ctx) => mvcc.tryPut(req, ctx),
    tryDeleteRange: (req, ctx) => mvcc.tryDeleteRange(req, ctx),
    tryTxn: (req, ctx) => mvcc.tryTxn(req, ctx),
    async compact(rev, ctx) {
      const r = await mvcc.compact(rev, ctx);
      return { revision: r.revision, physical: r.response.physical };
    },
    readTxn: (req) => readOnlyTxn(mvcc, req).catch((err: unknown) => Promise.reject(storageToEtcd(err))),
    putMeta: (bucket, key, value, ctx) => mvcc.putMeta(bucket, key, value, ctx),
    deleteMeta: (bucket, key, ctx) => mvcc.deleteMeta(bucket, key, ctx),
    setConsistentIndex: (index) => mvcc.setConsistentIndex(index),
    async rangeMeta(bucket) {
      return await mvcc.rangeMeta(bucket);
    },
    async keysWithLease() {
      return await mvcc.keysWithLease();
    },
    flush: () => mvcc.flush(),
    async close() {
      await mvcc.close(); // closes the backend too
    },
    async dumpBackend() {
      await mvcc.flush();
      const parts: Uint8Array[] = [];
      for await (const chunk of backend.snapshot()) parts.push(chunk);
      return Buffer.concat(parts);
    },
    async restoreBackend(dump) {
      // Closes the backend too; no saved index: the backend's contents are about to be replaced.
      await mvcc.close({ saveIndex: false });
      backend = await open();
      await backend.restore([dump]);
      mvcc = await MvccStore.open(backend, storeOpts);
    },
  };
  return store;
}

const EMPTY = new Uint8Array(0);

/** The saved key index's file name inside the backend's directory. */
export const KEY_INDEX_FILE = 'kv-key-index';

/**
 * A failed storage read answers the request with gRPC INTERNAL and the engine's error (etcd panics
 * instead); the gRPC layer logs INTERNAL answers. Other errors pass unchanged.
 */
export function storageToEtcd(err: unknown): unknown {
  return err instanceof ErrStorage ? new EtcdError(GrpcStatus.INTERNAL, `etcdserver: ${err.message}`) : err;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** -1, 0 or 1 as lease id `a` sorts before, with or after `b`. */
function compareIds(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** etcd's compareKV for one kv. */
function compareKv(c: NonNullable<TxnRequest['compare']>[number], kv: KeyValue): boolean {
  let r: number;
  switch (c.target ?? 0) {
    case 3:
      r = cmpBytes(kv.value, c.value ?? EMPTY);
      break;
    case 1:
      r = Math.sign(kv.createRevision - Number(c.createRevision ?? 0));
      break;
    case 2:
      r = Math.sign(kv.modRevision - Number(c.modRevision ?? 0));
      break;
    case 4:
      r = compareIds(kv.lease, toId(c.lease));
      break;
    default:
      r = Math.sign(kv.version - Number(c.version ?? 0));
  }
  switch (c.result ?? 0) {
    case 0:
      return r === 0;
    case 1:
      return r > 0;
    case 2:
      return r < 0;
    case 3:
      return r !== 0;
    default:
      return true; // etcd's compareKV: an unknown result compares true
  }
}

/** A txn without writes, evaluated against one revision of the store (no raft round, no revision). */
async function readOnlyTxn(
  mvcc: MvccStore,
  req: TxnRequest,
  at?: number,
): Promise<{ response: MvccTxnResponse; revision: number }> {
  const rev = at ?? mvcc.rev();
  let ok = true;
  for (const c of req.compare ?? []) {
    const r = await mvcc.range({ key: c.key, rangeEnd: c.rangeEnd, revision: rev });
    const pass =
      r.kvs.length === 0
        ? (c.target ?? 0) !== 3 &&
          compareKv(c, { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n })
        : r.kvs.every((kv) => compareKv(c, kv));
    if (!pass) {
      ok = false;
      break;
    }
  }
  const responses: MvccTxnResponse['responses'] = [];
  for (const op of (ok ? req.success : req.failure) ?? []) {
    if (op.requestRange) {
      const rr = op.requestRange;
      const r = await mvcc.range({ ...rr, revision: Number(rr.revision ?? 0) > 0 ? rr.revision : rev });
      responses.push({ responseRange: { kvs: r.kvs, more: r.more, count: r.count } });
    } else if (op.requestTxn) {
      responses.push({ responseTxn: (await readOnlyTxn(mvcc, op.requestTxn, rev)).response });
    }
  }
  return { response: { succeeded: ok, responses }, revision: rev };
}
