/**
 * Structured JSON logging on pino, in the shape of etcd 3.4's zap logger: one JSON object per line with
 * `level` (a name), `ts` (ISO-8601, millisecond precision, UTC), `caller` (file:line of the call site,
 * like zap's `embed/etcd.go:117`), `msg`, then the fields. Operators' scripts grep etcd's lifecycle
 * messages ("ready to serve client requests", ...), so the messages match etcd's.
 *
 * The class keeps the small API the whole server uses (`info(msg, fields)`, `with(fields)`,
 * `enabled(level)`), so the engine underneath is this file's business only.
 */
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';

/** Log levels in increasing severity, as etcd names them. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';

const SEVERITY: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, panic: 4, fatal: 5 };

/** pino's numeric levels for etcd's names (pino has no `panic`: it sits between error and fatal). */
const PINO_LEVELS: Record<LogLevel, number> = {
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  panic: 55,
  fatal: 60,
};

/** Structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/** Where lines go (a writable with `write(string)`), e.g. process.stderr. */
export interface LogSink {
  write(line: string): unknown;
}

/** The package's src/ (or dist/) directory: callers are reported relative to it, as zap does. */
const SOURCE_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * A zap-style JSON logger.
 *
 * @example
 * const log = new Logger('info', process.stderr);
 * log.info('ready to serve client requests', { address: '127.0.0.1:2379' });
 * // {"level":"info","ts":"2026-01-01T00:00:00.000Z","caller":"embed.ts:220","msg":"ready to serve client requests","address":"127.0.0.1:2379"}
 */
export class Logger {
  private readonly min: number;
  private readonly pino: pino.Logger<'panic'> | null;

  /**
   * @param level the least severe level written
   * @param sink where lines go (null: nowhere); several sinks: see {@link openLogOutputs}
   * @param base fields added to every line
   */
  constructor(
    readonly level: LogLevel = 'info',
    sink: LogSink | null = process.stderr,
    base: LogFields = {},
  ) {
    this.min = SEVERITY[level];
    this.pino = sink === null ? null : createPino(level, sink, base);
  }

  private static fromPino(level: LogLevel, child: pino.Logger<'panic'> | null): Logger {
    const l = Object.create(Logger.prototype) as Logger;
    (l as { level: LogLevel }).level = level;
    (l as unknown as { min: number }).min = SEVERITY[level];
    (l as unknown as { pino: pino.Logger<'panic'> | null }).pino = child;
    return l;
  }

  /** A logger that writes nothing (embedded mode default). */
  static silent(): Logger {
    return new Logger('fatal', null);
  }

  /** A child logger that adds fields to every line. */
  with(fields: LogFields): Logger {
    return Logger.fromPino(this.level, this.pino?.child(toJsonSafe(fields) as LogFields) ?? null);
  }

  enabled(level: LogLevel): boolean {
    return this.pino !== null && SEVERITY[level] >= this.min;
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
    const line = {
      caller: callerOf(new Error().stack),
      ...(fields ? (toJsonSafe(fields) as LogFields) : {}),
    };
    this.pino![level](line, msg);
  }
}

function createPino(level: LogLevel, sink: LogSink, base: LogFields): pino.Logger<'panic'> {
  return pino(
    {
      level,
      customLevels: { panic: PINO_LEVELS.panic },
      base: Object.keys(base).length ? (toJsonSafe(base) as LogFields) : undefined,
      messageKey: 'msg',
      // zap's ISO-8601 UTC timestamp under `ts`.
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink as pino.DestinationStream,
  );
}

/**
 * Values JSON cannot carry the way operators expect, made into strings: errors by message, URLs
 * without the trailing slash, and BigInt ids (64-bit member and lease ids) in decimal — JSON numbers
 * would lose precision past 2^53 and pino's serializer would throw on them.
 */
function toJsonSafe(value: unknown, depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return value.message;
  if (value instanceof URL) return value.toString().replace(/\/$/, '');
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((v) => toJsonSafe(v, depth + 1));
  if (ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v, depth + 1);
  return out;
}

/** The first stack frame outside this file, as `dir/file.ts:line` relative to the package source. */
function callerOf(stack: string | undefined): string {
  if (!stack) return 'unknown';
  const lines = stack.split('\n');
  // [0] "Error", [1] callerOf's caller (Logger.log), [2] the level method or the caller itself.
  for (let i = 2; i < lines.length; i++) {
    const m = lines[i]!.match(/\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/);
    if (!m) continue;
    let file = m[1]!;
    if (file.startsWith('file://')) file = fileURLToPath(file);
    if (file.endsWith('/log/logger.js') || file.endsWith('/log/logger.ts')) continue;
    if (file.startsWith(SOURCE_ROOT)) file = file.slice(SOURCE_ROOT.length);
    return `${file}:${m[2]}`;
  }
  return 'unknown';
}

/** Where `--log-outputs` sends lines: the parsed outputs and the sink that writes to all of them. */
export interface LogOutputs {
  sink: LogSink;
  /** Flushes and closes the files opened (not stdout/stderr). */
  close(): void;
}

/**
 * Opens etcd 3.4's zap `--log-outputs`: `default` (stderr, and only alone), `stderr`, `stdout` or file
 * paths (appended to, created if missing; their directory must exist), several at once. Every line goes to every output.
 *
 * @throws Error for `journal` (kv has no journald writer), `default` combined with other outputs, or a
 *   file that cannot be opened for appending
 *
 * @example
 * const outputs = openLogOutputs(['stderr', '/var/log/kv.log']);
 * const log = new Logger('info', outputs.sink);
 */
export function openLogOutputs(outputs: readonly string[]): LogOutputs {
  const list = outputs.length === 0 ? ['default'] : [...new Set(outputs)];
  if (list.length > 1 && list.includes('default')) {
    throw new Error(`multi logoutput for "default" is not supported yet`);
  }
  const destinations: { write(s: string): unknown; fd?: number; end?(): void; flushSync?(): void }[] = [];
  const files: pino.DestinationStream[] = [];
  for (const out of list) {
    if (out === 'journal') {
      throw new Error('--log-outputs=journal is not supported: kv-server has no systemd journal writer');
    }
    if (out === 'default' || out === 'stderr') destinations.push(pino.destination({ dest: 2, sync: true }));
    else if (out === 'stdout') destinations.push(pino.destination({ dest: 1, sync: true }));
    else if (out === '') throw new Error('empty --log-outputs entry');
    else {
      // Opened here, synchronously, so a path that cannot be written (no such directory, no
      // permission) fails the start, as zap's open fails etcd's, instead of losing every line. Like
      // zap, the file is created but its directory is not. Synchronous appends: a line is in the
      // file when the call returns, so nothing is lost at exit.
      const fd = openSync(out, 'a', 0o666);
      const file = pino.destination({ dest: fd, sync: true });
      destinations.push(file);
      files.push(file);
    }
  }
  const sink: LogSink =
    destinations.length === 1
      ? destinations[0]!
      : {
          write: (line: string) => {
            for (const d of destinations) d.write(line);
          },
        };
  return {
    sink,
    close: () => {
      for (const f of files) (f as unknown as { end(): void }).end();
    },
  };
}
