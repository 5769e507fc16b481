/**
 * Test-only failpoints and fault modes, for the robustness harness (tools/robustness).
 *
 * Both are read ONCE, from the environment, when this module is first imported; when neither variable
 * is set (production), {@link failpoint} is a constant no-op function and every other export is inert,
 * so the call sites in the hot paths cost one call of an empty function.
 *
 * `KV_FAILPOINTS` arms failpoints, in a subset of gofail's `GOFAIL_FAILPOINTS` syntax (etcd's failpoint
 * tool): `name=[P%]panic` terms separated by `;`, e.g. `KV_FAILPOINTS="raftBeforeSave=5%panic"`. `panic`
 * kills the process on the spot (SIGKILL to itself: no exit handler, no flush, like a crash) after
 * writing one JSON line naming the failpoint to stderr; `P%` fires on that share of the hits (Math.random)
 * instead of the first one. The names are etcd's gofail names where etcd has the same point
 * ({@link FAILPOINTS}); an unknown name or term refuses to start the process. With
 * `KV_FAILPOINTS_FROM=serving` they fire only once the member serves clients (not during a restart).
 *
 * `KV_FAULT` turns on a fault mode that breaks one of etcd's promises ON PURPOSE, so tests can show the
 * checker catches it (comma-separated, {@link FAULTS}):
 * - `ack-before-fsync`: WAL saves are reported done at once and written {@link ACK_BEFORE_FSYNC_DELAY_MS}
 *   later: writes are acknowledged before they are durable, and a SIGKILL loses the last ones.
 * - `stale-follower-read`: linearizable reads are served from local state without a ReadIndex round,
 *   so a lagging or partitioned follower (or a deposed leader) answers with old data.
 */
import { writeSync } from 'node:fs';

/** Failpoints kv-server calls, named like etcd's gofail points at the same place where etcd has one. */
export const FAILPOINTS = [
  /** Before a Ready's hard state and entries are written to the WAL (etcd raft.go). */
  'raftBeforeSave',
  /** After the WAL save returned (fsynced), before the entries reach raft's storage. */
  'raftAfterSave',
  /** Before a backend batch commits (etcd mvcc/backend/batch_tx.go). */
  'beforeCommit',
  /** After a backend batch committed. */
  'afterCommit',
  /** Before a received snapshot (and the database sent with it) is persisted (etcd raft.go). */
  'raftBeforeSaveSnap',
  /** After the received snapshot and its database were written, before the backend is replaced. */
  'raftAfterSaveSnap',
  /** Before a received snapshot replaces the backend and member list (etcd raft.go). */
  'raftBeforeApplySnap',
  /** After the received snapshot was installed. */
  'raftAfterApplySnap',
  /** Before one committed entry is applied (kv only; etcd has no gofail point here in 3.4). */
  'beforeApplyOneEntry',
  /** After one committed entry was applied, before its waiter is answered (kv only). */
  'afterApplyOneEntry',
] as const;

/** A failpoint name. */
export type FailpointName = (typeof FAILPOINTS)[number];

/** Fault modes that break a promise on purpose (tests only). */
export const FAULTS = ['ack-before-fsync', 'stale-follower-read'] as const;

/** A fault mode name. */
export type FaultName = (typeof FAULTS)[number];

/** How long `ack-before-fsync` holds a WAL save after reporting it done. */
export const ACK_BEFORE_FSYNC_DELAY_MS = 500;

/** A malformed `KV_FAILPOINTS` or `KV_FAULT`. */
export class FailpointConfigError extends Error {
  override readonly name = 'FailpointConfigError';
}

/** One armed failpoint: fire on this share of hits (1 = every hit). */
interface Armed {
  probability: number;
}

/**
 * Parses a `KV_FAILPOINTS` value (pure; exported for tests).
 *
 * @example
 * ```ts
 * parseFailpoints('raftBeforeSave=5%panic;afterCommit=panic');
 * // Map { 'raftBeforeSave' => { probability: 0.05 }, 'afterCommit' => { probability: 1 } }
 * ```
 * @throws FailpointConfigError for an unknown name or a term other than `[P%]panic`.
 */
export function parseFailpoints(spec: string): Map<FailpointName, Armed> {
  const armed = new Map<FailpointName, Armed>();
  for (const part of spec.split(';')) {
    const term = part.trim();
    if (!term) continue;
    const eq = term.indexOf('=');
    const name = term.slice(0, eq).trim();
    if (eq < 0 || !(FAILPOINTS as readonly string[]).includes(name)) {
      throw new FailpointConfigError(
        `KV_FAILPOINTS: unknown failpoint in "${term}" (known: ${FAILPOINTS.join(', ')})`,
      );
    }
    const m = /^(?:(\d+(?:\.\d+)?)%)?panic$/.exec(term.slice(eq + 1).trim());
    const pct = m ? (m[1] === undefined ? 100 : Number(m[1])) : Number.NaN;
    if (!m || !(pct > 0 && pct <= 100)) {
      throw new FailpointConfigError(`KV_FAILPOINTS: "${term}" is not name=[P%]panic with 0 < P <= 100`);
    }
    armed.set(name as FailpointName, { probability: pct / 100 });
  }
  return armed;
}

/**
 * Parses a `KV_FAULT` value (pure; exported for tests).
 *
 * @example
 * ```ts
 * parseFaults('ack-before-fsync'); // Set { 'ack-before-fsync' }
 * ```
 * @throws FailpointConfigError for an unknown fault mode.
 */
export function parseFaults(spec: string): Set<FaultName> {
  const faults = new Set<FaultName>();
  for (const part of spec.split(',')) {
    const f = part.trim();
    if (!f) continue;
    if (!(FAULTS as readonly string[]).includes(f)) {
      throw new FailpointConfigError(`KV_FAULT: unknown fault mode "${f}" (known: ${FAULTS.join(', ')})`);
    }
    faults.add(f as FaultName);
  }
  return faults;
}

/** Parses the environment once; a malformed value stops the process with a clear message. */
function fromEnv<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof FailpointConfigError)) throw err;
    writeSync(2, `kv-server: ${err.message}\n`);
    process.exit(1);
  }
}

const ARMED = fromEnv(() => parseFailpoints(process.env.KV_FAILPOINTS ?? ''));
/**
 * `KV_FAILPOINTS_FROM=serving` arms the failpoints only once the member serves clients
 * ({@link failpointsServing}), so a restart's log replay and first saves do not fire them; `start` (the
 * default) arms them at once.
 */
const FROM = fromEnv(() => {
  const v = process.env.KV_FAILPOINTS_FROM ?? 'start';
  if (v !== 'start' && v !== 'serving') {
    throw new FailpointConfigError(`KV_FAILPOINTS_FROM: "${v}" is not start or serving`);
  }
  return v;
});
let live = FROM === 'start';

/**
 * Called once the member serves clients: arms the failpoints under `KV_FAILPOINTS_FROM=serving`.
 *
 * @example
 * ```ts
 * server = await KvServer.start(config);
 * failpointsServing();
 * ```
 */
export function failpointsServing(): void {
  live = true;
}
const ENABLED_FAULTS = fromEnv(() => parseFaults(process.env.KV_FAULT ?? ''));

/** What the environment turned on, for the startup warning (empty lists in production). */
export const testFaultsEnabled: { failpoints: string[]; faults: FaultName[] } = {
  failpoints: [...ARMED].map(
    ([n, a]) => `${n}=${a.probability * 100}%panic${FROM === 'serving' ? ' (once serving)' : ''}`,
  ),
  faults: [...ENABLED_FAULTS],
};

function hit(name: FailpointName): void {
  const armed = ARMED.get(name);
  if (!armed || !live || (armed.probability < 1 && Math.random() >= armed.probability)) return;
  writeSync(
    2,
    `${JSON.stringify({ level: 'fatal', ts: new Date().toISOString(), msg: 'failpoint panic', failpoint: name })}\n`,
  );
  process.kill(process.pid, 'SIGKILL');
}

/**
 * Passes the failpoint `name`: crashes the process here if `KV_FAILPOINTS` armed it, else nothing.
 * Without `KV_FAILPOINTS` this is an empty function.
 *
 * @example
 * ```ts
 * failpoint('raftBeforeSave');
 * await wal.save(hs, entries);
 * failpoint('raftAfterSave');
 * ```
 */
export const failpoint: (name: FailpointName) => void = ARMED.size > 0 ? hit : () => {};

/** Whether the fault mode `name` is on (always false without `KV_FAULT`). */
export function faultEnabled(name: FaultName): boolean {
  return ENABLED_FAULTS.has(name);
}

/** The part of a WAL that `ack-before-fsync` intercepts. */
interface SavingWal {
  save(hardState: unknown, entries: readonly unknown[]): Promise<void>;
  saveSnapshot(marker: unknown): Promise<void>;
  releaseTo(index: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Returns `wal` unchanged, unless `KV_FAULT=ack-before-fsync`: then its saves resolve at once and are
 * written {@link ACK_BEFORE_FSYNC_DELAY_MS} later, in order (the other calls wait for them).
 *
 * @example
 * ```ts
 * this.wal = withTestFaults(b.wal);
 * ```
 */
export function withTestFaults<W extends SavingWal>(wal: W): W {
  if (!ENABLED_FAULTS.has('ack-before-fsync')) return wal;
  const save = wal.save.bind(wal);
  let behind = Promise.resolve();
  const after = <A extends unknown[]>(fn: (...a: A) => Promise<void>) => {
    const call = fn.bind(wal);
    return (...a: A) => behind.then(() => call(...a));
  };
  wal.saveSnapshot = after(wal.saveSnapshot);
  wal.releaseTo = after(wal.releaseTo);
  wal.close = after(wal.close);
  wal.save = (hardState, entries) => {
    const due = Date.now() + ACK_BEFORE_FSYNC_DELAY_MS;
    behind = behind
      .then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await save(hardState, entries);
      })
      .catch((err: unknown) => {
        writeSync(
          2,
          `${JSON.stringify({ level: 'fatal', msg: 'deferred WAL save failed', error: String(err) })}\n`,
        );
        process.exit(1);
      });
    return Promise.resolve();
  };
  return wal;
}

/** Backend batches that can be committed (the part of @kv/mvcc's backend the commit failpoints wrap). */
interface CommittingBackend {
  batch(): { commit(): Promise<void> };
}

/**
 * Returns `backend` unchanged, unless `beforeCommit` or `afterCommit` is armed or `ack-before-fsync` is
 * on: then every batch's commit passes those failpoints, and under `ack-before-fsync` waits until the
 * WAL saves of the entries it holds were written (the delay plus a margin), so that after a crash the
 * backend is never ahead of the WAL and the writes the WAL lost are really lost.
 *
 * @example
 * ```ts
 * const backend = withTestBackend(await openBackend({ engine: 'level', path }));
 * ```
 */
export function withTestBackend<B extends CommittingBackend>(backend: B): B {
  const delayMs = ENABLED_FAULTS.has('ack-before-fsync') ? ACK_BEFORE_FSYNC_DELAY_MS + 200 : 0;
  if (!ARMED.has('beforeCommit') && !ARMED.has('afterCommit') && delayMs === 0) return backend;
  const batch = backend.batch.bind(backend);
  backend.batch = (() => {
    const b = batch();
    const commit = b.commit.bind(b);
    b.commit = async () => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      failpoint('beforeCommit');
      await commit();
      failpoint('afterCommit');
    };
    return b;
  }) as B['batch'];
  return backend;
}
