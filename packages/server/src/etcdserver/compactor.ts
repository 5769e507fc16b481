/**
 * The auto compactor (`--auto-compaction-mode`, `--auto-compaction-retention`), run by the leader only,
 * compacting through raft like a client's Compact call (etcd's etcdserver/api/v3compactor).
 */
import type { Logger } from '../log/logger.js';

/** What the compactor needs from the server. */
export interface CompactorHost {
  isLeader(): boolean;
  /** Current and compacted revisions of the key space. */
  rev(): number;
  compactRevision(): number;
  /** Proposes a compaction to `rev` through raft. */
  compact(rev: number): Promise<unknown>;
}

export interface CompactorOptions {
  mode: string;
  retention: string;
  /** Revision mode's check interval (etcd: 5 minutes). */
  revisionCheckMs?: number;
}

/**
 * Starts the compactor; returns a function that stops it (undefined when retention is 0: disabled).
 *
 * @example
 * ```ts
 * const stop = startCompactor({ mode: 'periodic', retention: '1h' }, host, log);
 * stop?.();
 * ```
 */
export function startCompactor(
  opts: CompactorOptions,
  host: CompactorHost,
  log: Logger,
): (() => void) | undefined {
  const { mode, retention } = opts;
  if (retention === '0' || retention === '') return undefined;
  const run = (rev: number) => {
    log.info('starting auto compaction', { revision: rev, 'compact-period': retention });
    host.compact(rev).then(
      () => log.info('completed auto compaction', { revision: rev }),
      (err: unknown) => log.warn('failed auto compaction', { revision: rev, error: err }),
    );
  };
  let timer: NodeJS.Timeout;
  if (mode === 'revision') {
    const keep = Number(retention);
    let last = 0;
    timer = setInterval(
      () => {
        const target = host.rev() - keep;
        if (!host.isLeader() || target <= 0 || target === last || target <= host.compactRevision()) return;
        last = target;
        run(target);
      },
      opts.revisionCheckMs ?? 5 * 60_000,
    );
  } else {
    const periodMs = /^\d+$/.test(retention) ? Number(retention) * 3_600_000 : parseDurationMs(retention);
    // Sample the revision every period/10 and compact to the sample taken one period ago (etcd's
    // periodic compactor, simplified: its 1h+ retention also checks every hour).
    const interval = Math.max(100, periodMs / 10);
    const samples: Array<{ at: number; rev: number }> = [];
    timer = setInterval(() => {
      const now = Date.now();
      samples.push({ at: now, rev: host.rev() });
      while (samples.length > 1 && now - samples[1]!.at >= periodMs) samples.shift();
      const oldest = samples[0]!;
      if (!host.isLeader() || now - oldest.at < periodMs) return;
      if (oldest.rev > host.compactRevision() && oldest.rev <= host.rev()) run(oldest.rev);
    }, interval);
  }
  timer.unref?.();
  return () => clearInterval(timer);
}

/** Go-style durations as the retention flag takes them (`30m`, `1.5h`); a bare number is hours. */
function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return Number(text) * 3_600_000;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}
