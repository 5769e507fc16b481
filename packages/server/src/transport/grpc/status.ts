/**
 * gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), the same numbers as
 * grpc-js's `status` enum.
 *
 * Why kv has its own copy: the server speaks gRPC through its own HTTP/2 layer (./server.ts) and used
 * grpc-js only for these numbers, yet importing grpc-js cost ~110 ms of every start (docs/benchmarks.md
 * "Restart and RSS (session 6)"). grpc-js is now loaded only where a grpc-js client is made (the
 * corruption check's peer hash fetcher).
 *
 * @example
 * import { Status } from './status.js';
 * if (err.code === Status.UNAVAILABLE) retry();
 */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** One gRPC status code. */
export type Status = (typeof Status)[keyof typeof Status];
