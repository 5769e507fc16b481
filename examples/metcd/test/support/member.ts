// Real metcd member processes for the end-to-end tests, and the HTTP calls the tests make to them.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { freePort } from '../../../../tools/test-ports.mjs';

export { freePort };

const MAIN = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js');

/** One metcd process: it can be killed and started again on the same data directory. */
export class Member {
  readonly api: string;
  private proc: ChildProcess | undefined;
  private exit: Promise<number | string> | undefined;
  /** Everything the process wrote to stderr (its JSON log), across restarts, for failure messages. */
  log = '';

  constructor(
    readonly id: number,
    readonly peerUrl: string,
    readonly apiPort: number,
    readonly dataDir: string,
  ) {
    this.api = `http://127.0.0.1:${apiPort}`;
  }

  static async create(id: number, root: string): Promise<Member> {
    return new Member(
      id,
      `http://127.0.0.1:${await freePort()}`,
      await freePort(),
      join(root, `member-${id}`),
    );
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts the process with `--cluster` naming `members` (id=url pairs) plus `flags`. */
  start(members: readonly Member[], flags: readonly string[]): void {
    if (this.proc) throw new Error(`member ${this.id} is already running`);
    const cluster = members.map((m) => `${m.id}=${m.peerUrl}`).join(',');
    const args = ['--id', String(this.id), '--cluster', cluster, '--port', String(this.apiPort)];
    const proc = spawn(process.execPath, [MAIN, ...args, '--data-dir', this.dataDir, ...flags], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (s: string) => {
      this.log += s;
    });
    this.proc = proc;
    this.exit = once(proc, 'exit').then(([code, signal]) => {
      this.proc = undefined;
      return (code as number | null) ?? (signal as string);
    });
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.proc) return;
    this.proc.kill(signal);
    await this.exit;
  }

  /** Resolves with the exit code (or signal name) when the process exits on its own. */
  exited(): Promise<number | string> {
    if (!this.exit) throw new Error(`member ${this.id} never started`);
    return this.exit;
  }

  async status(): Promise<MemberStatus> {
    const res = await fetch(`${this.api}/status`);
    if (!res.ok) throw new Error(`status: HTTP ${res.status}`);
    return (await res.json()) as MemberStatus;
  }

  /** GET /key: the value, or undefined on 404. */
  async get(key: string): Promise<string | undefined> {
    const res = await fetch(`${this.api}/${encodeURIComponent(key)}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${key}: HTTP ${res.status}`);
    return res.text();
  }

  /** GET /key?linearizable: the value after a ReadIndex round, or undefined on 404. */
  async getLinearizable(key: string): Promise<string | undefined> {
    const res = await fetch(`${this.api}/${encodeURIComponent(key)}?linearizable`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`GET ${key}?linearizable: HTTP ${res.status}`);
    return res.text();
  }

  /** A raw request; returns the status (connection errors throw). */
  async request(method: string, path: string, body?: string): Promise<number> {
    const res = await fetch(`${this.api}${path}`, { method, ...(body === undefined ? {} : { body }) });
    await res.arrayBuffer();
    return res.status;
  }
}

/** The fields of GET /status the tests read. */
export interface MemberStatus {
  id: string;
  leader: string;
  state: string;
  term: number;
  commit: number;
  applied: number;
  snapshotIndex: number;
  firstLogIndex: number;
  lastLogIndex: number;
  voters: string[];
  snapshotsTaken: number;
  snapshotsInstalled: number;
}

/**
 * Polls `probe` until it returns a value other than undefined (errors count as "not yet"). A deadline for
 * liveness, not a speed assertion: on timeout it throws with the last error and `what`.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * PUT through `via` until it answers 204. 503 (no leader yet) and 504 (not applied in time, e.g. across a
 * leader change) are retried: a put is idempotent, so a retry after an unknown outcome is safe.
 */
export async function put(via: Member, key: string, value: string): Promise<void> {
  await waitFor(`PUT ${key} via member ${via.id}`, async () => {
    const status = await via.request('PUT', `/${encodeURIComponent(key)}`, value);
    if (status === 204) return true;
    if (status === 503 || status === 504) return undefined;
    throw new Error(`PUT ${key}: HTTP ${status}`);
  });
}

/**
 * A membership request (`POST|DELETE /member/ID`) through `via`, retried like {@link put}. After a 504 the
 * change may have been applied anyway, so a 409 on a retry ("already a member" / "not a member") means
 * the earlier attempt went through.
 */
export async function changeMembership(via: Member, method: 'POST' | 'DELETE', id: number, body?: string) {
  let uncertain = false;
  await waitFor(`${method} /member/${id} via member ${via.id}`, async () => {
    const status = await via.request(method, `/member/${id}`, body);
    if (status === 204 || (status === 409 && uncertain)) return true;
    if (status === 503 || status === 504) {
      uncertain ||= status === 504;
      return undefined;
    }
    throw new Error(`${method} /member/${id}: HTTP ${status}`);
  });
}

/** Waits until every member returns exactly `expected` for every key in it, and returns their answers. */
export async function converged(
  members: readonly Member[],
  expected: ReadonlyMap<string, string>,
): Promise<Map<number, Map<string, string | undefined>>> {
  return waitFor(`members ${members.map((m) => m.id).join(',')} to converge`, async () => {
    const seen = new Map<number, Map<string, string | undefined>>();
    for (const m of members) {
      const values = new Map<string, string | undefined>();
      for (const k of expected.keys()) values.set(k, await m.get(k));
      seen.set(m.id, values);
    }
    const all = [...seen.values()].every((v) => [...expected].every(([k, want]) => v.get(k) === want));
    return all ? seen : undefined;
  });
}

/** The leader all running `members` agree on. */
export async function agreedLeader(members: readonly Member[]): Promise<number> {
  return waitFor('an agreed leader', async () => {
    const leaders = await Promise.all(members.map(async (m) => (await m.status()).leader));
    return leaders[0] !== '0' && leaders.every((l) => l === leaders[0]) ? Number(leaders[0]) : undefined;
  });
}
