/**
 * Structured JSON logging in the shape of etcd's zap logger: one JSON object per line with
 * `level`, `ts` (ISO-8601, millisecond precision, UTC), `msg`, then the fields. Operators' scripts grep
 * etcd's lifecycle messages ("ready to serve client requests", ...), so the messages match etcd's.
 */

/** Log levels in increasing severity, as etcd names them. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, panic: 4, fatal: 5 };

/** Structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/** Where lines go (a writable with `write(string)`), e.g. process.stderr. */
export interface LogSink {
  write(line: string): unknown;
}

/** A zap-style JSON logger. */
export class Logger {
  private readonly min: number;

  constructor(
    readonly level: LogLevel = 'info',
    private readonly sink: LogSink | null = process.stderr,
    private readonly base: LogFields = {},
  ) {
    this.min = SEVERITY[level];
  }

  /** A logger that writes nothing (embedded mode default). */
  static silent(): Logger {
    return new Logger('fatal', null);
  }

  /** A child logger that adds fields to every line. */
  with(fields: LogFields): Logger {
    return new Logger(this.level, this.sink, { ...this.base, ...fields });
  }

  enabled(level: LogLevel): boolean {
    return this.sink !== null && SEVERITY[level] >= this.min;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const line: LogFields = { level, ts: new Date().toISOString(), msg, ...this.base, ...fields };
    this.sink!.write(`${JSON.stringify(line, replacer)}\n`);
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (value instanceof URL) return value.toString().replace(/\/$/, '');
  if (typeof value === 'bigint') return value.toString();
  return value;
}
