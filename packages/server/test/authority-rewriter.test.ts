// The byte-stream rewriter behind the :authority repair must forward every byte it does not rewrite,
// whatever the chunk boundaries: a partial frame held back when the connection turns out clean used to
// be dropped, which stalled large requests from etcdctl.
import { describe, expect, it } from 'vitest';
import { H2AuthorityRewriter } from '../src/transport/h2-authority.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

/** A header block: :method POST, :scheme http, :path /, and a literal :authority with indexing. */
function headerBlock(authority: string): Buffer {
  const a = Buffer.from(authority, 'latin1');
  return Buffer.concat([Buffer.from([0x83, 0x86, 0x84, 0x41, a.length]), a]);
}

function connection(authority: string, dataBytes: number): Buffer {
  return Buffer.concat([
    PREFACE,
    frame(0x4, 0, 0, Buffer.alloc(0)), // empty SETTINGS, as grpc-go sends
    frame(0x1, 0x4, 1, headerBlock(authority)), // HEADERS, END_HEADERS
    frame(0x0, 0x1, 1, Buffer.alloc(dataBytes, 7)), // DATA, END_STREAM
  ]);
}

function pushInChunks(input: Buffer, cut: number[]): Buffer {
  const rw = new H2AuthorityRewriter();
  const out: Buffer[] = [];
  let from = 0;
  for (const at of [...cut, input.length]) {
    out.push(rw.push(input.subarray(from, at)));
    from = at;
  }
  return Buffer.concat(out);
}

describe('H2AuthorityRewriter', () => {
  it('forwards a clean connection byte for byte at every chunk boundary', () => {
    const input = connection('127.0.0.1:2379', 300);
    for (let cut = 1; cut < input.length; cut++) {
      expect(pushInChunks(input, [cut]).equals(input), `cut at ${cut}`).toBe(true);
    }
  });

  it('forwards a large DATA frame split across many chunks', () => {
    const input = connection('127.0.0.1:2379', 16000);
    const cuts = [];
    for (let at = 70; at < input.length; at += 1111) cuts.push(at);
    expect(pushInChunks(input, cuts).equals(input)).toBe(true);
  });

  it('repairs an http:// authority, keeping its length, and forwards the rest', () => {
    const input = connection('http://127.0.0.1:2379', 500);
    const out = pushInChunks(input, [60]);
    expect(out.length).toBe(input.length);
    expect(out.includes(Buffer.from('http:--127.0.0.1:2379'))).toBe(true);
    expect(out.subarray(out.length - 500).equals(Buffer.alloc(500, 7))).toBe(true);
  });
});
