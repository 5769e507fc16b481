/**
 * Exclusive lock on a WAL directory across processes. Node has no flock(2), so the lock is a file
 * created with O_EXCL ('wx') holding the owner's pid and its kernel start time. A lock whose owner is
 * gone (kill(pid, 0) fails with ESRCH, or the pid now belongs to a process that started at a
 * different time) is stale and taken over. The takeover re-reads the file right before unlinking it
 * and then competes through O_EXCL again, so two processes breaking the same stale lock cannot both
 * win; the remaining window (another process replacing the file between that re-read and the
 * unlink) needs two simultaneous takeovers of one stale lock and is documented in the README.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WalIOError, WalLockedError } from './errors.js';
import type { WalFileSystem } from './fs-layer.js';

export const LOCK_FILE = 'wal.lock';

/** Kernel start time of a process (field 22 of /proc/PID/stat), or undefined off Linux. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number, startTime: string | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else.
  }
  if (startTime !== undefined) {
    const now = processStartTime(pid);
    if (now !== undefined && now !== startTime) return false; // pid reused
  }
  return true;
}

function parseLock(text: string): { pid: number; start: string | undefined } | undefined {
  const [pidText, start] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, start: start && start !== '-' ? start : undefined };
}

/** A held directory lock; {@link release} removes the lock file. */
export class DirLock {
  private constructor(
    private readonly fs: WalFileSystem,
    public dir: string,
  ) {}

  /** Takes the lock on `dir` or throws {@link WalLockedError}. */
  static async acquire(fs: WalFileSystem, dir: string): Promise<DirLock> {
    const path = join(dir, LOCK_FILE);
    const content = new TextEncoder().encode(`${process.pid} ${processStartTime(process.pid) ?? '-'}\n`);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await fs.writeFile(path, content, 'wx');
        return new DirLock(fs, dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new WalIOError('lock', path, err);
      }
      let text: string;
      try {
        text = new TextDecoder().decode(await fs.readFile(path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile; retry
        throw new WalIOError('read lock', path, err);
      }
      const holder = parseLock(text);
      // An unparsable lock file is a crash between create and write: stale.
      if (holder && (holder.pid === process.pid || isAlive(holder.pid, holder.start))) {
        throw new WalLockedError(dir, holder.pid);
      }
      try {
        const again = new TextDecoder().decode(await fs.readFile(path));
        if (again === text) await fs.unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new WalIOError('break lock', path, err);
      }
    }
    throw new WalLockedError(dir, undefined);
  }

  async release(): Promise<void> {
    try {
      await this.fs.unlink(join(this.dir, LOCK_FILE));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new WalIOError('unlock', this.dir, err);
    }
  }
}
