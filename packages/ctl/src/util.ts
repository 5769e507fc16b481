/** Shared helpers of kvctl: etcdctl-style errors, Go durations, hex ids, byte printing. */
import { type Id, parseHexId } from '@kv/client';

/** etcdctl's exit codes (etcdctl/ctlv3/command/error.go). */
export const Exit = {
  error: 1,
  badConnection: 2,
  invalidInput: 3,
  badFeature: 4,
  interrupted: 5,
  io: 6,
  badArgs: 128,
} as const;

/** An error that ends kvctl with `Error: <message>` on stderr and the given exit code. */
export class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = Exit.error,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

/** Parses a Go duration (`5s`, `1m30s`, `500ms`, `2h`) into milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new CtlError(`time: invalid duration "${text}"`, Exit.badArgs);
    total += Number(m[1]) * (units[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return total;
}

/** Formats milliseconds like Go's `time.Duration.String()` (enough for `took = ...`). */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toFixed(9)}s`;
  if (ms >= 1) return `${+ms.toFixed(6)}ms`;
  return `${+(ms * 1000).toFixed(3)}µs`;
}

/** A lease id from the command line (hex, as etcdctl prints them). */
export function leaseIdArg(text: string): Id {
  try {
    return parseHexId(text);
  } catch {
    throw new CtlError(
      `bad lease ID (strconv.ParseInt: parsing "${text}": invalid syntax), expecting ID in Hex`,
      Exit.badArgs,
    );
  }
}

/** A member id from the command line (hex). */
export function memberIdArg(text: string): Id {
  try {
    return parseHexId(text);
  } catch {
    throw new CtlError(
      `bad member ID arg (strconv.ParseUint: parsing "${text}": invalid syntax), expecting ID in Hex`,
      Exit.badArgs,
    );
  }
}

/** Hex spelling of an id, without padding (Go's `%x`). */
export function hex(id: Id): string {
  return id.toString(16);
}

/** Go's `%016x`: hex zero-padded to 16 digits, how etcdctl prints lease ids. */
export function leaseHex(id: Id): string {
  return hex(id).padStart(16, '0');
}

/** Go's `%16x`: hex right-aligned in 16 columns. */
export function hex16(id: Id): string {
  return hex(id).padStart(16, ' ');
}

const decoder = new TextDecoder();

/** Bytes as etcdctl prints them: raw text, or `\xNN` escapes with `--hex`. */
export function showBytes(b: Uint8Array, asHex: boolean): string {
  if (!asHex) return decoder.decode(b);
  let out = '';
  for (const byte of b) out += `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/** Parses an integer flag like pflag does, with its error message. */
export function intFlag(name: string, value: unknown): number {
  if (value === undefined || value === '') return 0;
  const text = String(value);
  if (!/^[-+]?\d+$/.test(text)) {
    throw new CtlError(
      `invalid argument "${text}" for "--${name}" flag: strconv.ParseInt: parsing "${text}": invalid syntax`,
      Exit.error,
    );
  }
  return Number(text);
}

/** Writes text or bytes to stdout (no newline added). */
export function out(text: string | Uint8Array): void {
  process.stdout.write(text);
}

/** Writes one line to stdout. */
export function line(text = ''): void {
  process.stdout.write(`${text}\n`);
}
