// A rolling migration between Debian's etcd 3.4 and kv-server (issue #13, section 2): each member of a
// 3-member etcd cluster is replaced by a kv member, one at a time, while a writer keeps writing and a
// watcher keeps watching; then each kv member is replaced by an etcd member again. An operator drains a
// member from the clients before removing it (here: the writer and the watcher move to other members
// first), adds the replacement as a learner and promotes it, and moves leadership away from a leader
// before removing it. No write may fail, the watch must see every acknowledged write exactly once, and
// every member must report the same hash after each step.
import { Etcd3, type Watcher } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, type Member } from './support/cluster.js';
import { etcdctl } from './support/server.js';

let c: Cluster | undefined;
afterAll(async () => c?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sequential puts through a client whose endpoints can be switched; records each put's revision. */
class Writer {
  private client: Etcd3;
  private running = true;
  private paused = false;
  readonly acked = new Map<number, string>();
  readonly failures: string[] = [];
  private done: Promise<void>;
  private n = 0;

  constructor(hosts: string[]) {
    this.client = new Etcd3({ hosts });
    this.done = this.loop();
  }

  /** The put in flight, if any (a switch or a pause waits for it). */
  private inFlight: Promise<void> = Promise.resolve();

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.paused) {
        await sleep(20);
        continue;
      }
      const key = `mig/${this.n++}`;
      const client = this.client;
      this.inFlight = client
        .put(key)
        .value(key)
        .exec()
        .then(
          (res) => {
            this.acked.set(Number(res.header.revision), key);
          },
          (err) => {
            this.failures.push(`${key}: ${String(err)}`);
          },
        );
      await this.inFlight;
    }
  }

  /** Moves to `hosts` between two puts (the old client is closed once its put returned). */
  async switchTo(hosts: string[]): Promise<void> {
    this.paused = true;
    await this.inFlight;
    const old = this.client;
    this.client = new Etcd3({ hosts });
    this.paused = false;
    old.close();
  }

  async pause(): Promise<void> {
    this.paused = true;
    await this.inFlight;
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.client.close();
  }
}

/** A prefix watch that can be handed over to another member without a gap (resumes after the last seen). */
class WatchLog {
  readonly seen = new Map<number, string>();
  readonly duplicates: number[] = [];
  private client: Etcd3 | undefined;
  private watcher: Watcher | undefined;
  private last = 0;

  async watchOn(endpoint: string): Promise<void> {
    const client = new Etcd3({ hosts: endpoint });
    const w = await client
      .watch()
      .prefix('mig/')
      .startRevision(String(this.last + 1))
      .create();
    w.on('put', (kv) => {
      const rev = Number(kv.mod_revision);
      if (rev <= this.last) return; // the previous watcher already delivered it (hand-over overlap)
      if (this.seen.has(rev)) this.duplicates.push(rev);
      this.seen.set(rev, kv.key.toString());
      this.last = rev;
    });
    const oldClient = this.client;
    const oldWatcher = this.watcher;
    this.client = client;
    this.watcher = w;
    await oldWatcher?.cancel();
    oldClient?.close();
  }

  async close(): Promise<void> {
    await this.watcher?.cancel();
    this.client?.close();
  }
}

describe('rolling migration etcd -> kv -> etcd', () => {
  it('replaces every member twice without a failed write or a missed watch event', async () => {
    c = await Cluster.start({ size: 3, target: 'etcd' });
    const cluster = c;
    const hosts = (except?: Member) =>
      cluster.current.filter((m) => m !== except && m.serving && !m.learner).map((m) => m.endpoint);
    const writer = new Writer(hosts());
    const watch = new WatchLog();
    await watch.watchOn(cluster.current[0]!.endpoint);
    try {
      for (const to of ['kv', 'etcd'] as const) {
        const from = to === 'kv' ? 'etcd' : 'kv';
        for (let step = 0; step < 3; step++) {
          const leaderIndex = await cluster.waitLeader();
          // Replace a follower first; the leader last (after moving leadership to a new member).
          const old =
            cluster.current.find((m) => m.target === from && m.index !== leaderIndex) ??
            cluster.current.find((m) => m.target === from)!;
          const fresh = await cluster.addMember(`${to}${step}`, { learner: true, target: to });
          await cluster.promote(fresh.index);
          if (old.index === (await cluster.waitLeader())) {
            const r = await etcdctl(cluster.endpoints, ['move-leader', fresh.hexId]);
            expect(r.stderr).toBe('');
            await cluster.waitLeader({ exclude: [old.index] });
          }
          await writer.switchTo(hosts(old));
          await watch.watchOn(hosts(old)[0]!);
          await cluster.removeMember(old.index);
          await writer.pause();
          const hashes = await cluster.waitConverged(60_000);
          expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
          writer.resume();
          await sleep(500);
        }
        expect(cluster.current.every((m) => m.target === to)).toBe(true);
      }
    } finally {
      await writer.stop();
    }
    await sleep(1000);
    await watch.close();
    expect(writer.failures).toEqual([]);
    expect(writer.acked.size).toBeGreaterThan(100);
    const missed = [...writer.acked].filter(([rev, key]) => watch.seen.get(rev) !== key);
    expect(missed).toEqual([]);
    expect(watch.duplicates).toEqual([]);
  });
});
