#!/usr/bin/env node
/**
 * raft-soak: runs many more seeds of @kv/raft's deterministic cluster simulator than CI does, with the
 * full fault window, spread over worker threads. Any failure prints the seed; reproduce it with
 *   RAFT_SIM_SEED=<seed> node_modules/.bin/vitest run test/sim/sim-part1.test.ts   (in packages/raft)
 * or `node tools/raft-soak.mjs --from <seed> --count 1`.
 *
 * Usage: node tools/raft-soak.mjs [--from 1] [--count 20000] [--workers 2] [--fault-steps 600]
 *        (also `pnpm --filter @kv/raft soak -- --count 50000`)
 */
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'raft');
const simModule = pathToFileURL(join(pkgDir, 'dist-bench', 'test', 'sim', 'simulator.js')).href;

function parseArgs(argv) {
  const opts = { from: 1, count: 20000, workers: 2, faultSteps: 600 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = Number(argv[i + 1]);
    if (key === '--from') opts.from = value;
    else if (key === '--count') opts.count = value;
    else if (key === '--workers') opts.workers = value;
    else if (key === '--fault-steps') opts.faultSteps = value;
    else continue;
    i++;
  }
  return opts;
}

if (isMainThread) {
  const opts = parseArgs(process.argv.slice(2));
  // Compile the library and the simulator once (tsc, no extra tooling).
  execFileSync(
    join(pkgDir, '..', '..', 'node_modules', '.bin', 'tsc'),
    ['-p', join(pkgDir, 'tsconfig.bench.json')],
    {
      stdio: 'inherit',
    },
  );
  const started = Date.now();
  const perWorker = Math.ceil(opts.count / opts.workers);
  let done = 0;
  const failures = [];
  let runs = 0;
  for (let w = 0; w < opts.workers; w++) {
    const from = opts.from + w * perWorker;
    const count = Math.max(0, Math.min(perWorker, opts.from + opts.count - from));
    const worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { from, count, faultSteps: opts.faultSteps },
    });
    worker.on('message', (msg) => {
      if (msg.type === 'failure') {
        failures.push(msg.seed);
        console.error(`FAIL seed ${msg.seed}: ${msg.message}`);
      } else if (msg.type === 'progress') {
        runs += msg.runs;
      }
    });
    worker.on('exit', () => {
      done++;
      if (done === opts.workers) {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`raft-soak: ${runs} seeds from ${opts.from} in ${secs}s, ${failures.length} failed`);
        if (failures.length > 0) {
          console.log(`failing seeds: ${failures.join(' ')}`);
          process.exit(1);
        }
      }
    });
  }
} else {
  const { runSimulation } = await import(simModule);
  const { from, count, faultSteps } = workerData;
  let sinceReport = 0;
  for (let seed = from; seed < from + count; seed++) {
    try {
      runSimulation(seed, { faultSteps });
    } catch (e) {
      parentPort.postMessage({ type: 'failure', seed, message: String(e?.message ?? e) });
    }
    if (++sinceReport === 100) {
      parentPort.postMessage({ type: 'progress', runs: sinceReport });
      sinceReport = 0;
    }
  }
  parentPort.postMessage({ type: 'progress', runs: sinceReport });
}
