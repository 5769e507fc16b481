// Faults injected while traffic runs. A nemesis is { name, kvOnly?, minMembers?, inject(cluster, rng) ->
// description }: inject one fault and undo it (or wait it out), so the schedule in runNemesis stays the
// same for every fault. Every choice (which member, how long, which mode) comes from the seeded rng;
// which member leads at a given moment does not, so "the leader" is resolved when the fault starts.
import { adminClient, leaderIndex } from './cluster.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The failpoints the `failpoint` nemesis arms: the write path, which every write passes. kv-server also
 * has the snapshot points (raftBeforeSaveSnap, raftAfterSaveSnap, raftBeforeApplySnap,
 * raftAfterApplySnap), but a short run never sends a snapshot, so arming them would inject nothing.
 */
export const RUN_FAILPOINTS = {
  // The share of hits that panic, so that the crash comes within about a second of traffic: a WAL
  // save per Ready (tens to hundreds a second), a backend commit per batch interval (10 a second), an
  // apply per entry.
  raftBeforeSave: 5,
  raftAfterSave: 5,
  beforeCommit: 25,
  afterCommit: 25,
  beforeApplyOneEntry: 2,
  afterApplyOneEntry: 2,
};

/** Half the time the leader (when one is known), else any member: faults on the leader matter most. */
async function pickMember(cluster, rng) {
  const wantLeader = cluster.members.length > 1 && rng.next() < 0.5;
  const any = rng.pick(cluster.members);
  if (!wantLeader) return { m: any, role: 'random' };
  const l = await leaderIndex(cluster);
  return l === undefined
    ? { m: any, role: 'random (no leader known)' }
    : { m: cluster.members[l], role: 'leader' };
}

/** A running voter other than the leader, chosen by rng (undefined when there is none). */
async function pickFollower(cluster, rng) {
  // Right after a partition heals there may be no leader for an election timeout or two: wait up to 5 s
  // for one, so a leader transfer is not silently skipped.
  let l = await leaderIndex(cluster);
  for (const deadline = Date.now() + 5000; l === undefined && Date.now() < deadline; ) {
    await sleep(250);
    l = await leaderIndex(cluster);
  }
  if (l === undefined) return { leader: undefined, follower: undefined };
  const followers = cluster.members.filter((m) => m.index !== l && m.running);
  return { leader: cluster.members[l], follower: followers.length ? rng.pick(followers) : undefined };
}

const errText = (e) => String(e?.message ?? e).split('\n')[0];

/** @type {Record<string, { name: string, kvOnly?: boolean, minMembers?: number, inject: (cluster: any, rng: any) => Promise<string> }>} */
export const NEMESES = {
  none: {
    name: 'none',
    async inject() {
      return '';
    },
  },
  /** SIGKILL a member (the leader or a random one), keep it down a moment, restart on the same data dir. */
  kill: {
    name: 'kill',
    async inject(cluster, rng) {
      const { m, role } = await pickMember(cluster, rng);
      await m.kill('SIGKILL');
      const down = rng.int(200, 1000);
      await sleep(down);
      const t0 = Date.now();
      await m.start();
      return `SIGKILL ${m.name} (${role}), down ${down} ms, restarted and serving in ${Date.now() - t0} ms`;
    },
  },
  /** SIGSTOP a member (the leader or a random one) for a while (clients time out), then SIGCONT. */
  pause: {
    name: 'pause',
    async inject(cluster, rng) {
      const { m, role } = await pickMember(cluster, rng);
      m.pause();
      const stopped = rng.int(500, 2500);
      await sleep(stopped);
      m.resume();
      return `SIGSTOP ${m.name} (${role}) for ${stopped} ms`;
    },
  },
  /**
   * Cuts the peer network (proxies between members) for 1-3 s, then heals it: either one member (the
   * leader or a random one) alone, or a random minority against the majority; connections across the
   * cut are reset or blackholed (rng). Clients still reach every member.
   */
  partition: {
    name: 'partition',
    minMembers: 3,
    async inject(cluster, rng) {
      const n = cluster.members.length;
      const mode = rng.pick(['reset', 'blackhole']);
      let minority;
      let what;
      if (rng.next() < 0.5) {
        const { m, role } = await pickMember(cluster, rng);
        minority = [m.index];
        what = `isolate ${m.name} (${role})`;
      } else {
        const order = cluster.members.map((m) => m.index);
        for (let i = order.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [order[i], order[j]] = [order[j], order[i]];
        }
        minority = order.slice(0, rng.int(1, Math.floor((n - 1) / 2)));
        what = `split {${minority.map((i) => `m${i}`).join(',')}} from the majority`;
      }
      const majority = cluster.members.map((m) => m.index).filter((i) => !minority.includes(i));
      const ms = rng.int(1000, 3000);
      for (const m of cluster.members) m.mark(`partition ${mode}: {${minority}} | {${majority}}`);
      cluster.network.partition([minority, majority], mode);
      await sleep(ms);
      cluster.network.heal();
      for (const m of cluster.members) m.mark('partition healed');
      return `${what}, ${mode}, ${ms} ms`;
    },
  },
  /** Moves leadership to a random follower through the Maintenance API (MoveLeader), as etcdctl does. */
  'leader-transfer': {
    name: 'leader-transfer',
    minMembers: 2,
    async inject(cluster, rng) {
      const { leader, follower } = await pickFollower(cluster, rng);
      if (!follower) return ''; // no leader known right now: nothing injected
      const admin = adminClient(cluster);
      const t0 = Date.now();
      try {
        await admin.moveLeader(BigInt(follower.id));
        return `move-leader ${leader.name} -> ${follower.name}: ok in ${Date.now() - t0} ms`;
      } catch (e) {
        return `move-leader ${leader.name} -> ${follower.name}: failed after ${Date.now() - t0} ms (${errText(e)})`;
      } finally {
        admin.close();
      }
    },
  },
  /**
   * Removes a random follower, or a third of the time the leader (MemberRemove; it stops itself), wipes
   * its data dir and adds it back as a new member with a new id: as a voter, or as a learner that is
   * then promoted once in sync (rng).
   */
  membership: {
    name: 'membership',
    minMembers: 3,
    async inject(cluster, rng) {
      const asLearner = rng.next() < 0.5;
      // A third of the time the member removed (and added back) is the leader: it applies its own
      // removal, stops itself and the others elect a new leader, which the re-add then waits for.
      const removeLeader = rng.next() < 1 / 3;
      const { leader, follower } = await pickFollower(cluster, rng);
      const f = removeLeader ? leader : follower;
      if (!f) return ''; // no leader known right now: nothing injected
      const admin = adminClient(cluster, f.index);
      const steps = [];
      const t0 = Date.now();
      try {
        const oldId = f.id;
        // etcd refuses a removal that would leave fewer than a quorum of members connected for 5 s
        // ("unhealthy cluster", --strict-reconfig-check): right after an earlier change, wait for that.
        for (let attempt = 0; ; attempt++) {
          try {
            await admin.memberRemove(BigInt(oldId));
            break;
          } catch (e) {
            if (attempt >= 16 || !/unhealthy cluster/.test(errText(e))) {
              return `member remove ${f.name} refused: ${errText(e)}`;
            }
            await sleep(500);
          }
        }
        steps.push(`removed ${removeLeader ? 'the leader ' : ''}${f.name} (${BigInt(oldId).toString(16)})`);
        if (!(await f.waitExit(5000))) {
          await f.kill('SIGKILL');
          steps.push('did not stop by itself in 5 s: killed');
        }
        f.wipe();
        let res;
        for (let attempt = 0; !res; attempt++) {
          try {
            res = await admin.memberAdd([f.peerUrl], { isLearner: asLearner });
          } catch (e) {
            // Refused while the removal is still settling (strict reconfig check): retry for 10 s.
            if (attempt >= 20) throw e;
            await sleep(500);
          }
        }
        f.initialCluster = res.members.map((m) => `${m.name || f.name}=${m.peerURLs[0]}`).join(',');
        f.clusterState = 'existing';
        await f.start({ serializable: asLearner });
        steps.push(`added back as ${asLearner ? 'learner' : 'voter'} ${BigInt(f.id).toString(16)}`);
        if (asLearner) {
          const deadline = Date.now() + 15_000;
          for (;;) {
            try {
              await admin.memberPromote(BigInt(f.id));
              steps.push('promoted');
              break;
            } catch (e) {
              // "can only promote a learner member which is in sync with leader": wait for it.
              if (Date.now() > deadline) {
                steps.push(`not promoted in 15 s (${errText(e)})`);
                break;
              }
              await sleep(300);
            }
          }
        }
        return `${steps.join(', ')} in ${Date.now() - t0} ms`;
      } finally {
        admin.close();
      }
    },
  },
  /**
   * kv-server only: restarts a member (the leader or a random one; SIGTERM, a clean stop) with one
   * failpoint armed once it serves (KV_FAILPOINTS="<point>=<P>%panic", P from RUN_FAILPOINTS,
   * KV_FAILPOINTS_FROM=serving), waits up to 5 s for it to crash there (else SIGKILL), then restarts it
   * without failpoints. etcd's failpoints need a gofail build, which Debian's etcd is not.
   */
  failpoint: {
    name: 'failpoint',
    kvOnly: true,
    async inject(cluster, rng) {
      const { m, role } = await pickMember(cluster, rng);
      const point = rng.pick(Object.keys(RUN_FAILPOINTS));
      const spec = `${point}=${RUN_FAILPOINTS[point]}%panic`;
      await m.kill('SIGTERM');
      let outcome;
      // Armed once the member serves (KV_FAILPOINTS_FROM=serving), so a crash is always under traffic,
      // possibly before the harness's own first read on it succeeded.
      const armedAt = Date.now();
      const crashed = () => `crashed ${Date.now() - armedAt} ms after the armed restart`;
      try {
        await m.start({ env: { KV_FAILPOINTS: spec, KV_FAILPOINTS_FROM: 'serving' }, waitMs: 5000 });
        outcome = (await m.waitExit(5000)) ? crashed() : undefined;
      } catch (e) {
        outcome = m.running ? undefined : crashed();
        if (m.running && !/not serving/.test(errText(e))) throw e;
      }
      if (!outcome) {
        await m.kill('SIGKILL');
        outcome = 'not reached in 5 s: SIGKILL';
      }
      const t0 = Date.now();
      await m.start();
      return `failpoint ${spec} on ${m.name} (${role}): ${outcome}, restarted clean and serving in ${Date.now() - t0} ms`;
    },
  },
};

/**
 * The nemesis for a `--nemesis` value: one name, or several separated by `,` or `+` (faults then take
 * them in turn, so a short run injects every kind; the rng still picks targets and timings). Undefined
 * for an unknown name.
 * @example nemesisFor('partition+leader-transfer')
 */
export function nemesisFor(spec) {
  const parts = spec.split(/[,+]/).map((n) => NEMESES[n.trim()]);
  if (parts.length === 0 || parts.some((n) => !n)) return undefined;
  if (parts.length === 1) return parts[0];
  let next = 0;
  return {
    name: spec,
    kvOnly: parts.some((n) => n.kvOnly),
    minMembers: Math.max(...parts.map((n) => n.minMembers ?? 1)),
    inject: (cluster, rng) => parts[next++ % parts.length].inject(cluster, rng),
  };
}

/**
 * Runs `nemesis` in a loop until `stop()` is called: wait 1-3 s, inject, repeat. A fault that throws
 * (a member that does not come back) ends the loop and is reported by stop().
 * @returns {{ stop: () => Promise<string[]> }} stop resolves with the faults injected
 */
export function runNemesis(nemesis, cluster, rng) {
  const faults = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      await sleep(rng.int(1000, 3000));
      if (stopping) break;
      const what = await nemesis.inject(cluster, rng);
      if (what) faults.push(`${new Date().toISOString()} ${what}`);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return faults;
    },
  };
}
