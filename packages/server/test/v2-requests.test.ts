/**
 * etcd 3.4's v2 requests in the raft log (member attributes, cluster version): the bytes etcd's own
 * marshaler writes (fixtures printed by test/fixtures/etcd-v2-requests.go.txt against Debian's etcd 3.4
 * source) decode to the right effect, kv's publish request is byte-identical to etcd's, and no v3 request
 * kv proposes is mistaken for a v2 one.
 */
import { InternalRaftRequest } from '@kv/client/api';
import { describe, expect, it } from 'vitest';
import {
  decodeV2Request,
  encodeAttributesRequest,
  mayBeV2Request,
  v2Effect,
} from '../src/etcdserver/v2-requests.js';

const ETCD_ATTRIBUTES =
  '08cdd2918bd2b881cf8e0112035055541a262f302f6d656d626572732f666434323233373966646135306534382f617474726962757465' +
  '7322347b226e616d65223a226d31222c22636c69656e7455524c73223a5b22687474703a2f2f3132372e302e302e313a32333739225d7d' +
  '2800320038004800500058006000680070007800800100';
const ETCD_VERSION =
  '08c54612035055541a0a2f302f76657273696f6e2205332e342e302800320038004800500058006000680070007800800100';
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

describe('etcd 3.4 v2 requests', () => {
  it("decode etcd's member attributes publish", () => {
    const data = bytes(ETCD_ATTRIBUTES);
    expect(mayBeV2Request(data)).toBe(true);
    // What the applier tries first must refuse it, as etcd's MaybeUnmarshal does.
    expect(() => InternalRaftRequest.decode(data)).toThrow();
    const req = decodeV2Request(data);
    expect(req.ID).toBe(0x8e9e05c52164694dn);
    expect(v2Effect(req)).toEqual({
      kind: 'attributes',
      memberIdHex: 'fd422379fda50e48',
      name: 'm1',
      clientURLs: ['http://127.0.0.1:2379'],
    });
  });

  it("decode etcd's cluster version request", () => {
    const data = bytes(ETCD_VERSION);
    expect(() => InternalRaftRequest.decode(data)).toThrow();
    expect(v2Effect(decodeV2Request(data))).toEqual({ kind: 'version', version: '3.4.0' });
  });

  it("kv's publish request is byte-identical to etcd's", () => {
    const ours = encodeAttributesRequest(0x8e9e05c52164694dn, 'fd422379fda50e48', 'm1', [
      'http://127.0.0.1:2379',
    ]);
    expect(Buffer.from(ours).toString('hex')).toBe(ETCD_ATTRIBUTES);
  });

  it('v3 requests (id in the header) never look like v2 ones', () => {
    const v3 = InternalRaftRequest.encode({
      header: { ID: 0x8e9e05c52164694dn },
      put: { key: new TextEncoder().encode('k'), value: new Uint8Array([1]) },
    });
    expect(mayBeV2Request(v3)).toBe(false);
    expect(() => decodeV2Request(v3)).toThrow();
  });

  it('other v2 paths are recognised and left alone', () => {
    const other = decodeV2Request(bytes(ETCD_VERSION));
    other.Path = '/1/some/v2/key';
    expect(v2Effect(other)).toEqual({ kind: 'other', method: 'PUT', path: '/1/some/v2/key' });
  });
});
