// The byte formats metcd defines: commands in raft entries, snapshot payloads, raft message frames on
// the wire, and node ids.
import { MessageType, makeMessage } from '@kv/raft';
import { describe, expect, it } from 'vitest';
import { CommandDecodeError, decodeCommand, encodeCommand, newRequestId } from '../src/command.js';
import { nodeId } from '../src/node-id.js';
import { decodeSnapshotData, encodeSnapshotData, SnapshotDataError } from '../src/snapshot-data.js';
import { decodeFrames, encodeFrames } from '../src/transport.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('commands', () => {
  it('round-trip puts (binary keys and values, empty value) and deletes', () => {
    const id = newRequestId();
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    const put = { op: 'put' as const, requestId: id, key: new Uint8Array([0, 255, 1]), value: utf8('v') };
    expect(decodeCommand(encodeCommand(put))).toEqual(put);
    const empty = { op: 'put' as const, requestId: id, key: utf8('k'), value: new Uint8Array(0) };
    expect(decodeCommand(encodeCommand(empty))).toEqual(empty);
    const del = { op: 'delete' as const, requestId: id, key: utf8('gone') };
    expect(decodeCommand(encodeCommand(del))).toEqual(del);
  });

  it('refuse truncated data, unknown ops and bad request ids', () => {
    const good = encodeCommand({ op: 'put', requestId: newRequestId(), key: utf8('key'), value: utf8('v') });
    expect(() => decodeCommand(good.subarray(0, 5))).toThrow(CommandDecodeError);
    expect(() => decodeCommand(good.subarray(0, 14))).toThrow(/runs past its end/);
    const bad = good.slice();
    bad[0] = 9;
    expect(() => decodeCommand(bad)).toThrow(/unknown command op 9/);
    expect(() => encodeCommand({ op: 'delete', requestId: 'xyz', key: utf8('k') })).toThrow(/16 hex digits/);
  });
});

describe('snapshot data', () => {
  it('round-trips peers and engine bytes', () => {
    const peers = new Map([
      [nodeId(1), 'http://127.0.0.1:1'],
      [nodeId(4), 'http://127.0.0.1:4'],
    ]);
    const engine = new Uint8Array([1, 2, 3, 0, 9]);
    const back = decodeSnapshotData(encodeSnapshotData({ peers, engine }));
    expect(back.peers).toEqual(peers);
    expect(back.engine).toEqual(engine);
  });

  it('refuses data it did not write', () => {
    expect(() => decodeSnapshotData(utf8('raftexample json'))).toThrow(SnapshotDataError);
    const ok = encodeSnapshotData({ peers: new Map(), engine: new Uint8Array() });
    expect(() => decodeSnapshotData(ok.subarray(0, ok.length - 1))).toThrow(/runs past its end/);
  });
});

describe('raft message frames', () => {
  it('carry several messages per POST body, in order', () => {
    const msgs = [
      makeMessage({ type: MessageType.MsgHeartbeat, from: nodeId(1), to: nodeId(2), term: 3, commit: 7 }),
      makeMessage({
        type: MessageType.MsgApp,
        from: nodeId(1),
        to: nodeId(2),
        term: 3,
        index: 7,
        logTerm: 3,
        entries: [{ term: 3, index: 8, type: 0, data: utf8('x') }],
      }),
    ];
    const back = decodeFrames(encodeFrames(msgs));
    expect(back.map((m) => [m.type, m.to, m.index, m.entries.length])).toEqual([
      [MessageType.MsgHeartbeat, nodeId(2), 0, 0],
      [MessageType.MsgApp, nodeId(2), 7, 1],
    ]);
    expect(back[1]!.entries[0]!.data).toEqual(utf8('x'));
    expect(decodeFrames(new Uint8Array())).toEqual([]);
  });

  it('refuse a truncated body', () => {
    const body = encodeFrames([
      makeMessage({ type: MessageType.MsgHeartbeat, from: nodeId(1), to: nodeId(2) }),
    ]);
    expect(() => decodeFrames(body.subarray(0, body.length - 1))).toThrow(/truncated raft frame/);
    expect(() => decodeFrames(body.subarray(0, 2))).toThrow(/truncated raft frame header/);
  });
});

describe('node ids', () => {
  it('parse positive decimal integers only', () => {
    // Compared as strings so the test holds for number and bigint ids alike.
    expect(String(nodeId('3'))).toBe('3');
    expect(String(nodeId(12))).toBe('12');
    expect(String(nodeId(' 7 '))).toBe('7');
    for (const bad of ['0', '-1', '1.5', 'abc', '', '01', '99999999999999999999']) {
      expect(() => nodeId(bad), bad).toThrow(RangeError);
    }
  });
});
