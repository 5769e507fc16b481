/**
 * Connection: the endpoints, their gRPC channels, per-call metadata (auth token) and failover.
 *
 * One grpc-js `Client` (one HTTP/2 channel) per endpoint, created lazily and shared by every service,
 * because etcd serves all services on the same port. Unary calls go round-robin over the endpoints and
 * move on to the next endpoint when one is unreachable; streams are opened on the next endpoint in the
 * same rotation (their owners reopen them on failure).
 */
import {
  type CallOptions,
  type ChannelCredentials,
  type ClientDuplexStream,
  type ClientReadableStream,
  credentials,
  Client as GrpcClient,
  status as GrpcStatus,
  Metadata,
} from '@grpc/grpc-js';
import { AuthService, MaintenanceService } from './api/index.js';
import {
  AbortedError,
  DeadlineExceededError,
  InvalidAuthTokenError,
  KvError,
  toKvError,
  UnavailableError,
} from './errors.js';
import { tlsChannelCredentials } from './tls-credentials.js';

/**
 * TLS settings for `https://` endpoints.
 *
 * @example
 * ```ts
 * const client = new KvClient({
 *   endpoints: ['https://10.0.0.1:2379'],
 *   tls: { ca: readFileSync('ca.pem'), cert: readFileSync('client.pem'), key: readFileSync('client-key.pem') },
 * });
 * ```
 */
export interface TlsOptions {
  /** PEM CA bundle that signs the server certificates (default: Node's root store). */
  ca?: Buffer | string;
  /** PEM client certificate for mutual TLS. */
  cert?: Buffer | string;
  /** PEM private key of `cert`. */
  key?: Buffer | string;
  /** Accept any server certificate (etcdctl's `--insecure-skip-tls-verify`). */
  insecureSkipVerify?: boolean;
}

/**
 * Options of {@link Connection} and `KvClient`.
 *
 * @example
 * ```ts
 * const opts: ConnectionOptions = { endpoints: ['127.0.0.1:2379'], dialTimeoutMs: 2000 };
 * const client = new KvClient(opts);
 * ```
 */
export interface ConnectionOptions {
  /** `http://host:port`, `https://host:port` or bare `host:port`; at least one. */
  endpoints: string[];
  /** User name; when set the client authenticates and sends the token with every call. */
  username?: string;
  /** Password of `username`. */
  password?: string;
  /** How long to wait for a channel to connect before trying the next endpoint (default 5000 ms). */
  dialTimeoutMs?: number;
  /** Default per-call deadline (default: none). */
  commandTimeoutMs?: number;
  /** TLS settings; also switches bare `host:port` endpoints to TLS. */
  tls?: TlsOptions;
  /** When and how often a failed call is tried again (see {@link RetryPolicy}). */
  retry?: RetryPolicy;
  /**
   * Probe every endpoint with a Status call this often (default: off). An endpoint that does not
   * answer within `healthCheckTimeoutMs` (a crashed, partitioned or hung member) is tried only after
   * the healthy ones until a later probe succeeds, so calls stop waiting on it.
   */
  healthCheckIntervalMs?: number;
  /** How long a health probe waits for an answer (default 1000 ms). */
  healthCheckTimeoutMs?: number;
}

/**
 * Retry policy. A call is only ever retried when that is safe:
 * - calls etcd's Go client marks repeatable (reads, lease calls, status, hashes, member list,
 *   MoveLeader, auth reads) are retried on gRPC UNAVAILABLE, on the next endpoint;
 * - every other call (Put, DeleteRange, Txn, Compact, member and auth changes, Defragment) is
 *   retried only when the request provably never left the client: the endpoint could not be
 *   dialled, or grpc-js refused to pick a connection ("No connection established").
 * Attempts stop at the call's deadline, whichever comes first.
 *
 * @example
 * ```ts
 * const client = new KvClient({
 *   endpoints: ['http://a:2379', 'http://b:2379', 'http://c:2379'],
 *   retry: { attempts: 6, backoffMs: 100 },
 * });
 * ```
 */
export interface RetryPolicy {
  /**
   * Total attempts per call (default: one per endpoint plus one). An endpoint whose dial timed out is
   * not tried again within the same call.
   */
  attempts?: number;
  /** Pause before an attempt that starts a new pass over the endpoints; doubles per pass (default 50 ms). */
  backoffMs?: number;
}

/** A grpc-js method definition as generated in `@kv/client/api` (the parts used here). */
export interface MethodDef<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
  /** Safe to send twice (etcd's clientv3 marks it repeatable): retried after any UNAVAILABLE. */
  readonly idempotent?: boolean;
}

/**
 * Per-call options, accepted as the last argument of every call.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * setTimeout(() => ac.abort(), 1000);
 * await client.get('config/', { prefix: true }, { signal: ac.signal, timeoutMs: 500 });
 * ```
 */
export interface CallOpts {
  /** Deadline for this call in milliseconds (overrides `commandTimeoutMs`); covers dialling and retries. */
  timeoutMs?: number;
  /** Aborts the call; it then rejects with {@link AbortedError}. */
  signal?: AbortSignal;
}

/** The time budget of one call: an absolute deadline (ms since epoch) and an abort signal. */
interface CallBudget {
  deadline: number | undefined;
  signal: AbortSignal | undefined;
}

/** The error an aborted signal turns into. */
function abortError(signal: AbortSignal): AbortedError {
  return new AbortedError(undefined, GrpcStatus.CANCELLED, signal.reason);
}

/**
 * Waits for `p`, but rejects early when the signal aborts. Used for steps grpc-js cannot cancel
 * (waiting for a channel to connect, backoff pauses).
 */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * True when a failed attempt provably never reached a server: grpc-js could not pick a connected
 * transport, so nothing was written. Only then may a non-idempotent call be retried.
 *
 * @example
 * ```ts
 * try {
 *   await client.put('k', 'v');
 * } catch (e) {
 *   if (e instanceof KvError && neverSent(e)) console.log('safe to try again: nothing was sent');
 * }
 * ```
 */
export function neverSent(e: KvError): boolean {
  return e instanceof UnavailableError && /No connection established/.test(e.message);
}

interface Endpoint {
  address: string;
  secure: boolean;
  client?: GrpcClient;
  /** Resolves once the channel has connected; dropped again when a call finds the endpoint down. */
  ready?: Promise<void>;
  /** Until this time (ms) the endpoint is tried only after the healthy ones. */
  downUntil: number;
  /** The last health probe got no answer (only with `healthCheckIntervalMs`). */
  unhealthy: boolean;
}

/** How long an endpoint that failed to connect is moved to the back of the rotation. */
const DOWN_PENALTY_MS = 5000;
/** gRPC-go's text for an expired context, which etcd and the client both use for a passed deadline. */
const DEADLINE_TEXT = 'context deadline exceeded';

/**
 * Parses an endpoint URL into the `host:port` grpc-js wants and whether it uses TLS.
 *
 * @example
 * ```ts
 * parseEndpoint('https://10.0.0.1:2379', false); // { address: '10.0.0.1:2379', secure: true }
 * ```
 */
export function parseEndpoint(ep: string, tlsByDefault: boolean): { address: string; secure: boolean } {
  const m = /^(https?|unixs?):\/\/(.*)$/.exec(ep.trim());
  if (!m) return { address: ep.trim(), secure: tlsByDefault };
  const scheme = m[1] as string;
  const rest = (m[2] as string).replace(/\/+$/, '');
  return { address: rest, secure: scheme === 'https' || scheme === 'unixs' };
}

/**
 * Owns the channels to a list of endpoints and performs calls with auth and failover.
 *
 * @example
 * ```ts
 * const client = new KvClient({ endpoints: ['http://127.0.0.1:2379'] });
 * client.conn.invalidateToken(); // the next call authenticates again
 * ```
 */
export class Connection {
  private readonly endpoints: Endpoint[];
  private next = 0;
  private token: string | undefined;
  private authenticating: Promise<string> | undefined;
  private closed = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(readonly options: ConnectionOptions) {
    if (options.endpoints.length === 0) throw new KvError('no endpoints given', GrpcStatus.INVALID_ARGUMENT);
    this.endpoints = options.endpoints.map((ep) => ({
      ...parseEndpoint(ep, options.tls !== undefined),
      downUntil: 0,
      unhealthy: false,
    }));
    const every = options.healthCheckIntervalMs;
    if (every !== undefined && every > 0) {
      this.healthTimer = setInterval(() => void this.checkHealth(), every);
      this.healthTimer.unref?.();
    }
  }

  /** Closes every channel; calls made afterwards fail. */
  close(): void {
    this.closed = true;
    clearInterval(this.healthTimer);
    for (const ep of this.endpoints) ep.client?.close();
  }

  /**
   * Each endpoint and whether it is in the preferred part of the rotation: not failed recently and
   * (with health checks on) answering its probes.
   *
   * @example
   * ```ts
   * const client = new KvClient({ endpoints, healthCheckIntervalMs: 1000 });
   * console.log(client.conn.health()); // [{ endpoint: '10.0.0.1:2379', healthy: true }, ...]
   * ```
   */
  health(): { endpoint: string; healthy: boolean }[] {
    const now = Date.now();
    return this.endpoints.map((e) => ({ endpoint: e.address, healthy: !e.unhealthy && e.downUntil <= now }));
  }

  /** Probes every endpoint once (overlapping rounds are skipped). */
  private async checkHealth(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    try {
      await Promise.all(
        this.endpoints.map(async (ep) => {
          ep.unhealthy = !(await this.probe(ep));
        }),
      );
    } finally {
      this.probing = false;
    }
  }

  /** True when the endpoint answers a Status call in time (any answer, even a refusal, is alive). */
  private async probe(ep: Endpoint): Promise<boolean> {
    const budget: CallBudget = {
      deadline: Date.now() + (this.options.healthCheckTimeoutMs ?? 1000),
      signal: undefined,
    };
    try {
      const client = await this.dial(ep, budget);
      await this.sendUnary(client, MaintenanceService.status, {}, await this.metadata(), budget);
      return true;
    } catch (e) {
      const err = toKvError(e);
      return !(err instanceof UnavailableError || err instanceof DeadlineExceededError);
    }
  }

  private credentialsFor(ep: Endpoint): ChannelCredentials {
    if (!ep.secure) return credentials.createInsecure();
    return tlsChannelCredentials(this.options.tls);
  }

  private clientFor(ep: Endpoint): GrpcClient {
    if (this.closed) throw new KvError('client is closed', GrpcStatus.CANCELLED);
    if (!ep.client) {
      // etcd accepts requests up to 1.5 MiB by default and answers with larger ranges; let the
      // server be the one that enforces limits.
      ep.client = new GrpcClient(ep.address, this.credentialsFor(ep), {
        'grpc.max_receive_message_length': -1,
        'grpc.max_send_message_length': -1,
      });
    }
    return ep.client;
  }

  /** Waits until `ep`'s channel is connected, at most `dialTimeoutMs` (or the call's deadline). */
  private async dial(ep: Endpoint, budget?: CallBudget): Promise<GrpcClient> {
    const client = this.clientFor(ep);
    if (!ep.ready) {
      const dialDeadline = Date.now() + (this.options.dialTimeoutMs ?? 5000);
      const deadline = Math.min(dialDeadline, budget?.deadline ?? dialDeadline);
      ep.ready = new Promise<void>((resolve, reject) => {
        client.waitForReady(deadline, (err) => {
          if (err) reject(new DeadlineExceededError(DEADLINE_TEXT, GrpcStatus.DEADLINE_EXCEEDED));
          else resolve();
        });
      });
      ep.ready.catch(() => {
        ep.ready = undefined;
        ep.downUntil = Date.now() + DOWN_PENALTY_MS;
      });
    }
    await raceAbort(ep.ready, budget?.signal);
    return client;
  }

  /**
   * Endpoints in the order to try them for the next call: round-robin over the endpoints, with the
   * ones that recently failed to connect or failed their health probe moved to the back so one dead
   * or hung member does not cost every call a timeout.
   */
  private rotation(): Endpoint[] {
    const start = this.next;
    this.next = (this.next + 1) % this.endpoints.length;
    const order = this.endpoints.map(
      (_, i) => this.endpoints[(start + i) % this.endpoints.length] as Endpoint,
    );
    const now = Date.now();
    const preferred = (e: Endpoint) => e.downUntil <= now && !e.unhealthy;
    return [...order.filter(preferred), ...order.filter((e) => !preferred(e))];
  }

  /**
   * The deadline and signal of a call, fixed once so retries share them. Streams (watch, keep-alive,
   * observe, snapshot) live as long as their owner wants: `commandTimeoutMs` does not apply to them.
   */
  private budget(opts?: CallOpts, stream = false): CallBudget {
    const t = opts?.timeoutMs ?? (stream ? undefined : this.options.commandTimeoutMs);
    return { deadline: t === undefined ? undefined : Date.now() + t, signal: opts?.signal };
  }

  private callOptions(budget: CallBudget): CallOptions {
    return budget.deadline === undefined ? {} : { deadline: budget.deadline };
  }

  private async metadata(): Promise<Metadata> {
    const md = new Metadata();
    if (this.options.username !== undefined) {
      this.token ??= await this.authenticate();
      md.set('token', this.token);
    }
    return md;
  }

  /** Gets a fresh token (one Authenticate in flight at a time). */
  private authenticate(): Promise<string> {
    this.authenticating ??= (async () => {
      try {
        const res = await this.rawUnary(
          AuthService.authenticate,
          { name: this.options.username ?? '', password: this.options.password ?? '' },
          new Metadata(),
          this.budget(),
        );
        return res.token;
      } finally {
        this.authenticating = undefined;
      }
    })();
    return this.authenticating;
  }

  /** One unary call with failover and safe retries over endpoints, but without auth handling. */
  private async rawUnary<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    md: Metadata,
    budget: CallBudget,
  ): Promise<Res> {
    const policy = this.options.retry ?? {};
    // One pass over the endpoints plus one more try: a channel that was in reconnect backoff fails a
    // call at once ("No connection established") and connects on the next dial.
    const attempts = Math.max(1, policy.attempts ?? this.endpoints.length + 1);
    let backoff = policy.backoffMs ?? 50;
    let last: KvError | undefined;
    let order: Endpoint[] = [];
    // Endpoints whose dial timed out in this call: trying them again would only spend another timeout.
    const undialable = new Set<Endpoint>();
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (budget.signal?.aborted) throw abortError(budget.signal);
      if (budget.deadline !== undefined && Date.now() >= budget.deadline) break;
      if (order.length === 0) {
        if (attempt > 0) {
          await raceAbort(new Promise((r) => setTimeout(r, backoff)), budget.signal);
          backoff *= 2;
        }
        order = this.rotation().filter((e) => !undialable.has(e));
        if (order.length === 0) break;
      }
      const ep = order.shift() as Endpoint;
      let client: GrpcClient;
      try {
        client = await this.dial(ep, budget);
      } catch (e) {
        last = toKvError(e);
        if (last instanceof AbortedError) throw last;
        undialable.add(ep);
        continue; // never sent: safe to retry for every call
      }
      try {
        return await this.sendUnary(client, def, req, md, budget);
      } catch (e) {
        last = toKvError(e);
        // The server saw the deadline we sent (grpc-timeout) pass first: etcd answers with its context's
        // error, UNKNOWN "context deadline exceeded", a moment before our own timer would fire.
        if (
          budget.deadline !== undefined &&
          last.code === GrpcStatus.UNKNOWN &&
          last.message === DEADLINE_TEXT
        )
          throw new DeadlineExceededError(DEADLINE_TEXT, GrpcStatus.DEADLINE_EXCEEDED);
        if (!(last instanceof UnavailableError)) throw last;
        ep.ready = undefined;
        ep.downUntil = Date.now() + DOWN_PENALTY_MS;
        // Anything but "unreachable" is the cluster's answer; an unreachable endpoint is only worth
        // another try when sending twice is harmless or nothing was sent.
        if (!def.idempotent && !neverSent(last)) throw last;
      }
    }
    if (last === undefined || (budget.deadline !== undefined && Date.now() >= budget.deadline)) {
      throw last instanceof DeadlineExceededError
        ? last
        : new DeadlineExceededError(DEADLINE_TEXT, GrpcStatus.DEADLINE_EXCEEDED);
    }
    throw last;
  }

  /** Sends one unary request on a connected channel; the signal cancels it. */
  private sendUnary<Req, Res>(
    client: GrpcClient,
    def: MethodDef<Req, Res>,
    req: Req,
    md: Metadata,
    budget: CallBudget,
  ): Promise<Res> {
    const signal = budget.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        req,
        md,
        this.callOptions(budget),
        (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err && signal?.aborted) reject(abortError(signal));
          else if (err) reject(err);
          else resolve(res as Res);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Performs a unary call: auth token, failover, one re-authentication on an invalid token. */
  async unary<Req, Res>(def: MethodDef<Req, Res>, req: Req, opts?: CallOpts): Promise<Res> {
    const budget = this.budget(opts);
    try {
      return await this.rawUnary(def, req, await raceAbort(this.metadata(), budget.signal), budget);
    } catch (e) {
      if (!(e instanceof InvalidAuthTokenError) || this.options.username === undefined) throw e;
      this.token = undefined;
      return this.rawUnary(def, req, await raceAbort(this.metadata(), budget.signal), budget);
    }
  }

  /** Forgets the cached auth token so the next call authenticates again. */
  invalidateToken(): void {
    this.token = undefined;
  }

  /** Opens a bidirectional stream on the next reachable endpoint. */
  async bidi<Req, Res>(def: MethodDef<Req, Res>, opts?: CallOpts): Promise<ClientDuplexStream<Req, Res>> {
    const budget = this.budget(opts, true);
    const md = await raceAbort(this.metadata(), budget.signal);
    const client = await this.firstReachable(budget);
    const stream = client.makeBidiStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      md,
      this.callOptions(budget),
    );
    cancelOnAbort(stream, budget.signal);
    return stream;
  }

  /** Opens a server stream on the next reachable endpoint. */
  async serverStream<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    opts?: CallOpts,
  ): Promise<ClientReadableStream<Res>> {
    const budget = this.budget(opts, true);
    const md = await raceAbort(this.metadata(), budget.signal);
    const client = await this.firstReachable(budget);
    const stream = client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      req,
      md,
      this.callOptions(budget),
    );
    cancelOnAbort(stream, budget.signal);
    return stream;
  }

  private async firstReachable(budget: CallBudget): Promise<GrpcClient> {
    let last: unknown;
    for (const ep of this.rotation()) {
      try {
        return await this.dial(ep, budget);
      } catch (e) {
        last = e;
        if (last instanceof AbortedError) break;
      }
    }
    throw toKvError(last);
  }
}

/** Cancels a stream when the signal aborts (its consumer then sees a CANCELLED error). */
function cancelOnAbort(
  stream: { cancel(): void; once(ev: 'close', l: () => void): unknown },
  signal?: AbortSignal,
): void {
  if (!signal) return;
  if (signal.aborted) {
    stream.cancel();
    return;
  }
  const onAbort = () => stream.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}
