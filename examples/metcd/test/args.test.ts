// metcd's flags: defaults, both --cluster forms, and a clear refusal for everything it does not support.
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../src/args.js';
import { nodeId } from '../src/node-id.js';

const base = ['--id', '2', '--cluster', 'http://127.0.0.1:1,http://127.0.0.1:2/', '--port', '9000'];

describe('parseArgs', () => {
  it('applies defaults and reads positional --cluster like raftexample', () => {
    const cfg = parseArgs(base);
    expect(cfg.id).toBe(nodeId(2));
    expect([...cfg.peers]).toEqual([
      [nodeId(1), 'http://127.0.0.1:1'],
      [nodeId(2), 'http://127.0.0.1:2'],
    ]);
    expect(cfg).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      join: false,
      engine: 'memory',
      dataDir: 'metcd-2',
      snapshotCount: 10_000,
      snapshotCatchUpEntries: 5_000,
      tickMs: 100,
      electionTicks: 10,
      heartbeatTicks: 1,
    });
  });

  it('reads id=url pairs, --flag=value and --join', () => {
    const cfg = parseArgs([
      '--id=7',
      '--cluster',
      '7=http://127.0.0.1:7,9=http://127.0.0.1:9',
      '--port=1',
      '--join',
      '--engine',
      'leveldb',
      '--snapshot-count',
      '20',
    ]);
    expect(cfg.id).toBe(nodeId(7));
    expect([...cfg.peers.keys()]).toEqual([nodeId(7), nodeId(9)]);
    expect(cfg).toMatchObject({ join: true, engine: 'leveldb', snapshotCount: 20 });
  });

  it('refuses what it cannot do, naming the flag', () => {
    const cases: [string[], RegExp][] = [
      [[...base, '--engine', 'boltdb'], /--engine boltdb is not available.*memory, leveldb, lmdb/],
      [[...base, '--wal-dir', 'x'], /unknown flag --wal-dir/],
      [[...base, 'extra'], /unexpected argument "extra"/],
      [[...base, '--snapshot-count', '0'], /--snapshot-count must be an integer >= 1/],
      [[...base, '--tick-ms'], /--tick-ms needs a value/],
      [[...base, '--join=yes'], /--join takes no value/],
      [[...base, '--heartbeat-ticks', '10'], /--heartbeat-ticks must be below --election-ticks/],
      [['--id', '3', '--cluster', 'http://127.0.0.1:1', '--port', '1'], /no URL for member 3/],
      [['--id', '1', '--cluster', 'https://127.0.0.1:1', '--port', '1'], /only http:\/\/ peer URLs/],
      [['--id', '1', '--cluster', '1=http://a:1,1=http://b:1', '--port', '1'], /names member 1 twice/],
      [['--id', '1', '--cluster', 'http://127.0.0.1:1'], /--port is required/],
      [['--id', '0', '--cluster', 'http://127.0.0.1:1', '--port', '1'], /invalid node id "0"/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});
