// Faults injected while traffic runs. A nemesis is { name, inject(cluster, rng) -> description,
// heal(cluster) }: inject one fault and undo it (or wait it out), so the schedule in run.mjs stays the
// same for every fault. Cluster nemeses (partitions through a proxy, leader transfer, membership
// changes) plug in here once clusters exist; they need only the member list.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @type {Record<string, { name: string, inject: (cluster: any, rng: any) => Promise<string> }>} */
export const NEMESES = {
  none: {
    name: 'none',
    async inject() {
      return '';
    },
  },
  /** SIGKILL a member, keep it down a moment, restart it on the same data dir. */
  kill: {
    name: 'kill',
    async inject(cluster, rng) {
      const m = rng.pick(cluster.members);
      await m.kill('SIGKILL');
      const down = rng.int(200, 1000);
      await sleep(down);
      const t0 = Date.now();
      await m.start();
      return `SIGKILL ${m.opts.name}, down ${down} ms, restarted and serving in ${Date.now() - t0} ms`;
    },
  },
  /** SIGSTOP a member for a while (clients time out), then SIGCONT. */
  pause: {
    name: 'pause',
    async inject(cluster, rng) {
      const m = rng.pick(cluster.members);
      m.pause();
      const stopped = rng.int(500, 2500);
      await sleep(stopped);
      m.resume();
      return `SIGSTOP ${m.opts.name} for ${stopped} ms`;
    },
  },
};

/**
 * Runs `nemesis` in a loop until `stop()` is called: wait 1-3 s, inject, repeat.
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
