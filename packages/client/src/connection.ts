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
import { AuthService } from './api/index.js';
import {
  DeadlineExceededError,
  InvalidAuthTokenError,
  KvError,
  toKvError,
  UnavailableError,
} from './errors.js';

/** TLS settings for `https://` endpoints. */
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

/** Options of {@link Connection} and `KvClient`. */
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
}

/** A grpc-js method definition as generated in `@kv/client/api` (the parts used here). */
export interface MethodDef<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
}

/** Per-call options. */
export interface CallOpts {
  /** Deadline for this call in milliseconds (overrides `commandTimeoutMs`). */
  timeoutMs?: number;
}

interface Endpoint {
  address: string;
  secure: boolean;
  client?: GrpcClient;
  /** Resolves once the channel has connected; dropped again when a call finds the endpoint down. */
  ready?: Promise<void>;
  /** Until this time (ms) the endpoint is tried only after the healthy ones. */
  downUntil: number;
}

/** How long an endpoint that failed to connect is moved to the back of the rotation. */
const DOWN_PENALTY_MS = 5000;

const textOf = (v: Buffer | string | undefined): Buffer | null =>
  v === undefined ? null : typeof v === 'string' ? Buffer.from(v) : v;

/** Parses an endpoint URL into the `host:port` grpc-js wants and whether it uses TLS. */
export function parseEndpoint(ep: string, tlsByDefault: boolean): { address: string; secure: boolean } {
  const m = /^(https?|unixs?):\/\/(.*)$/.exec(ep.trim());
  if (!m) return { address: ep.trim(), secure: tlsByDefault };
  const scheme = m[1] as string;
  const rest = (m[2] as string).replace(/\/+$/, '');
  return { address: rest, secure: scheme === 'https' || scheme === 'unixs' };
}

/** Owns the channels to a list of endpoints and performs calls with auth and failover. */
export class Connection {
  private readonly endpoints: Endpoint[];
  private next = 0;
  private token: string | undefined;
  private authenticating: Promise<string> | undefined;
  private closed = false;

  constructor(readonly options: ConnectionOptions) {
    if (options.endpoints.length === 0) throw new KvError('no endpoints given', GrpcStatus.INVALID_ARGUMENT);
    this.endpoints = options.endpoints.map((ep) => ({
      ...parseEndpoint(ep, options.tls !== undefined),
      downUntil: 0,
    }));
  }

  /** Closes every channel; calls made afterwards fail. */
  close(): void {
    this.closed = true;
    for (const ep of this.endpoints) ep.client?.close();
  }

  private credentialsFor(ep: Endpoint): ChannelCredentials {
    if (!ep.secure) return credentials.createInsecure();
    const tls = this.options.tls ?? {};
    return credentials.createSsl(
      textOf(tls.ca),
      textOf(tls.key),
      textOf(tls.cert),
      tls.insecureSkipVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {},
    );
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

  /** Waits until `ep`'s channel is connected, at most `dialTimeoutMs`. */
  private async dial(ep: Endpoint): Promise<GrpcClient> {
    const client = this.clientFor(ep);
    if (!ep.ready) {
      const deadline = Date.now() + (this.options.dialTimeoutMs ?? 5000);
      ep.ready = new Promise<void>((resolve, reject) => {
        client.waitForReady(deadline, (err) => {
          if (err)
            reject(new DeadlineExceededError('context deadline exceeded', GrpcStatus.DEADLINE_EXCEEDED));
          else resolve();
        });
      });
      ep.ready.catch(() => {
        ep.ready = undefined;
        ep.downUntil = Date.now() + DOWN_PENALTY_MS;
      });
    }
    await ep.ready;
    return client;
  }

  /**
   * Endpoints in the order to try them for the next call: round-robin over the endpoints, with the
   * ones that recently failed to connect moved to the back so one dead member does not cost every
   * call a dial timeout.
   */
  private rotation(): Endpoint[] {
    const start = this.next;
    this.next = (this.next + 1) % this.endpoints.length;
    const order = this.endpoints.map(
      (_, i) => this.endpoints[(start + i) % this.endpoints.length] as Endpoint,
    );
    const now = Date.now();
    return [...order.filter((e) => e.downUntil <= now), ...order.filter((e) => e.downUntil > now)];
  }

  private callOptions(opts?: CallOpts): CallOptions {
    const t = opts?.timeoutMs ?? this.options.commandTimeoutMs;
    return t === undefined ? {} : { deadline: Date.now() + t };
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
          undefined,
        );
        return res.token;
      } finally {
        this.authenticating = undefined;
      }
    })();
    return this.authenticating;
  }

  /** One unary call with failover over endpoints but without auth handling. */
  private async rawUnary<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    md: Metadata,
    opts?: CallOpts,
  ): Promise<Res> {
    let last: KvError | undefined;
    for (const ep of this.rotation()) {
      let client: GrpcClient;
      try {
        client = await this.dial(ep);
      } catch (e) {
        last = toKvError(e);
        continue;
      }
      try {
        return await new Promise<Res>((resolve, reject) => {
          client.makeUnaryRequest(
            def.path,
            def.requestSerialize,
            def.responseDeserialize,
            req,
            md,
            this.callOptions(opts),
            (err, res) => (err ? reject(err) : resolve(res as Res)),
          );
        });
      } catch (e) {
        last = toKvError(e);
        // Only an unreachable endpoint is worth retrying elsewhere: anything else is the cluster's answer.
        if (!(last instanceof UnavailableError)) throw last;
        ep.ready = undefined;
        ep.downUntil = Date.now() + DOWN_PENALTY_MS;
      }
    }
    throw last ?? new UnavailableError('no endpoint available', GrpcStatus.UNAVAILABLE);
  }

  /** Performs a unary call: auth token, failover, one re-authentication on an invalid token. */
  async unary<Req, Res>(def: MethodDef<Req, Res>, req: Req, opts?: CallOpts): Promise<Res> {
    try {
      return await this.rawUnary(def, req, await this.metadata(), opts);
    } catch (e) {
      if (!(e instanceof InvalidAuthTokenError) || this.options.username === undefined) throw e;
      this.token = undefined;
      return this.rawUnary(def, req, await this.metadata(), opts);
    }
  }

  /** Forgets the cached auth token so the next call authenticates again. */
  invalidateToken(): void {
    this.token = undefined;
  }

  /** Opens a bidirectional stream on the next reachable endpoint. */
  async bidi<Req, Res>(def: MethodDef<Req, Res>, opts?: CallOpts): Promise<ClientDuplexStream<Req, Res>> {
    const md = await this.metadata();
    const client = await this.firstReachable();
    return client.makeBidiStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      md,
      this.callOptions(opts),
    );
  }

  /** Opens a server stream on the next reachable endpoint. */
  async serverStream<Req, Res>(
    def: MethodDef<Req, Res>,
    req: Req,
    opts?: CallOpts,
  ): Promise<ClientReadableStream<Res>> {
    const md = await this.metadata();
    const client = await this.firstReachable();
    return client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      req,
      md,
      this.callOptions(opts),
    );
  }

  private async firstReachable(): Promise<GrpcClient> {
    let last: unknown;
    for (const ep of this.rotation()) {
      try {
        return await this.dial(ep);
      } catch (e) {
        last = e;
      }
    }
    throw toKvError(last);
  }
}
