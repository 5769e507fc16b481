/**
 * snapshot restore | status: offline commands on a snapshot file (no server involved). They run the
 * server package's restore code, loaded only when one of them is used so the other commands stay light.
 * Both take etcd's snapshot files (a bbolt database plus its SHA-256, from `etcdctl snapshot save`
 * against etcd or kv-server) and kv's older backend-dump format; `status` prints what etcdctl prints
 * for an etcd file (e2e/test/etcd-snapshot.test.ts compares the two).
 */
import { stat } from 'node:fs/promises';
import type { Ctx } from '../context.js';
import { printTable } from '../display.js';
import { ProgressBar } from '../progress.js';
import { CtlError, Exit, line } from '../util.js';
import { humanBytes } from './cluster.js';

/** The part of @kv/server the offline snapshot commands use. */
type ServerSnapshotApi = Pick<typeof import('@kv/server'), 'restoreSnapshot' | 'snapshotStatus'>;

/**
 * Loads the offline snapshot code from `specifier` (@kv/server). @kv/ctl lists @kv/server as an
 * optional peer dependency: restore and status need its storage engines (native modules), every
 * other command is a plain client and installs without them. Absent, the command fails with a
 * message that says what to install.
 */
export async function loadSnapshotApi(specifier = '@kv/server'): Promise<ServerSnapshotApi> {
  try {
    return (await import(specifier)) as ServerSnapshotApi;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new CtlError(
        `snapshot restore and snapshot status need the ${specifier} package (kv's storage engines), which is not installed; install it next to @kv/ctl (npm install ${specifier})`,
        Exit.badFeature,
      );
    }
    throw e;
  }
}

/** Counts seconds on a stderr bar while `work` runs (restore has no finer progress to report). */
async function withElapsedBar<T>(work: Promise<T>): Promise<T> {
  const bar = new ProgressBar(undefined, { unit: 's elapsed', intervalMs: 0 });
  bar.set(0);
  const tick = setInterval(() => bar.add(1), 1000);
  try {
    return await work;
  } finally {
    clearInterval(tick);
    bar.finish();
  }
}

/** Flags of `snapshot restore`, named as etcdctl's. */
export interface RestoreFlags {
  dataDir?: string;
  walDir?: string;
  name?: string;
  initialCluster?: string;
  initialClusterToken?: string;
  initialAdvertisePeerUrls?: string;
  skipHashCheck?: boolean;
  /** kv only: the engine kv-server will run the restored data dir on (memory, level or lmdb). */
  backend?: 'memory' | 'level' | 'lmdb';
}

/** One etcdctl-style (zap JSON) log line on stderr. */
function logInfo(msg: string, fields: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ level: 'info', ts: Date.now() / 1000, msg, ...fields })}\n`);
}

export async function snapshotRestore(path: string | undefined, flags: RestoreFlags): Promise<void> {
  if (path === undefined) throw new CtlError('snapshot restore requires exactly one argument', Exit.badArgs);
  const { restoreSnapshot } = await loadSnapshotApi();
  const name = flags.name ?? 'default';
  const dataDir = flags.dataDir || `${name}.etcd`;
  const walDir = flags.walDir || `${dataDir}/member/wal`;
  const where = { path, 'wal-dir': walDir, 'data-dir': dataDir, 'snap-dir': `${dataDir}/member/snap` };
  logInfo('restoring snapshot', where);
  const r = await withElapsedBar(
    restoreSnapshot({
      path,
      name,
      dataDir,
      walDir: flags.walDir || undefined,
      initialCluster: flags.initialCluster,
      initialClusterToken: flags.initialClusterToken,
      initialAdvertisePeerUrls: flags.initialAdvertisePeerUrls,
      skipHashCheck: flags.skipHashCheck,
      backend: flags.backend,
    }),
  );
  for (const m of r.members) {
    logInfo('added member', {
      'cluster-id': r.clusterId.toString(16),
      'local-member-id': '0',
      'added-peer-id': m.id.toString(16),
      'added-peer-peer-urls': m.peerURLs,
    });
  }
  logInfo('restored snapshot', { ...where, backend: r.backend });
}

export async function snapshotStatus(ctx: Ctx, path: string | undefined): Promise<void> {
  if (path === undefined) throw new CtlError('snapshot status requires exactly one argument', Exit.badArgs);
  // etcdctl stats the file first, so a missing file reads "stat <path>: ..." (restore says "open").
  await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new CtlError(`stat ${path}: no such file or directory`);
    throw e;
  });
  const { snapshotStatus: status } = await loadSnapshotApi();
  const st = await status(path);
  const hash = st.hash.toString(16).padStart(8, '0');
  // etcdctl reads the file first and refuses protobuf at printing time (no message for a status).
  ctx.requireFormats('simple', 'json', 'table', 'fields');
  if (ctx.format === 'fields') {
    line(`"Hash" : ${st.hash}`);
    line(`"Revision" : ${st.revision}`);
    line(`"Keys" : ${st.totalKey}`);
    line(`"Size" : ${st.totalSize}`);
    return;
  }
  if (ctx.format === 'json') {
    line(
      JSON.stringify({
        hash: st.hash,
        revision: st.revision,
        totalKey: st.totalKey,
        totalSize: st.totalSize,
      }),
    );
  } else if (ctx.format === 'table') {
    printTable(
      ['HASH', 'REVISION', 'TOTAL KEYS', 'TOTAL SIZE'],
      [[hash, String(st.revision), String(st.totalKey), humanBytes(st.totalSize)]],
    );
  } else {
    line(`${hash}, ${st.revision}, ${st.totalKey}, ${humanBytes(st.totalSize)}`);
  }
}
