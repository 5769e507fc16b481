/**
 * Buffers for socket writes, shared by every HTTP/2 connection and reused once the socket is done with
 * them. Each connection turns the frames of one event-loop turn into one socket write; copying them
 * into a fresh buffer every time made one 32 KiB+ external allocation per turn, and V8 frees external
 * memory only after about 64 MiB of it has piled up, so a long stream (a 1 GiB Maintenance.Snapshot)
 * kept tens of MiB of dead write buffers in RSS (docs/operations.md "Snapshot memory").
 */

/** Size of a pooled buffer: a turn's output that fits takes one; larger output is allocated as before. */
export const OUTPUT_BUFFER_BYTES = 64 * 1024;
/** Free buffers kept at most (1 MiB); more are left to the garbage collector. */
const MAX_FREE = 16;

const free: Buffer[] = [];

/** A buffer of {@link OUTPUT_BUFFER_BYTES}, from the free list when one is there. */
export function takeOutputBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(OUTPUT_BUFFER_BYTES);
}

/** Gives `buf` back; call only once nothing (the socket included) reads it any more. */
export function releaseOutputBuffer(buf: Buffer): void {
  if (free.length < MAX_FREE) free.push(buf);
}
