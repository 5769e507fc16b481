/**
 * etcd's leasepb.LeaseInternalRequest / LeaseInternalResponse (the `/leases/internal` body): a wrapper
 * with the etcdserverpb TimeToLive request or response in field 1. Not among the generated codecs (they
 * live in etcd's lease package), so the one length-delimited field is framed here.
 */
import { LeaseTimeToLiveRequest, LeaseTimeToLiveResponse } from '@kv/client/api';

const FIELD1_BYTES = 0x0a; // field 1, wire type 2

function wrap(inner: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = inner.length;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    len.push(b);
  } while (n);
  const out = new Uint8Array(1 + len.length + inner.length);
  out[0] = FIELD1_BYTES;
  out.set(len, 1);
  out.set(inner, 1 + len.length);
  return out;
}

function unwrap(buf: Uint8Array): Uint8Array {
  if (buf.length === 0) return buf; // the field absent: an empty inner message
  if (buf[0] !== FIELD1_BYTES) throw new Error('unexpected field in lease internal message');
  let len = 0;
  let shift = 0;
  let i = 1;
  for (;;) {
    if (i >= buf.length || shift > 28) throw new Error('truncated lease internal message');
    const b = buf[i++]!;
    len |= (b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  if (i + len > buf.length) throw new Error('truncated lease internal message');
  return buf.subarray(i, i + len);
}

export const encodeLeaseInternalRequest = (r: Partial<LeaseTimeToLiveRequest>) =>
  wrap(LeaseTimeToLiveRequest.encode(r));
export const decodeLeaseInternalRequest = (b: Uint8Array) => LeaseTimeToLiveRequest.decode(unwrap(b));
export const encodeLeaseInternalResponse = (r: Partial<LeaseTimeToLiveResponse>) =>
  wrap(LeaseTimeToLiveResponse.encode(r));
export const decodeLeaseInternalResponse = (b: Uint8Array) => LeaseTimeToLiveResponse.decode(unwrap(b));
