/**
 * Line-at-a-time reading of stdin, for etcdctl's interactive prompts: `txn -i` prints each section's
 * prompt before reading it, and `--user name` without a password asks for one. Lines are read as they
 * arrive (a terminal user sees the next prompt after answering the previous one).
 */
import { createInterface, type Interface } from 'node:readline';

let lines: AsyncIterator<string> | undefined;
let rl: Interface | undefined;

function iterator(): AsyncIterator<string> {
  if (!lines) {
    rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
    lines = rl[Symbol.asyncIterator]();
  }
  return lines;
}

/** The next line of stdin without its newline, or undefined at end of input. */
export async function nextLine(): Promise<string | undefined> {
  const r = await iterator().next();
  return r.done ? undefined : r.value;
}

/**
 * Lines up to the next empty line, as etcdctl's txn reads a section; undefined when the input ends
 * before that empty line (etcdctl then fails with `Error: EOF`).
 */
export async function nextSection(): Promise<string[] | undefined> {
  const out: string[] = [];
  for (;;) {
    const l = await nextLine();
    if (l === undefined) return undefined;
    if (l.trim() === '') return out;
    out.push(l);
  }
}

/**
 * etcdctl's password prompt (speakeasy.Ask): "Password: " on stdout, then one line from stdin, not
 * echoed when stdin is a terminal.
 */
export async function askPassword(): Promise<string> {
  process.stdout.write('Password: ');
  const tty = process.stdin.isTTY === true;
  try {
    if (!tty) return (await nextLine()) ?? '';
    process.stdin.setRawMode(true);
    let typed = '';
    for await (const chunk of process.stdin) {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return typed;
        if (ch === '\u0003') throw new Error('interrupted');
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    }
    return typed;
  } finally {
    if (tty) process.stdin.setRawMode(false);
    // speakeasy ends the prompt's line whether or not stdin is a terminal.
    process.stdout.write('\n');
  }
}

/** Releases stdin so the process can exit. */
export function closeStdinLines(): void {
  rl?.close();
  rl = undefined;
  lines = undefined;
}
