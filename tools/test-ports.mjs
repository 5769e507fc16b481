// Free loopback ports for test processes that run side by side: vitest's workers (two per package) and
// the harnesses they spawn (tools/robustness/run.mjs). One helper for every suite that starts members on
// ports it chooses itself.
//
// Ports come from 20000-31999, below Linux's ephemeral range (32768+), so a member's own outgoing
// connections cannot take one between the check and the bind. Checking that a port can be bound is not
// enough once several processes pick ports at once: between one process's check and its member's bind,
// another process can pick the same port; and a member stopped for a restart leaves its ports unbound
// for a while. So a port handed out is claimed for the life of the process with a file in a directory
// every test process shares (created with O_EXCL, holding the claimant's pid). Claims are removed when
// the process exits; claims of processes that died without exiting cleanly are pruned by the next
// process that starts picking ports.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FIRST = 20_000;
const COUNT = 12_000;
const DIR = join(tmpdir(), 'kv-test-ports');
/** Ports this process claimed (their files are removed at exit). */
const claimed = new Set();
let prepared = false;

/**
 * A loopback port that nothing is bound to and no other test process holds; it stays reserved for this
 * process until it exits (so a member can be stopped and started again on it).
 *
 * @example
 * const clientPort = await freePort();
 * spawn('bin/kv-server', ['--listen-client-urls', `http://127.0.0.1:${clientPort}`]);
 * @returns {Promise<number>}
 */
export async function freePort() {
  prepare();
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = FIRST + Math.floor(Math.random() * COUNT);
    if (claimed.has(port) || !claim(port)) continue;
    if (await canBind(port)) return port;
    release(port); // bound by something outside the tests: leave it
  }
  throw new Error(`no free port in ${FIRST}-${FIRST + COUNT - 1}`);
}

function prepare() {
  if (prepared) return;
  prepared = true;
  mkdirSync(DIR, { recursive: true });
  for (const name of readdirSync(DIR)) {
    const owner = ownerOf(join(DIR, name));
    if (owner !== undefined && !alive(owner)) removeQuietly(join(DIR, name));
  }
  process.once('exit', () => {
    for (const port of claimed) removeQuietly(join(DIR, String(port)));
  });
}

/** Creates the port's claim file; false when another process holds it. */
function claim(port) {
  let fd;
  try {
    fd = openSync(join(DIR, String(port)), 'wx');
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, String(process.pid));
  } finally {
    closeSync(fd);
  }
  claimed.add(port);
  return true;
}

function release(port) {
  claimed.delete(port);
  removeQuietly(join(DIR, String(port)));
}

function ownerOf(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // being written or already gone
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function removeQuietly(file) {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function canBind(port) {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => done(true)));
  });
}
