/**
 * {@link readForOpen} on a worker thread (WalOptions.readInWorker). A restarting server reads its WAL
 * (100 000 entries since the last snapshot by default: ~0.8 s of CPU) while it also rebuilds its key
 * index from the backend; on one thread the two took turns, here they run on two cores
 * (docs/benchmarks.md "Session 19").
 *
 * Protocol: the worker gets the segments (and the marker if it is fixed) as workerData and runs
 * readForOpen on them; when the opener chooses the marker, it sends the markers it found and waits for
 * the choice. Then it sends the contents (entries packed, see worker-protocol.ts) or an error.
 */
import { Worker } from 'node:worker_threads';
import { WalError } from './errors.js';
import type { MarkerChoice, OpenRead } from './open-read.js';
import type { SegmentName } from './segment-name.js';
import { decodeError, type FromWorker, unpackEntries, type WorkerJob } from './worker-protocol.js';

const WORKER_URL = new URL('./open-read-worker.js', import.meta.url);

/**
 * How long a worker that has answered stays alive (idle, not holding the process open) before it is
 * terminated. Why not at once: Node 20 unregisters a worker's isolate from its platform before it
 * disposes of it, and a TurboFan job for that isolate still running on a platform thread can then ask
 * the platform for the isolate's task runner (to schedule a collection it needs) and abort the whole
 * process with "Assertion failed: (data.first) != nullptr" in `NodePlatform::ForIsolate`. Robustness
 * runs hit it once in ~60 crash restarts (docs/reliability.md, batch Q). The read's hot loops are what
 * get compiled, and they have ended when the worker answers; idle for this long, its isolate has no
 * compile job left unless V8's threads get no CPU for seconds.
 */
export const WORKER_LINGER_MS = 2000;

/**
 * Terminates `worker` after `ms`, without keeping the process alive meanwhile (see
 * {@link WORKER_LINGER_MS}). Resolves when it has exited.
 * @example
 * await terminateAfter(worker, WORKER_LINGER_MS);
 */
export function terminateAfter(worker: Worker, ms: number): Promise<void> {
  worker.unref();
  return new Promise((resolve) => {
    worker.once('exit', () => resolve());
    setTimeout(() => void worker.terminate(), ms).unref();
  });
}

export function readForOpenInWorker(
  dir: string,
  segments: SegmentName[],
  choice: MarkerChoice,
): Promise<OpenRead> {
  const chooser = typeof choice === 'function' ? choice : undefined;
  const job: WorkerJob = typeof choice === 'function' ? { dir, segments } : { dir, segments, marker: choice };
  return new Promise<OpenRead>((resolve, reject) => {
    // Not unref'd: while the opener awaits the answer, the worker may be all that keeps its process alive.
    const worker = new Worker(WORKER_URL, { workerData: job });
    let settled = false;
    const finish = (err: Error | undefined, value?: OpenRead) => {
      if (settled) return;
      settled = true;
      void terminateAfter(worker, WORKER_LINGER_MS);
      if (err) reject(err);
      else resolve(value!);
    };
    worker.on('message', (msg: FromWorker) => {
      if (msg.kind === 'markers') {
        // Only sent when the opener chooses (job.marker unset). Through a promise chain, so a chooser
        // that throws instead of rejecting is handled the same way.
        Promise.resolve(msg)
          .then((m) => chooser!(m.available, m.committed))
          .then(
            (marker) => worker.postMessage({ marker }),
            (err: unknown) => finish(err as Error),
          );
      } else if (msg.kind === 'error') {
        finish(decodeError(msg.error));
      } else {
        finish(undefined, {
          marker: msg.marker,
          contents: { metadata: msg.metadata, hardState: msg.hardState, entries: unpackEntries(msg.entries) },
          lastIndex: msg.lastIndex,
          savedState: msg.savedState,
          last: msg.last,
        });
      }
    });
    worker.on('error', (err) => finish(new WalError(`wal: read worker failed: ${err.message}`)));
    worker.on('exit', (code) =>
      finish(new WalError(`wal: read worker exited (code ${code}) before it answered`)),
    );
  });
}
