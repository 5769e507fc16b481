import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConfChangeTransition,
  ConfChangeType,
  decodeConfChange,
  decodeConfChangeV2,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  EntryType,
  encodeConfChange,
  encodeConfChangeV2,
  encodeConfState,
  encodeEntry,
  encodeEntryInto,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
  entryEncodedSize,
  MessageType,
  makeMessage,
  ProtoDecodeError,
  varintLength,
  writeVarint,
} from '../src/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

describe('raftpb codec', () => {
  it('HardState uses etcd field numbers (term=1, vote=2, commit=3)', () => {
    expect(hex(encodeHardState({ term: 1, vote: 2n, commit: 3 }))).toBe('080110021803');
    expect(decodeHardState(fromHex('080110021803'))).toEqual({ term: 1, vote: 2n, commit: 3 });
  });

  it('decodes an Entry as etcd (gogoproto) writes it: Type=1, Term=2, Index=3, Data=4', () => {
    // etcd always writes the non-nullable Type field, even when 0.
    const etcdBytes = fromHex('0800' + '1005' + '1807' + '2203616263');
    expect(decodeEntry(etcdBytes)).toEqual({
      term: 5,
      index: 7,
      type: EntryType.Normal,
      data: new TextEncoder().encode('abc'),
    });
    const e = { term: 9, index: 300, type: EntryType.ConfChangeV2, data: new Uint8Array([1, 2]) };
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });

  it('varintLength and writeVarint agree with protobuf varints at every length boundary up to 2^53', () => {
    const cases: Array<[number, string]> = [
      [0, '00'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [16_383, 'ff7f'],
      [16_384, '808001'],
      [2 ** 35, '808080808001'],
      [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
    ];
    for (const [n, want] of cases) {
      const out = new Uint8Array(12);
      expect(writeVarint(out, 2, n)).toBe(2 + want.length / 2);
      expect(hex(out.subarray(2, 2 + want.length / 2))).toBe(want);
      expect(varintLength(n)).toBe(want.length / 2);
    }
  });

  it("encodeEntryInto writes exactly encodeEntry's bytes, at an offset, in entryEncodedSize bytes", () => {
    // The msgappv2 stream encoder writes entries in place with these; peers must see the same bytes.
    const entry = fc.record({
      term: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
      index: fc.oneof(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      ),
      type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange, EntryType.ConfChangeV2),
      data: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(entry, fc.integer({ min: 0, max: 16 }), (e, pad) => {
        const want = encodeEntry(e);
        const size = entryEncodedSize(e);
        expect(size).toBe(want.length);
        const out = new Uint8Array(pad + size + 3).fill(0xee);
        expect(encodeEntryInto(e, out, pad)).toBe(pad + size);
        expect(hex(out.subarray(pad, pad + size))).toBe(hex(want));
        expect([...out.subarray(0, pad), ...out.subarray(pad + size)].every((b) => b === 0xee)).toBe(true);
        expect(decodeEntry(out.subarray(pad, pad + size))).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips a MsgApp with entries and a MsgSnap with a snapshot', () => {
    const app = makeMessage({
      type: MessageType.MsgApp,
      to: 2n,
      from: 1n,
      term: 3,
      logTerm: 2,
      index: 10,
      commit: 9,
      entries: [
        { term: 3, index: 11, type: EntryType.Normal, data: new Uint8Array([7]) },
        { term: 3, index: 12, type: EntryType.ConfChange, data: new Uint8Array([8, 9]) },
      ],
    });
    expect(decodeMessage(encodeMessage(app))).toEqual(app);
    const snap = makeMessage({
      type: MessageType.MsgSnap,
      to: 3n,
      from: 1n,
      term: 4,
      snapshot: {
        data: new Uint8Array([1, 2, 3]),
        metadata: {
          index: 100,
          term: 4,
          confState: {
            voters: [1n, 2n, 3n],
            learners: [4n],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
      },
      reject: true,
      rejectHint: 77,
      context: new Uint8Array([5]),
    });
    expect(decodeMessage(encodeMessage(snap))).toEqual(snap);
  });

  it('message type numbers follow etcd (MsgPreVoteResp = 18 in field 1)', () => {
    const bytes = encodeMessage(makeMessage({ type: MessageType.MsgPreVoteResp, to: 1n, from: 2n, term: 3 }));
    expect(hex(bytes).startsWith('0812')).toBe(true);
  });

  it('round-trips snapshots, conf states and both conf change versions', () => {
    const s = {
      data: new Uint8Array([42]),
      metadata: {
        index: 5,
        term: 2,
        confState: {
          voters: [1n, 2n],
          learners: [],
          votersOutgoing: [1n, 2n, 3n],
          learnersNext: [3n],
          autoLeave: true,
        },
      },
    };
    expect(decodeSnapshot(encodeSnapshot(s))).toEqual(s);
    expect(decodeConfState(encodeConfState(s.metadata.confState))).toEqual(s.metadata.confState);
    const cc = { type: ConfChangeType.AddLearnerNode, nodeId: 7n, context: new Uint8Array([1]), id: 99n };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    const cc2 = {
      transition: ConfChangeTransition.JointExplicit,
      changes: [
        { type: ConfChangeType.AddNode, nodeId: 4n },
        { type: ConfChangeType.RemoveNode, nodeId: 1n },
      ],
      context: new Uint8Array(),
    };
    expect(decodeConfChangeV2(encodeConfChangeV2(cc2))).toEqual(cc2);
  });

  it('ConfChange matches etcd layout (ID=1, Type=2, NodeID=3, Context=4)', () => {
    const b = encodeConfChange({
      type: ConfChangeType.RemoveNode,
      nodeId: 5n,
      context: new Uint8Array(),
      id: 1n,
    });
    // Context (field 4) is written even when empty, as for a non-nil empty []byte in Go.
    expect(hex(b)).toBe('0801100118052200');
    expect(decodeConfChange(fromHex('080110011805'))).toEqual({
      type: ConfChangeType.RemoveNode,
      nodeId: 5n,
      context: new Uint8Array(),
      id: 1n,
    });
  });

  it('node ids are exact over the whole uint64 range; terms and indexes up to 2^53', () => {
    const big = 2 ** 53 - 1;
    const maxId = 2n ** 64n - 1n;
    const m = makeMessage({
      type: MessageType.MsgHeartbeat,
      to: maxId,
      from: maxId - 1n,
      term: big,
      commit: big,
    });
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('rejects malformed input with a typed error', () => {
    expect(() => decodeMessage(fromHex('0a05'))).toThrow(ProtoDecodeError);
  });
});
