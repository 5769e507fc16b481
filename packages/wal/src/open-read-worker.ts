/**
 * Worker-thread side of {@link readForOpenInWorker}: reads and checks a WAL's segments with the same
 * functions an in-thread open uses, asks the opening thread for the snapshot marker when it has to
 * choose one, and sends back the contents with every kept entry's data packed into one transferred
 * buffer. Protocol in worker-open-read.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nodeFileSystem } from './fs-layer.js';
import { type MarkerChoice, readForOpen } from './open-read.js';
import type { WalSnapshotMarker } from './types.js';
import {
  encodeError,
  type FromWorker,
  packEntries,
  type ToWorker,
  type WorkerJob,
} from './worker-protocol.js';

const port = parentPort!;
const job = workerData as WorkerJob;

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** The opener's choice, asked for over the port (it holds the snapshot files the choice depends on). */
const askOpener: MarkerChoice = (available, committed) => {
  send({ kind: 'markers', available, committed });
  return new Promise<WalSnapshotMarker>((resolve) =>
    port.once('message', (m: ToWorker) => resolve(m.marker)),
  );
};

async function run(): Promise<void> {
  const read = await readForOpen(nodeFileSystem, job.dir, job.segments, job.marker ?? askOpener);
  const { contents } = read;
  const packed = packEntries(contents.entries);
  send(
    {
      kind: 'done',
      marker: read.marker,
      metadata: contents.metadata,
      hardState: contents.hardState,
      entries: packed,
      lastIndex: read.lastIndex,
      savedState: read.savedState,
      last: read.last,
    },
    [packed.data.buffer as ArrayBuffer, packed.fields.buffer as ArrayBuffer],
  );
}

run()
  .catch((err: unknown) => send({ kind: 'error', error: encodeError(err) }))
  // Stay alive, idle, until the opener terminates this worker (after WORKER_LINGER_MS): ending here
  // would dispose of the isolate while compile jobs for it may still run (worker-open-read.ts).
  .finally(() => {
    port.on('message', () => {});
    // What the read held (segment buffers, decoded entries) is garbage now; without a collection it
    // would stay in this isolate's heap until the worker ends. `gc` exists when node runs with
    // --expose-gc (bin/kv-server does).
    (globalThis as { gc?: () => void }).gc?.();
  });
