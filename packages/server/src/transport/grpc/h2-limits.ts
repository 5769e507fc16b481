/**
 * The limits kv's HTTP/2 layer advertises and enforces, with their defaults, and the token bucket that
 * turns "too many cheap frames" into a GOAWAY ENHANCE_YOUR_CALM. Defaults follow etcd 3.4 (through
 * grpc-go) where etcd has a flag, and nghttp2 (Node's HTTP/2) where it does not.
 */

/** Limits and timers of one HTTP/2 server connection; every field has a default (see {@link H2_DEFAULTS}). */
export interface H2Limits {
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS, advertised and enforced (a stream past it is refused with
   * RST_STREAM REFUSED_STREAM, as grpc-go does). etcd's `--max-concurrent-streams`; its default
   * math.MaxUint32 is advertised as such, like etcd 3.4 (grpc-go sends every non-zero value); 0 means
   * no limit and is not advertised (grpc-go's reading of 0).
   */
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: larger request header lists are answered 431 and not kept. */
  maxHeaderListSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the client may use. */
  headerTableSize: number;
  /** SETTINGS_MAX_FRAME_SIZE: a larger frame is a connection error (FRAME_SIZE_ERROR). */
  maxFrameSize: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. */
  streamWindow: number;
  /** The connection's receive window. */
  connectionWindow: number;
  /**
   * Response bytes waiting for the client's flow-control windows, per connection: past this, new
   * streams are refused (REFUSED_STREAM, which gRPC clients retry) until the client reads, so a
   * client that opens windows slowly or not at all cannot make responses pile up.
   */
  maxQueuedBytes: number;
  /** Most CONTINUATION frames after one HEADERS frame (nghttp2: 8). */
  maxContinuations: number;
  /** Most entries in one SETTINGS frame (nghttp2: 32). */
  maxSettingsEntries: number;
  /** The client's preface and first SETTINGS, and its ACK of ours, must arrive within this (ms). */
  handshakeTimeoutMs: number;
  /** A connection with no open stream and no frame received for this long gets GOAWAY (ms; 0 = never). */
  idleTimeoutMs: number;
  /**
   * `--grpc-keepalive-min-time`: pings closer together than this are strikes; after two, GOAWAY
   * ENHANCE_YOUR_CALM "too_many_pings" (grpc-go's policy; 0 means grpc-go's default, 5 minutes).
   */
  keepaliveMinTimeMs: number;
  /** `--grpc-keepalive-interval`: ping a client that sent nothing for this long (ms; 0 = never). */
  keepaliveIntervalMs: number;
  /** `--grpc-keepalive-timeout`: close when that ping gets no answer within this (ms; 0 = never). */
  keepaliveTimeoutMs: number;
  /** Client-caused stream resets: burst allowed, then this many per second (nghttp2: 1000, 33). */
  resetBurst: number;
  resetRatePerSec: number;
  /**
   * Frames that cost us work but carry no request (PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty
   * DATA or CONTINUATION, unknown types): burst allowed, then this many per second; each HEADERS or
   * DATA frame we send earns one back (a client answering our data with WINDOW_UPDATE is not a flood).
   */
  cheapFrameBurst: number;
  cheapFrameRatePerSec: number;
}

/** grpc-go's minimum ping interval when etcd passes no enforcement policy (`--grpc-keepalive-min-time 0`). */
export const GRPC_DEFAULT_MIN_PING_MS = 5 * 60_000;

/** The defaults: etcd 3.4's flag defaults and nghttp2's limits. */
export const H2_DEFAULTS: Readonly<H2Limits> = {
  maxConcurrentStreams: 0xffffffff,
  maxHeaderListSize: 64 * 1024,
  headerTableSize: 4096,
  maxFrameSize: 16384,
  streamWindow: 1 << 20,
  connectionWindow: 16 << 20,
  maxQueuedBytes: 16 << 20,
  maxContinuations: 8,
  maxSettingsEntries: 32,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 5 * 60_000,
  keepaliveMinTimeMs: 5_000,
  keepaliveIntervalMs: 2 * 3600_000,
  keepaliveTimeoutMs: 20_000,
  resetBurst: 1000,
  resetRatePerSec: 33,
  cheapFrameBurst: 1000,
  cheapFrameRatePerSec: 100,
};

/**
 * A token bucket: `take()` spends one token and reports false once the bucket is empty. Tokens come
 * back at `ratePerSec` (computed lazily from the clock, so no timer) up to `burst`, and by `give()`.
 *
 * @example
 * const resets = new RateBudget(1000, 33);
 * if (!resets.take()) goAway(ENHANCE_YOUR_CALM);
 */
export class RateBudget {
  private tokens: number;
  private last = Date.now();

  constructor(
    private readonly burst: number,
    private readonly ratePerSec: number,
  ) {
    this.tokens = burst;
  }

  /** Spends one token; false when none is left. */
  take(): boolean {
    const now = Date.now();
    if (now !== this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Returns one token (up to the burst). */
  give(): void {
    if (this.tokens < this.burst) this.tokens++;
  }
}
