/**
 * SnapshotFrameEncoder writes Maintenance.Snapshot responses into one reused gRPC frame: its bytes must
 * be exactly the generated codec's message behind the 5-byte prefix, for every field combination the
 * stream produces (first, middle and last chunk, a final chunk with remaining_bytes 0, an empty
 * version, a blob larger than the buffer was sized for).
 */
import { randomBytes } from 'node:crypto';
import { SnapshotResponse } from '@kv/client/api';
import { describe, expect, it } from 'vitest';
import { SnapshotFrameEncoder } from '../src/api/snapshot-frame.js';
import { frameMessage } from '../src/transport/grpc/framing.js';

const header = {
  clusterId: 0x1234567890abcdefn,
  memberId: 0x7fffffffffffffffn,
  revision: 123456,
  raftTerm: 7,
};
const expected = (m: Parameters<typeof SnapshotResponse.encode>[0]) =>
  frameMessage(Buffer.from(SnapshotResponse.encode(m)));

describe('SnapshotFrameEncoder', () => {
  it('encodes each chunk as the codec does, framed, in one reused buffer', () => {
    const enc = new SnapshotFrameEncoder(32 * 1024);
    const cases = [
      { header, remainingBytes: 2 ** 40, blob: randomBytes(32 * 1024), version: '3.4.23' },
      { header, remainingBytes: 127, blob: randomBytes(32 * 1024), version: '3.4.23' },
      { header, remainingBytes: 128, blob: randomBytes(1), version: '3.4.23' },
      { header, remainingBytes: 0, blob: randomBytes(32), version: '3.4.23' },
      { header, remainingBytes: 0, blob: new Uint8Array(0), version: '' },
      { remainingBytes: 5, blob: randomBytes(300), version: 'x' },
      {
        header: { ...header, revision: 1 },
        remainingBytes: 1,
        blob: randomBytes(100 * 1024),
        version: '3.4.23',
      },
      { header, remainingBytes: 3, blob: randomBytes(16), version: '3.4.23' },
    ];
    const frames: Buffer[] = [];
    for (const m of cases) {
      const frame = enc.encode(m);
      expect(frame.equals(expected(m))).toBe(true);
      expect(SnapshotResponse.decode(frame.subarray(5)).remainingBytes).toBe(m.remainingBytes);
      frames.push(frame);
    }
    // Reused: the first frames share memory (the buffer grows only for the 100 KiB blob).
    expect(frames[0]!.buffer).toBe(frames[1]!.buffer);
    expect(frames[5]!.buffer).toBe(frames[0]!.buffer);
    expect(frames[6]!.buffer).not.toBe(frames[0]!.buffer);
  });
});
