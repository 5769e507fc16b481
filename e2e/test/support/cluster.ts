// A multi-member cluster of real server processes for end-to-end tests: bin/kv-server members, or Debian's
// etcd members when KV_E2E_TARGET=etcd (which proves that a test describes etcd's behaviour). Members are
// started with etcd's own clustering flags on free loopback ports and temp data dirs, optionally with
// their peer traffic through proxies (./proxy.ts) so a test can partition them.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerNetwork } from './proxy.js';
import { type CommandResult, etcdctl, freePort, serverBinary, sleep, TARGET } from './server.js';

/** Raft timing short enough for tests: a leader is elected about a second after it is lost. */
export const HEARTBEAT_MS = 100;
export const ELECTION_MS = 1000;

/** Peer TLS material for `--peer-*` flags (file paths). */
export interface PeerTls {
  cert: string;
  key: string;
  ca: string;
  /** Adds `--peer-client-cert-auth` (default true). */
  clientCertAuth?: boolean;
}

export interface ClusterOptions {
  /** Number of voting members (m0..m{size-1}). */
  size: number;
  /** Which server runs the members; defaults to KV_E2E_TARGET. */
  target?: 'kv' | 'etcd';
  /** Extra flags for every member, appended after the standard ones. */
  flags?: string[];
  /** Extra flags for single members by index (after {@link flags}), e.g. a different `--backend`. */
  memberFlags?: Record<number, string[]>;
  /** Serve peer URLs over https with these certificates. */
  peerTls?: PeerTls;
  /** Route peer traffic through {@link PeerNetwork} proxies so that {@link Cluster.network} can cut it. */
  proxied?: boolean;
  /**
   * Indexes of members to create without starting them (start them later with `member(i).start()`).
   * When set, `start()` returns as soon as the other members' processes run, without waiting for health.
   */
  deferred?: number[];
}

/** Every member process started by this module, killed if the test process exits without close(). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** etcdctl's JSON output with every integer of 16+ digits turned into a string (member ids are uint64). */
export function parseJsonExact<T>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,}\]])/g, '$1"$2"')) as T;
}

/**
 * etcd's member id for a member started with these advertised peer URLs and `--initial-cluster-token`:
 * the first 8 bytes, big-endian, of sha1(sorted URLs + token) (etcd's membership.NewMember).
 */
export function etcdMemberId(peerUrls: readonly string[], token: string): bigint {
  return createHash('sha1')
    .update([...peerUrls].sort().join('') + token)
    .digest()
    .readBigUInt64BE(0);
}

/** etcd's cluster id: sha1 of the ascending member ids as 8-byte big-endian words, first 8 bytes. */
export function etcdClusterId(ids: readonly bigint[]): bigint {
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  for (let i = 0; i < sorted.length; i++) buf.writeBigUInt64BE(sorted[i]!, 8 * i);
  return createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}

/** Go's `%16x` of an id, as etcdctl prints member and cluster ids in `member add/remove/promote`. */
export const hex16 = (id: bigint | string): string => BigInt(id).toString(16).padStart(16, ' ');

/** One member's view from `etcdctl endpoint status -w json` (ids as decimal strings). */
export interface MemberStatus {
  memberId: string;
  leader: string;
  revision: number;
  raftTerm: number;
  raftIndex: number;
  isLearner: boolean;
}

/** One member process of a {@link Cluster}. */
export class Member {
  private proc: ChildProcess | undefined;
  private output = '';
  private paused = false;
  /** Set once the member has been removed from the cluster (it is no longer expected to run). */
  removed = false;
  /** Member id (decimal string) once known. */
  id: string | undefined;
  /** Everything printed by every start of this member ({@link log} has the current start only). */
  fullLog = '';

  constructor(
    /** Position in {@link Cluster.members}. */
    readonly index: number,
    readonly name: string,
    readonly dataDir: string,
    readonly clientPort: number,
    /** The member's own peer listener. */
    readonly peerPort: number,
    /** The peer URL the member advertises (its proxy's when the cluster is proxied). */
    readonly peerUrl: string,
    private readonly flags: string[],
    private readonly bin: string,
    /** Whether the member was added as a learner (readiness is then `endpoint status`, not `health`). */
    public learner: boolean,
  ) {}

  /** Which server this member runs. */
  get target(): 'kv' | 'etcd' {
    return this.bin === serverBinary('etcd') ? 'etcd' : 'kv';
  }

  /** The client URL (plain http). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Everything the process printed since its last (re)start. */
  get log(): string {
    return this.output;
  }

  /** The OS process id while running. */
  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  /** How the last process ended: its exit code, or the signal that ended it. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    if (!this.proc || this.running) return undefined;
    return { code: this.proc.exitCode, signal: this.proc.signalCode };
  }

  /** Whether the process is alive (possibly paused). */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Whether the process is alive and not stopped with SIGSTOP. */
  get serving(): boolean {
    return this.running && !this.paused;
  }

  /** Starts the process (does not wait for readiness); `env` adds variables (e.g. KV_FAILPOINTS). */
  spawn(env: Record<string, string> = {}): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.output = '';
    this.paused = false;
    const proc = spawn(this.bin, this.flags, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.proc = proc;
    running.add(proc);
    proc.on('exit', () => running.delete(proc));
    const collect = (d: Buffer) => {
      this.output += d;
      this.fullLog += d;
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
  }

  /** Waits until the member serves: `endpoint health` for voters, `endpoint status` for learners. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) {
        const how = this.proc?.signalCode ?? this.proc?.exitCode;
        throw new Error(`${this.name} exited (${how}) before it was ready:\n${this.output}`);
      }
      const probe = this.learner ? ['endpoint', 'status'] : ['endpoint', 'health'];
      const r = await etcdctl(this.endpoint, [...probe, '--command-timeout=1s', '--dial-timeout=1s']);
      if (r.code === 0) return;
      await sleep(150);
    }
    throw new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.output}`);
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERM (SIGKILL after 15 s); resolves once the process is gone. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** Freezes the process (SIGSTOP): it keeps its sockets but answers nothing. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
    this.paused = true;
  }

  /** Lets a paused process run again (SIGCONT). */
  resume(): void {
    this.proc?.kill('SIGCONT');
    this.paused = false;
  }

  /** Starts a member that is not running (e.g. a deferred one) and waits until it serves. */
  async start(): Promise<void> {
    this.spawn();
    await this.waitReady();
  }

  /** Stops the member if it runs, then starts it again on the same data dir and flags and waits. */
  async restart(): Promise<void> {
    await this.stop();
    this.spawn();
    await this.waitReady();
  }

  /** Resolves when the process exits by itself (e.g. after its removal), or rejects after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<number | null> {
    const proc = this.proc;
    if (!proc || !this.running) return proc?.exitCode ?? null;
    return new Promise((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${this.name} still running:\n${this.output}`)),
        timeoutMs,
      );
      proc.once('exit', (code) => {
        clearTimeout(timer);
        ok(code);
      });
    });
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const gone = new Promise<void>((ok) => proc.once('exit', () => ok()));
    // A stopped process only acts on SIGTERM once it runs again.
    if (this.paused && signal !== 'SIGKILL') this.resume();
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await gone;
    clearTimeout(timer);
    this.paused = false;
  }

  /** This member's status, or undefined if it does not answer within a second. */
  async status(): Promise<MemberStatus | undefined> {
    if (!this.serving) return undefined;
    const r = await etcdctl(this.endpoint, [
      'endpoint',
      'status',
      '-w',
      'json',
      '--command-timeout=1s',
      '--dial-timeout=1s',
    ]);
    if (r.code !== 0) return undefined;
    type Raw = {
      Status: {
        header: { member_id: string | number; revision: number };
        leader: string | number;
        raftTerm: number;
        raftIndex: number;
        isLearner?: boolean;
      };
    };
    const [s] = parseJsonExact<Raw[]>(r.stdout);
    const st: MemberStatus = {
      memberId: String(s.Status.header.member_id),
      leader: String(s.Status.leader ?? '0'),
      revision: Number(s.Status.header.revision),
      raftTerm: Number(s.Status.raftTerm),
      raftIndex: Number(s.Status.raftIndex),
      isLearner: s.Status.isLearner === true,
    };
    this.id = st.memberId;
    return st;
  }

  /** The member id in hex, as `etcdctl member` commands take it. */
  get hexId(): string {
    if (!this.id) throw new Error(`${this.name}: id unknown (ask status() first)`);
    return BigInt(this.id).toString(16);
  }
}

/** One member's hash from `etcdctl endpoint hashkv`. */
export interface MemberHash {
  name: string;
  hash: number;
  revision: number;
  compactRevision: number;
}

/**
 * A cluster of real member processes.
 *
 * @example
 * const c = await Cluster.start({ size: 3 });
 * try {
 *   await etcdctl(c.member(0).endpoint, ['put', 'k', 'v']);
 *   const leader = await c.leader();
 * } finally {
 *   await c.close();
 * }
 */
export class Cluster {
  readonly members: Member[] = [];
  /** The peer proxies (only when started with `proxied: true`). */
  readonly network: PeerNetwork | undefined;
  readonly token = `e2e-${randomBytes(6).toString('hex')}`;
  readonly target: 'kv' | 'etcd';
  /** The cluster id etcd derives from the founding members' flags (set by {@link Cluster.start}). */
  clusterId = 0n;
  private readonly root = mkdtempSync(join(tmpdir(), 'kv-cluster-'));

  private constructor(private readonly opts: ClusterOptions) {
    this.target = opts.target ?? TARGET;
    this.network = opts.proxied
      ? new PeerNetwork(() => {
          const m = new Map<number, number>();
          for (const mem of this.members) if (mem.pid !== undefined) m.set(mem.pid, mem.index);
          return m;
        })
      : undefined;
  }

  /** Starts `size` members together and waits until each answers `etcdctl endpoint health`. */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(opts);
    try {
      const slots = [];
      for (let i = 0; i < opts.size; i++) slots.push(await c.allocate(`m${i}`));
      const initialCluster = slots.map((s) => `${s.name}=${s.peerUrl}`).join(',');
      c.clusterId = etcdClusterId(slots.map((s) => etcdMemberId([s.peerUrl], c.token)));
      for (const s of slots) {
        const m = c.create(s, initialCluster, 'new', false);
        if (!opts.deferred?.includes(s.index)) m.spawn();
      }
      if (opts.deferred?.length) return c;
      await Promise.all(c.members.map((m) => m.waitReady()));
      await Promise.all(c.members.map((m) => m.status()));
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /** Member `i` (an index into {@link members}, stable across removals). */
  member(i: number): Member {
    const m = this.members[i];
    if (!m) throw new Error(`no member ${i}`);
    return m;
  }

  /** Members that have not been removed. */
  get current(): Member[] {
    return this.members.filter((m) => !m.removed);
  }

  /** Comma-separated client URLs of the members that are serving (for --endpoints). */
  get endpoints(): string {
    return this.current
      .filter((m) => m.serving)
      .map((m) => m.endpoint)
      .join(',');
  }

  /**
   * The leader's index, as reported by a majority of the voting members (so an old leader that has not
   * noticed its loss yet does not count), or undefined if there is none now.
   */
  async leader(): Promise<number | undefined> {
    const voters = this.current.filter((m) => !m.learner);
    const statuses = await Promise.all(voters.map((m) => m.status()));
    const votes = new Map<string, number>();
    for (const s of statuses) if (s && s.leader !== '0') votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1);
    for (const [id, n] of votes) {
      if (n * 2 <= voters.length) continue;
      const m = this.members.find((x) => x.id === id);
      if (m) return m.index;
    }
    return undefined;
  }

  /** Waits (bounded) for a leader that is not in `exclude`; returns its index. */
  async waitLeader(opts: { exclude?: number[]; timeoutMs?: number } = {}): Promise<number> {
    const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      const l = await this.leader();
      if (l !== undefined && !opts.exclude?.includes(l)) return l;
      await sleep(200);
    }
    throw new Error(`no leader outside [${opts.exclude ?? []}] in time\n${this.logs()}`);
  }

  /** Indexes of the serving voters that are not the leader. */
  async followers(): Promise<number[]> {
    const l = await this.waitLeader();
    return this.current.filter((m) => m.index !== l && m.serving && !m.learner).map((m) => m.index);
  }

  /**
   * Adds a member the way an operator does: `etcdctl member add` on a serving member, then starts the
   * process with `--initial-cluster-state existing` and the ETCD_INITIAL_CLUSTER that etcdctl printed.
   * Waits until it serves (health for a voter, status for a learner).
   */
  async addMember(name: string, opts: { learner?: boolean; target?: 'kv' | 'etcd' } = {}): Promise<Member> {
    const slot = await this.allocate(name);
    const via = this.current.find((m) => m.serving);
    if (!via) throw new Error('no serving member to add through');
    const r = await this.reconfigure(via.endpoint, [
      'member',
      'add',
      name,
      `--peer-urls=${slot.peerUrl}`,
      ...(opts.learner ? ['--learner'] : []),
    ]);
    if (r.code !== 0) throw new Error(`member add failed: ${r.stderr}`);
    const printed = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(r.stdout);
    if (!printed) throw new Error(`member add printed no ETCD_INITIAL_CLUSTER:\n${r.stdout}`);
    const m = this.create(slot, printed[1], 'existing', opts.learner === true, opts.target);
    m.spawn();
    await m.waitReady();
    await m.status();
    return m;
  }

  /** `etcdctl member remove` of member `i` (through another member); waits for its process to exit. */
  async removeMember(i: number): Promise<CommandResult> {
    const m = this.member(i);
    if (!m.id) await m.status();
    const via = this.current.find((x) => x.serving && x.index !== i);
    if (!via) throw new Error('no other serving member to remove through');
    const r = await this.reconfigure(via.endpoint, ['member', 'remove', m.hexId]);
    if (r.code !== 0) throw new Error(`member remove failed: ${r.stderr}`);
    m.removed = true;
    // etcd stops a removed member by itself; do not leave it running if it does not.
    await m.exited(15_000).catch(async () => m.kill());
    return r;
  }

  /**
   * Runs a membership command, retried (bounded) while etcd refuses it with "etcdserver: unhealthy
   * cluster": with --strict-reconfig-check (the default) etcd only reconfigures once the members it needs
   * have been connected for its health interval (5 s), so right after a start or a restart it refuses.
   */
  private async reconfigure(endpoint: string, args: string[], timeoutMs = 20_000): Promise<CommandResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await etcdctl(endpoint, args);
      if (r.code === 0 || !/unhealthy cluster/.test(r.stderr) || Date.now() > deadline) return r;
      await sleep(500);
    }
  }

  /**
   * `etcdctl member promote` of learner `i`, retried while the learner is not yet in sync with the leader
   * (etcd refuses with "can only promote a learner member which is in sync with leader").
   */
  async promote(i: number, timeoutMs = 30_000): Promise<CommandResult> {
    const m = this.member(i);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const via = this.current.find((x) => x.serving && !x.learner);
      if (!via) throw new Error('no serving voter to promote through');
      const r = await etcdctl(via.endpoint, ['member', 'promote', m.hexId]);
      if (r.code === 0) {
        m.learner = false;
        return r;
      }
      if (!/in sync with leader/.test(r.stderr) || Date.now() > deadline) {
        throw new Error(`member promote failed: ${r.stderr}`);
      }
      await sleep(300);
    }
  }

  /**
   * `etcdctl endpoint hashkv --rev <rev>` on every serving member (rev 0: each member's latest). A member
   * that fails (e.g. has not applied `rev` yet) is reported with hash -1.
   */
  async hashkv(rev = 0): Promise<MemberHash[]> {
    const serving = this.current.filter((m) => m.serving);
    return Promise.all(
      serving.map(async (m) => {
        const r = await etcdctl(m.endpoint, [
          'endpoint',
          'hashkv',
          `--rev=${rev}`,
          '-w',
          'json',
          '--command-timeout=2s',
        ]);
        if (r.code !== 0) return { name: m.name, hash: -1, revision: -1, compactRevision: -1 };
        type Raw = { HashKV: { header: { revision: number }; hash: number; compact_revision: number } };
        const [h] = parseJsonExact<Raw[]>(r.stdout);
        return {
          name: m.name,
          hash: Number(h.HashKV.hash ?? 0),
          revision: Number(h.HashKV.header.revision),
          compactRevision: Number(h.HashKV.compact_revision ?? 0),
        };
      }),
    );
  }

  /**
   * Waits (bounded retry) until every serving member answers `endpoint hashkv` at the leader's current
   * revision with the same hash; returns the hashes. Call it once writes have stopped.
   */
  async waitConverged(timeoutMs = 30_000): Promise<MemberHash[]> {
    const deadline = Date.now() + timeoutMs;
    let last: MemberHash[] = [];
    while (Date.now() < deadline) {
      const l = await this.leader();
      const st = l === undefined ? undefined : await this.member(l).status();
      if (st) {
        last = await this.hashkv(st.revision);
        if (last.every((h) => h.hash !== -1 && h.hash === last[0].hash)) return last;
      }
      await sleep(300);
    }
    throw new Error(`members did not converge: ${JSON.stringify(last)}\n${this.logs()}`);
  }

  /** The last lines of every member's log (for failure messages). */
  logs(lines = 15): string {
    return this.members
      .map((m) => `--- ${m.name}\n${m.fullLog.split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** Kills every member, closes the proxies and removes the data dirs. Safe to call twice. */
  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.kill()));
    await this.network?.close();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Picks ports (and a proxy) for a new member. */
  private async allocate(name: string): Promise<Slot> {
    const index = this.nextIndex++;
    const clientPort = await freePort();
    const peerPort = await freePort();
    const scheme = this.opts.peerTls ? 'https' : 'http';
    let advertised = peerPort;
    if (this.network) advertised = (await this.network.addProxy(index, peerPort)).port;
    return { index, name, clientPort, peerPort, peerUrl: `${scheme}://127.0.0.1:${advertised}` };
  }

  /** Index of the next member; indexes are never reused, so `member(i)` stays valid after removals. */
  private nextIndex = 0;

  /** Builds the member for `slot` with etcd's clustering flags. */
  private create(
    slot: Slot,
    initialCluster: string,
    state: 'new' | 'existing',
    learner: boolean,
    target: 'kv' | 'etcd' = this.target,
  ): Member {
    const scheme = this.opts.peerTls ? 'https' : 'http';
    const dataDir = join(this.root, slot.name);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const client = `http://127.0.0.1:${slot.clientPort}`;
    const tls = this.opts.peerTls;
    const flags = [
      '--name',
      slot.name,
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      `${scheme}://127.0.0.1:${slot.peerPort}`,
      '--initial-advertise-peer-urls',
      slot.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      this.token,
      '--initial-cluster-state',
      state,
      '--heartbeat-interval',
      String(HEARTBEAT_MS),
      '--election-timeout',
      String(ELECTION_MS),
      ...(tls
        ? [
            '--peer-cert-file',
            tls.cert,
            '--peer-key-file',
            tls.key,
            '--peer-trusted-ca-file',
            tls.ca,
            ...(tls.clientCertAuth === false ? [] : ['--peer-client-cert-auth']),
          ]
        : []),
      ...(this.opts.flags ?? []),
      ...(this.opts.memberFlags?.[slot.index] ?? []),
    ];
    const m = new Member(
      slot.index,
      slot.name,
      dataDir,
      slot.clientPort,
      slot.peerPort,
      slot.peerUrl,
      flags,
      serverBinary(target),
      learner,
    );
    this.members[slot.index] = m;
    return m;
  }
}

/** Ports and URL chosen for a member before its process exists. */
interface Slot {
  index: number;
  name: string;
  clientPort: number;
  peerPort: number;
  peerUrl: string;
}

/**
 * etcd's ways of saying a request could not commit in time: the client's deadline (etcdctl
 * --command-timeout) or the server's own timeout errors, whichever fires first (a race by design: the
 * server's context carries the client's deadline; a linearizable read that times out in the server's
 * ReadIndex wait comes back as `rpc error: code = Unknown desc = context deadline exceeded`).
 */
export const TIMED_OUT =
  /Error: ((rpc error: code = \w+ desc = )?context deadline exceeded|etcdserver: request timed out(, possibly due to (previous leader failure|connection lost))?)\n/;

/** `etcdctl put` that gives up after `timeout` (etcdctl's --command-timeout). */
export const putWithin = (endpoint: string, key: string, value: string, timeout = '3s') =>
  etcdctl(endpoint, ['put', key, value, `--command-timeout=${timeout}`]);
