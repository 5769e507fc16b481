/** Global flags (and their ETCDCTL_* environment twins) → a connected KvClient and output settings. */
import { readFileSync } from 'node:fs';
import { AuthFailedError, DeadlineExceededError, KvClient, KvError, type TlsOptions } from '@kv/client';
import { captureResponses, headerBytesOf } from './protobuf.js';
import { askPassword, closeStdinLines } from './stdin-lines.js';
import { CtlError, Exit, parseDuration } from './util.js';

/** Output formats of `-w/--write-out`. */
export type Format = 'simple' | 'json' | 'fields' | 'table' | 'protobuf';

/** The global flags as yargs parsed them. */
export interface GlobalArgs {
  endpoints: string;
  'command-timeout': string;
  'dial-timeout': string;
  user?: string;
  password?: string;
  'write-out': string;
  hex: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
  'insecure-skip-tls-verify': boolean;
  'insecure-transport': boolean;
}

/** Everything a command needs besides its own arguments. */
export class Ctx {
  readonly format: Format;
  readonly hex: boolean;
  readonly commandTimeoutMs: number;
  readonly endpoints: string[];
  private clientInstance: KvClient | undefined;
  private lastResponse: (() => Uint8Array | undefined) | undefined;

  constructor(private readonly args: GlobalArgs) {
    const f = args['write-out'];
    if (!['simple', 'json', 'fields', 'table', 'protobuf'].includes(f)) {
      throw new CtlError('unsupported output format', Exit.badFeature);
    }
    this.format = f as Format;
    this.hex = args.hex;
    this.commandTimeoutMs = parseDuration(args['command-timeout']);
    this.endpoints = args.endpoints
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
  }

  /** The password typed at etcdctl's prompt (`--user name` with no password given). */
  private promptedPassword: string | undefined;

  /** Asks for the password as etcdctl does when `--user` names no password and `--password` is empty. */
  async askPasswordIfNeeded(): Promise<void> {
    const user = this.args.user;
    if (!user || user.includes(':') || this.args.password) return;
    try {
      this.promptedPassword = await askPassword();
    } finally {
      closeStdinLines();
    }
  }

  /** The client, created on first use (so `version` works without a server). */
  client(): KvClient {
    if (!this.clientInstance) {
      let username: string | undefined;
      let password: string | undefined;
      if (this.args.user) {
        const i = this.args.user.indexOf(':');
        if (i >= 0) {
          if (this.args.password)
            throw new CtlError('Password must not be specified both in --user and --password', Exit.badArgs);
          username = this.args.user.slice(0, i);
          password = this.args.user.slice(i + 1);
        } else {
          username = this.args.user;
          password = this.args.password || this.promptedPassword || '';
        }
      }
      const secure =
        this.args.cacert || this.args.cert || this.args.key || this.args['insecure-skip-tls-verify'];
      const tls: TlsOptions | undefined = secure
        ? {
            ca: this.args.cacert ? readFileSync(this.args.cacert) : undefined,
            cert: this.args.cert ? readFileSync(this.args.cert) : undefined,
            key: this.args.key ? readFileSync(this.args.key) : undefined,
            insecureSkipVerify: this.args['insecure-skip-tls-verify'],
          }
        : undefined;
      this.clientInstance = new KvClient({
        endpoints: this.endpoints,
        username,
        password,
        tls,
        dialTimeoutMs: parseDuration(this.args['dial-timeout']),
        commandTimeoutMs: this.commandTimeoutMs,
      });
      if (this.format === 'protobuf') this.lastResponse = captureResponses(this.clientInstance);
    }
    return this.clientInstance;
  }

  /** Closes the client if one was created. */
  close(): void {
    this.clientInstance?.close();
  }

  /**
   * For `-w protobuf`: writes the last unary response's bytes as the server sent them (or only its
   * header, where etcdctl's printer finds the header's Marshal method) and returns true; false for
   * other formats, so a command goes on to print in its own format.
   */
  printedProtobuf(headerOnly = false): boolean {
    if (this.format !== 'protobuf') return false;
    const bytes = this.lastResponse?.() ?? new Uint8Array();
    process.stdout.write(headerOnly ? headerBytesOf(bytes) : bytes);
    return true;
  }

  /** Fails for formats a command does not have (etcdctl: `<format> not supported as output format`). */
  requireFormats(...supported: Format[]): void {
    if (!supported.includes(this.format))
      throw new CtlError(`${this.format} not supported as output format`, Exit.badFeature);
  }
}

/** Turns a client failure into the message and exit code etcdctl would use. */
export function ctlErrorOf(e: unknown, exitCode: number = Exit.error): CtlError {
  if (e instanceof CtlError) return e;
  if (e instanceof AuthFailedError) return new CtlError(e.message, Exit.badConnection);
  if (e instanceof DeadlineExceededError) {
    // Our dial timeout says "context deadline exceeded" already (etcdctl: bad connection);
    // a call deadline from grpc says "Deadline exceeded".
    if (e.message === 'context deadline exceeded') return new CtlError(e.message, Exit.badConnection);
    return new CtlError('context deadline exceeded', exitCode);
  }
  if (e instanceof KvError) return new CtlError(e.message, exitCode);
  return new CtlError(e instanceof Error ? e.message : String(e), exitCode);
}
