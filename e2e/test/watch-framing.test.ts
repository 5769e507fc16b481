// A 1,500-key delete watched through the real `etcdctl watch --prefix`, on kv-server and on Debian's
// etcd 3.4.23 side by side: etcd sends the delete's 1,500 events in one WatchResponse (it splits only
// by size, and only for watchers that asked for fragments), so etcdctl's output — the simple format and
// the JSON one, one line per message — must be the same on both once member-specific header fields are
// left out.
import { type ChildProcess, spawn } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, ServerProcess, sleep } from './support/server.js';

const KEYS = 1500;
const key = (i: number) => `frame/${String(i).padStart(4, '0')}`;

/** An `etcdctl watch` process and what it printed so far. */
class WatchProcess {
  out = '';
  private readonly proc: ChildProcess;
  constructor(endpoint: string, args: string[]) {
    this.proc = spawn('etcdctl', [`--endpoints=${endpoint}`, 'watch', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d) => (this.out += d));
  }
  async until(pred: (out: string) => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!pred(this.out)) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${this.out.length} bytes`);
      await sleep(50);
    }
  }
  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

/** Runs the scenario on one server: puts, starts the watchers, deletes the prefix in one request. */
async function scenario(server: ServerProcess): Promise<{ simple: string; json: string[] }> {
  const client = new Etcd3({ hosts: server.endpoint });
  try {
    for (let i = 0; i < KEYS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => client.put(key(i + j)).value('v')));
    }
  } finally {
    client.close();
  }
  const simple = new WatchProcess(server.endpoint, ['--prefix', 'frame/']);
  const json = new WatchProcess(server.endpoint, ['--prefix', 'frame/', '-w', 'json']);
  try {
    await sleep(1000); // both watchers registered
    const del = await etcdctl(server.endpoint, ['del', '--prefix', 'frame/']);
    expect(del.stdout).toBe(`${KEYS}\n`);
    await simple.until((o) => o.split('\n').filter((l) => l === 'DELETE').length === KEYS, 'simple events');
    await json.until((o) => (o.match(/"type":1/g) ?? []).length === KEYS, 'json events');
    await sleep(500); // nothing else may follow
    return { simple: simple.out, json: json.out.trim().split('\n') };
  } finally {
    simple.stop();
    json.stop();
  }
}

/** One JSON watch message without the fields that differ between members (ids, revisions, term). */
function normalize(line: string): unknown {
  const msg = JSON.parse(line) as { Header: Record<string, unknown>; Events: unknown[] };
  return {
    ...msg,
    Header: {},
    Events: msg.Events.map((e) => JSON.stringify(e).replace(/"mod_revision":\d+,?/g, '')),
  };
}

let kv: ServerProcess;
let etcd: ServerProcess;
let kvOut: { simple: string; json: string[] };
let etcdOut: { simple: string; json: string[] };

beforeAll(async () => {
  [kv, etcd] = await Promise.all([
    ServerProcess.start({ server: 'kv' }),
    ServerProcess.start({ server: 'etcd' }),
  ]);
  kvOut = await scenario(kv);
  etcdOut = await scenario(etcd);
}, 120_000);
afterAll(async () => {
  await Promise.all([kv?.destroy(), etcd?.destroy()]);
});

describe('a 1,500-key delete through etcdctl watch --prefix', () => {
  it('etcd sends the delete as one message of 1,500 events', () => {
    expect(etcdOut.json).toHaveLength(1);
    expect(JSON.parse(etcdOut.json[0]!).Events).toHaveLength(KEYS);
  });

  it('kv frames it the same: one message, the same events in the same order', () => {
    expect(kvOut.json).toHaveLength(1);
    expect(kvOut.json.map(normalize)).toEqual(etcdOut.json.map(normalize));
  });

  it('prints the same simple-format output as etcd', () => {
    expect(kvOut.simple).toBe(etcdOut.simple);
    expect(kvOut.simple.split('\n').filter((l) => l === 'DELETE')).toHaveLength(KEYS);
  });
});
