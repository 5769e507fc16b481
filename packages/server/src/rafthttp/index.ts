/**
 * etcd 3.4's peer transport (rafthttp) for kv-server: streams, pipeline, snapshots, probing, peer
 * TLS listeners. See README "Peer transport".
 */

export { ByteQueue } from './byte-queue.js';
export type { PeerTiming, RaftSink, StreamType } from './context.js';
export { DEFAULT_TIMING, PIPELINE_BUF_SIZE, STREAM_BUF_SIZE, STREAM_ENDPOINT } from './context.js';
export * from './errors.js';
export { createPeerListener, type PeerListener, type PeerListenerOptions } from './listener.js';
export { encodeMessageFrame, isLinkHeartbeat, LINK_HEARTBEAT, nextMessageFrame } from './message-codec.js';
export { MsgAppV2Decoder, MsgAppV2Encoder } from './msgappv2-codec.js';
export type { PeerBufferStats } from './peer.js';
export { PeerTransport, type PeerTransportOptions } from './transport.js';
