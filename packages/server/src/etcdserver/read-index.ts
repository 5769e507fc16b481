/**
 * Linearizable reads (etcd's linearizableReadLoop): concurrent callers share one ReadIndex round; when
 * raft answers with a read index, each caller waits until the applied index reaches it and then reads
 * local state. On a follower raft forwards the round to the leader (MsgReadIndex) and the answer comes
 * back as a ReadState, so reads on any member are linearizable.
 */
import { faultEnabled } from '../failpoints.js';
import { Errors } from './errors.js';

/** Test-only fault mode (KV_FAULT=stale-follower-read): reads skip ReadIndex and may be stale. */
const STALE_READS = faultEnabled('stale-follower-read');

/** What the read loop needs from the server. */
export interface ReadIndexHost {
  readonly memberId: bigint;
  /** A round can be issued: a leader is known and, on the leader, it has committed in its term. */
  canIssue(): boolean;
  /** Steps a ReadIndex request with this context into raft (and schedules the loop). */
  issue(ctx: Uint8Array): void;
  /**
   * The read index when this member is the leader and the only voter, else undefined. Raft answers a
   * lone voter's ReadIndex with its commit index at once: taking it directly skips the loop turn.
   */
  soleLeaderIndex(): number | undefined;
  appliedIndex(): number;
  /** Rounds with no answer after this long are re-issued (a leader change drops them). */
  readonly retryAfterMs: number;
  /** A caller gives up after this long (`etcdserver: request timed out`). */
  readonly timeoutMs: number;
  /** A round went unanswered past `retryAfterMs`, or an answer came for an older round (etcd's slow read index). */
  onSlow?(): void;
  /** A caller timed out waiting for its read barrier (etcd's failed read index). */
  onFailed?(): void;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Round {
  ctx: string;
  waiters: Waiter[];
  index: number;
  issuedAt: number;
}

/**
 * Batches linearizable read barriers into ReadIndex rounds.
 *
 * @example
 * ```ts
 * await reads.barrier(); // now local state includes every write acknowledged before the call
 * ```
 */
export class ReadIndexLoop {
  private readonly queued: Waiter[] = [];
  private round: Round | undefined;
  private counter = 0;
  /** Rounds answered by raft, in index order, waiting for apply. */
  private readonly ready: Round[] = [];
  private stopped = false;

  constructor(private readonly host: ReadIndexHost) {}

  /** Resolves once this member has applied everything committed before the call. */
  barrier(): Promise<void> {
    if (this.stopped) return Promise.reject(Errors.stopped());
    if (STALE_READS) return Promise.resolve();
    const sole = this.host.soleLeaderIndex();
    if (sole !== undefined) return this.waitIndex(sole);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.drop(waiter);
        this.host.onFailed?.();
        reject(Errors.timeout());
      }, this.host.timeoutMs);
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.queued.push(waiter);
      this.flush();
    });
  }

  /** Issues a round for the queued callers if none is in flight (also called when a leader is ready). */
  flush(): void {
    if (this.round || this.queued.length === 0 || this.stopped || !this.host.canIssue()) return;
    const ctx = `${this.host.memberId.toString(16)}-${++this.counter}`;
    this.round = { ctx, waiters: this.queued.splice(0), index: -1, issuedAt: Date.now() };
    this.host.issue(new TextEncoder().encode(ctx));
    // A round can get no answer (its message is lost when the leader changes, when the stream to the
    // leader is not up yet, or in a partition): re-issue it even if nothing is applied meanwhile, as in
    // an idle cluster, where waiting for onApplied() left every later read on this member hanging.
    setTimeout(() => this.onApplied(), this.host.retryAfterMs + 5).unref?.();
  }

  /** A ReadState from raft's Ready. */
  onReadState(index: number, ctxBytes: Uint8Array): void {
    const ctx = new TextDecoder().decode(ctxBytes);
    if (!this.round || this.round.ctx !== ctx) {
      this.host.onSlow?.();
      return;
    }
    this.round.index = index;
    this.ready.push(this.round);
    this.round = undefined;
    this.onApplied();
    this.flush();
  }

  /** Resolves the rounds the applied index has reached; re-issues a round that got no answer. */
  onApplied(): void {
    const applied = this.host.appliedIndex();
    while (this.ready.length && this.ready[0]!.index <= applied) {
      for (const w of this.ready.shift()!.waiters) w.resolve();
    }
    if (this.round && Date.now() - this.round.issuedAt > this.host.retryAfterMs) {
      this.host.onSlow?.();
      this.queued.unshift(...this.round.waiters);
      this.round = undefined;
      this.flush();
    }
  }

  /** Fails every waiting caller (server stopping). */
  close(): void {
    this.stopped = true;
    for (const w of [
      ...this.queued.splice(0),
      ...(this.round?.waiters ?? []),
      ...this.ready.flatMap((r) => r.waiters),
    ]) {
      w.reject(Errors.stopped());
    }
    this.round = undefined;
    this.ready.length = 0;
  }

  /** Resolves once the applied index reaches `index` (one waiter list per index). */
  private waitIndex(index: number): Promise<void> {
    if (this.host.appliedIndex() >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const last = this.ready.at(-1);
      const waiter = { resolve, reject };
      // Commit indexes only grow, so appending keeps `ready` ordered by index.
      if (last && last.index === index) last.waiters.push(waiter);
      else this.ready.push({ ctx: '', waiters: [waiter], index, issuedAt: 0 });
    });
  }

  private drop(w: Waiter): void {
    const i = this.queued.indexOf(w);
    if (i >= 0) this.queued.splice(i, 1);
  }
}
