/**
 * Worker-thread side of {@link readForOpenInWorker}: reads and checks a WAL's segments with the same
 * functions an in-thread open uses, asks the opening thread for the snapshot marker when it has to
 * choose one, and sends back the contents with every kept entry's data packed into one transferred
 * buffer. Protocol in worker-open-read.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { nodeFileSystem } from './fs-layer.js';
import { collect, lastCommitOf, lastSegment, markersOf, readSegments, segmentFor } from './open-read.js';
import type { SegmentName } from './segment-name.js';
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

async function run(): Promise<void> {
  const segments: SegmentName[] = job.segments;
  const read = await readSegments(nodeFileSystem, job.dir, segments);
  let marker: WalSnapshotMarker;
  let from = 0;
  if (job.marker) {
    marker = job.marker;
  } else {
    send({ kind: 'markers', available: markersOf(read.scans), committed: lastCommitOf(read.scans) });
    marker = await new Promise<WalSnapshotMarker>((resolve) =>
      port.once('message', (m: ToWorker) => resolve(m.marker)),
    );
    from = segmentFor(job.dir, segments, marker);
  }
  const { contents, lastIndex, savedState } = collect(read.scans.slice(from), segments.slice(from), marker);
  const packed = packEntries(contents.entries);
  send(
    {
      kind: 'done',
      marker,
      metadata: contents.metadata,
      hardState: contents.hardState,
      entries: packed,
      lastIndex,
      savedState,
      last: lastSegment(read),
    },
    [packed.data.buffer as ArrayBuffer, packed.fields.buffer as ArrayBuffer],
  );
}

run().catch((err: unknown) => send({ kind: 'error', error: encodeError(err) }));
