/**
 * kvctl's command line: etcdctl 3.4's commands, global flags and ETCDCTL_* environment variables,
 * parsed with yargs. Each handler builds a {@link Ctx} from the global flags, runs, and turns
 * failures into `Error: <message>` on stderr with etcdctl's exit code.
 */
import yargs, { type Argv } from 'yargs';
import * as auth from './commands/auth.js';
import * as check from './commands/check.js';
import * as cluster from './commands/cluster.js';
import * as conc from './commands/concurrency.js';
import * as inspect from './commands/inspect.js';
import * as kv from './commands/kv.js';
import * as lease from './commands/lease.js';
import * as mirror from './commands/mirror.js';
import * as snapshot from './commands/snapshot.js';
import { txn } from './commands/txn.js';
import { watch } from './commands/watch.js';
import { Ctx, ctlErrorOf, type GlobalArgs } from './context.js';
import { CtlError, Exit, intFlag, line, parseDuration } from './util.js';

/** kvctl's version line (it speaks etcd's 3.4 API). */
export const VERSION = '0.0.0';

type Args = GlobalArgs & { _: (string | number)[]; [k: string]: unknown };

/** Positional words after the command path (`depth` words), as strings. */
const restOf = (a: Args, depth: number): string[] => a._.slice(depth).map(String);

/** Runs a command body with a context and etcdctl-style failure handling. */
function handler(body: (ctx: Ctx, a: Args) => Promise<void>, failExit: number = Exit.error) {
  return async (raw: unknown): Promise<void> => {
    const a = raw as Args;
    let ctx: Ctx | undefined;
    try {
      ctx = new Ctx(a);
      await ctx.askPasswordIfNeeded();
      await body(ctx, a);
    } catch (e) {
      const err = ctlErrorOf(e, failExit);
      process.stderr.write(`Error: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } finally {
      ctx?.close();
    }
  };
}

/**
 * The key positional is declared as `k` because `--key` is the global TLS key file flag; commands see
 * it as `key` again.
 */
const withKey = (a: Args): Record<string, unknown> => ({
  ...a,
  key: a.k === undefined ? undefined : String(a.k),
});

/** The given positionals up to the first missing one, as strings. */
const defined = (...vs: unknown[]): string[] => {
  const out: string[] = [];
  for (const v of vs) {
    if (v === undefined) break;
    out.push(String(v));
  }
  return out;
};

const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const bool = (v: unknown): boolean => v === true;

function kvCommands(y: Argv, argv: string[]): Argv {
  return y
    .command(
      'put [k] [value] [ignored..]',
      // etcdctl 3.4 ignores words after the value (and after range_end for get); so do we.
      'Puts the given key into the store',
      (c: Argv) =>
        c.string('lease').boolean(['prev-kv', 'ignore-value', 'ignore-lease']).default('lease', '0'),
      handler((ctx, a) => kv.put(ctx, withKey(a) as kv.PutArgs)),
    )
    .command(
      'get [k] [range_end] [ignored..]',
      'Gets the key or a range of keys',
      (c: Argv) =>
        c
          .string(['consistency', 'sort-by', 'order', 'limit', 'rev'])
          .boolean(['prefix', 'from-key', 'keys-only', 'count-only', 'print-value-only']),
      handler((ctx, a) => kv.get(ctx, withKey(a) as kv.GetArgs)),
    )
    .command(
      'del [k] [range_end]',
      'Removes the specified key or range of keys [key, range_end)',
      (c: Argv) => c.boolean(['prefix', 'from-key', 'prev-kv']),
      handler((ctx, a) => kv.del(ctx, withKey(a) as kv.DelArgs, restOf(a, 1))),
    )
    .command(
      'txn',
      'Txn processes all the requests in one transaction',
      (c: Argv) => c.boolean('interactive').alias('interactive', 'i'),
      handler((ctx, a) => txn(ctx, a.interactive === true)),
    )
    .command(
      'compaction [revision]',
      'Compacts the event history in etcd',
      (c: Argv) => c.boolean('physical'),
      handler((ctx, a) => kv.compaction(ctx, str(a.revision), bool(a.physical))),
    )
    .command(
      'watch [k] [range_end]',
      'Watches events stream on keys or prefixes',
      (c: Argv) =>
        c
          .string('rev')
          .boolean(['prefix', 'prev-kv', 'progress-notify', 'interactive'])
          .alias('interactive', 'i'),
      // Words after `--` land in `_` (yargs) and name the command to run per event.
      handler((ctx, a) => watch(ctx, withKey(a), argv.includes('--') ? restOf(a, 1) : undefined)),
    );
}

function leaseCommands(y: Argv): Argv {
  return y.command('lease', 'Lease related commands', (l: Argv) =>
    l
      .command(
        'grant [ttl]',
        'Creates leases',
        {},
        handler((ctx, a) => lease.grant(ctx, str(a.ttl))),
      )
      .command(
        'revoke [leaseID]',
        'Revokes leases',
        {},
        handler((ctx, a) => lease.revoke(ctx, str(a.leaseID))),
      )
      .command(
        'timetolive [leaseID]',
        'Get lease information',
        (c: Argv) => c.boolean('keys'),
        handler((ctx, a) => lease.timeToLive(ctx, str(a.leaseID), bool(a.keys))),
      )
      .command(
        'list',
        'List all active leases',
        {},
        handler((ctx) => lease.list(ctx)),
      )
      .command(
        'keep-alive [leaseID]',
        'Keeps leases alive (renew)',
        (c: Argv) => c.boolean('once'),
        handler((ctx, a) => lease.keepAlive(ctx, str(a.leaseID), bool(a.once))),
      )
      .demandCommand(1, 'lease needs a subcommand'),
  );
}

function clusterCommands(y: Argv): Argv {
  return y
    .command('member', 'Membership related commands', (m: Argv) =>
      m
        .command(
          'add [name]',
          'Adds a member into the cluster',
          (c: Argv) => c.string('peer-urls').boolean('learner'),
          handler((ctx, a) => cluster.memberAdd(ctx, str(a.name), str(a['peer-urls']), bool(a.learner))),
        )
        .command(
          'remove [memberID]',
          'Removes a member from the cluster',
          {},
          handler((ctx, a) => cluster.memberChange(ctx, 'removed from', str(a.memberID))),
        )
        .command(
          'update [memberID]',
          'Updates a member in the cluster',
          (c: Argv) => c.string('peer-urls'),
          handler((ctx, a) => cluster.memberChange(ctx, 'updated in', str(a.memberID), str(a['peer-urls']))),
        )
        .command(
          'promote [memberID]',
          'Promotes a non-voting member in the cluster',
          {},
          handler((ctx, a) => cluster.memberChange(ctx, 'promoted in', str(a.memberID))),
        )
        .command(
          'list',
          'Lists all members in the cluster',
          {},
          handler((ctx) => cluster.memberList(ctx)),
        )
        .demandCommand(1, 'member needs a subcommand'),
    )
    .command('endpoint', 'Endpoint related commands', (e: Argv) =>
      e
        .command(
          'health',
          'Checks the healthiness of endpoints specified in `--endpoints` flag',
          {},
          handler((ctx) => cluster.endpointHealth(ctx)),
        )
        .command(
          'status',
          'Prints out the status of endpoints specified in `--endpoints` flag',
          {},
          handler((ctx) => cluster.endpointStatus(ctx)),
        )
        .command(
          'hashkv',
          'Prints the KV history hash for each endpoint in --endpoints',
          (c: Argv) => c.string('rev'),
          handler((ctx, a) => cluster.endpointHashKV(ctx, intFlag('rev', a.rev))),
        )
        .demandCommand(1, 'endpoint needs a subcommand'),
    )
    .command('alarm', 'Alarm related commands', (al: Argv) =>
      al
        .command(
          'list',
          'Lists all alarms',
          {},
          handler((ctx) => cluster.alarmList(ctx)),
        )
        .command(
          'disarm',
          'Disarms all alarms',
          {},
          handler((ctx) => cluster.alarmDisarm(ctx)),
        )
        .demandCommand(1, 'alarm needs a subcommand'),
    )
    .command(
      'defrag',
      'Defragments the storage of the etcd members with given endpoints',
      {},
      handler((ctx) => cluster.defrag(ctx)),
    )
    .command('snapshot', 'Manages etcd node snapshots', (s: Argv) =>
      s
        .command(
          'save [filename]',
          'Stores an etcd node backend snapshot to a given file',
          {},
          handler((ctx, a) => cluster.snapshotSave(ctx, str(a.filename))),
        )
        .command(
          'restore [filename]',
          'Restores an etcd member snapshot to an etcd directory',
          {
            'data-dir': { type: 'string', default: '', describe: 'Path to the data directory' },
            'wal-dir': {
              type: 'string',
              default: '',
              describe: 'Path to the WAL directory (use --data-dir if none given)',
            },
            'initial-cluster': {
              type: 'string',
              default: 'default=http://localhost:2380',
              describe: 'Initial cluster configuration for restore bootstrap',
            },
            'initial-cluster-token': {
              type: 'string',
              default: 'etcd-cluster',
              describe: 'Initial cluster token for the etcd cluster during restore bootstrap',
            },
            'initial-advertise-peer-urls': {
              type: 'string',
              default: 'http://localhost:2380',
              describe: "List of this member's peer URLs to advertise to the rest of the cluster",
            },
            name: { type: 'string', default: 'default', describe: 'Human-readable name for this member' },
            'skip-hash-check': {
              type: 'boolean',
              default: false,
              describe: 'Ignore snapshot integrity hash value (required if copied from data directory)',
            },
            backend: {
              type: 'string',
              default: 'level',
              choices: ['memory', 'level', 'lmdb'],
              describe:
                'kv only: storage engine kv-server will run the data dir on (its --backend); it refuses to start it with another',
            },
          },
          handler((_ctx, a) =>
            snapshot.snapshotRestore(str(a.filename), {
              dataDir: str(a['data-dir']),
              walDir: str(a['wal-dir']),
              name: str(a.name),
              initialCluster: str(a['initial-cluster']),
              initialClusterToken: str(a['initial-cluster-token']),
              initialAdvertisePeerUrls: str(a['initial-advertise-peer-urls']),
              skipHashCheck: a['skip-hash-check'] === true,
              backend: str(a.backend) as 'memory' | 'level' | 'lmdb',
            }),
          ),
        )
        .command(
          'status [filename]',
          'Gets backend snapshot status of a given file',
          {},
          handler((ctx, a) => snapshot.snapshotStatus(ctx, str(a.filename))),
        )
        .demandCommand(1, 'snapshot needs a subcommand'),
    );
}

function authCommands(y: Argv): Argv {
  return y
    .command('auth', 'Enable or disable authentication', (s: Argv) =>
      s
        .command(
          'enable',
          'Enables authentication',
          {},
          handler((ctx) => auth.authEnable(ctx)),
        )
        .command(
          'disable',
          'Disables authentication',
          {},
          handler((ctx) => auth.authDisable(ctx)),
        )
        .command(
          'status',
          'Returns authentication status',
          {},
          handler((ctx) => auth.authStatus(ctx)),
        )
        .demandCommand(1, 'auth needs a subcommand'),
    )
    .command('user', 'User related commands', (u: Argv) =>
      u
        .command(
          'add [name]',
          'Adds a new user',
          (c: Argv) => c.boolean(['interactive', 'no-password']).default('interactive', true),
          handler((ctx, a) => auth.userAdd(ctx, str(a.name), bool(a.interactive), bool(a['no-password']))),
        )
        .command(
          'delete [name]',
          'Deletes a user',
          {},
          handler((ctx, a) => auth.userDelete(ctx, str(a.name))),
        )
        .command(
          'get [name]',
          'Gets detailed information of a user',
          (c: Argv) => c.boolean('detail'),
          handler((ctx, a) => auth.userGet(ctx, str(a.name), bool(a.detail))),
        )
        .command(
          'list',
          'Lists all users',
          {},
          handler((ctx) => auth.userList(ctx)),
        )
        .command(
          'passwd [name]',
          'Changes password of user',
          (c: Argv) => c.boolean('interactive').default('interactive', true),
          handler((ctx, a) => auth.userPasswd(ctx, str(a.name), bool(a.interactive))),
        )
        .command(
          'grant-role [name] [role]',
          'Grants a role to a user',
          {},
          handler((ctx, a) => auth.userGrantRole(ctx, str(a.name), str(a.role))),
        )
        .command(
          'revoke-role [name] [role]',
          'Revokes a role from a user',
          {},
          handler((ctx, a) => auth.userRevokeRole(ctx, str(a.name), str(a.role))),
        )
        .demandCommand(1, 'user needs a subcommand'),
    )
    .command('role', 'Role related commands', (r: Argv) =>
      r
        .command(
          'add [role]',
          'Adds a new role',
          {},
          handler((ctx, a) => auth.roleAdd(ctx, str(a.role))),
        )
        .command(
          'delete [role]',
          'Deletes a role',
          {},
          handler((ctx, a) => auth.roleDelete(ctx, str(a.role))),
        )
        .command(
          'get [role]',
          'Gets detailed information of a role',
          {},
          handler((ctx, a) => auth.roleGet(ctx, str(a.role))),
        )
        .command(
          'list',
          'Lists all roles',
          {},
          handler((ctx) => auth.roleList(ctx)),
        )
        .command(
          'grant-permission [role] [perm_type] [perm_key] [range_end]',
          'Grants a key to a role',
          (c: Argv) => c.boolean(['prefix', 'from-key']),
          handler((ctx, a) =>
            auth.roleGrantPermission(
              ctx,
              defined(a.role, a.perm_type, a.perm_key, a.range_end),
              bool(a.prefix),
              bool(a['from-key']),
            ),
          ),
        )
        .command(
          'revoke-permission [role] [perm_key] [range_end]',
          'Revokes a key from a role',
          (c: Argv) => c.boolean(['prefix', 'from-key']),
          handler((ctx, a) =>
            auth.roleRevokePermission(
              ctx,
              defined(a.role, a.perm_key, a.range_end),
              bool(a.prefix),
              bool(a['from-key']),
            ),
          ),
        )
        .demandCommand(1, 'role needs a subcommand'),
    );
}

function miscCommands(y: Argv): Argv {
  return y
    .command(
      'lock [lockname] [command..]',
      'Acquires a named lock (and runs a command while holding it)',
      {},
      // `lock name -- cmd args` (words after `--` land in `_`) runs the command as `lock name cmd args`.
      handler((ctx, a) =>
        conc.lock(ctx, str(a.lockname), [
          ...((a.command as unknown[] | undefined) ?? []).map(String),
          ...restOf(a, 1),
        ]),
      ),
    )
    .command(
      'elect [election] [proposal]',
      'Observes and participates in leader election',
      (c: Argv) => c.boolean('listen').alias('listen', 'l'),
      handler((ctx, a) => conc.elect(ctx, str(a.election), str(a.proposal), bool(a.listen))),
    )
    .command('version', 'Prints the version of kvctl', {}, () => {
      line(`kvctl version: ${VERSION}`);
      line('API version: 3.4');
    });
}

/** Flags shared by `check perf` and `check datascale` (etcdctl's, with their own default prefix). */
function checkFlags(c: Argv, prefix: string): Argv {
  return c
    .option('load', {
      type: 'string',
      default: 's',
      describe: 'The workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)',
    })
    .option('prefix', {
      type: 'string',
      default: prefix,
      describe: "The prefix for writing the check's keys.",
    })
    .option('auto-compact', {
      type: 'boolean',
      default: false,
      describe: 'Compact storage with last revision after test is finished.',
    })
    .option('auto-defrag', {
      type: 'boolean',
      default: false,
      describe: 'Defragment storage after test is finished.',
    });
}

const checkArgs = (a: Args): check.CheckFlags => ({
  load: String(a.load),
  prefix: String(a.prefix),
  autoCompact: a['auto-compact'] === true,
  autoDefrag: a['auto-defrag'] === true,
});

/** `inspect ...`: kvctl's keyspace inspections (no etcdctl equivalent). */
function inspectCommands(y: Argv): Argv {
  const scope = (c: Argv) =>
    c.option('prefix', { type: 'string', default: '', describe: 'only keys starting with this prefix' });
  return y.command(
    'inspect',
    'kvctl only: inspections of the keyspace (sizes, prefixes, write rates)',
    (i: Argv) =>
      i
        .command(
          'largest',
          'Lists the keys with the largest values',
          (c: Argv) =>
            scope(c).option('limit', { type: 'string', default: '10', describe: 'how many keys to list' }),
          handler((ctx, a) => inspect.inspectLargest(ctx, String(a.prefix), intFlag('limit', a.limit))),
        )
        .command(
          'prefixes',
          'Counts keys and bytes (keys + values) by prefix',
          (c: Argv) =>
            scope(c).option('depth', {
              type: 'string',
              default: '1',
              describe: 'how many /-separated segments make a prefix',
            }),
          handler((ctx, a) => inspect.inspectPrefixes(ctx, String(a.prefix), intFlag('depth', a.depth))),
        )
        .command(
          'hot',
          'Ranks prefixes by write rate, from a watch held for --duration',
          (c: Argv) =>
            scope(c)
              .option('duration', {
                type: 'string',
                default: '10s',
                describe: 'how long to watch (Go duration)',
              })
              .option('depth', {
                type: 'string',
                default: '1',
                describe: 'how many /-separated segments make a prefix',
              })
              .option('limit', { type: 'string', default: '10', describe: 'how many prefixes to list' }),
          handler((ctx, a) =>
            inspect.inspectHot(
              ctx,
              String(a.prefix),
              intFlag('depth', a.depth),
              String(a.duration),
              intFlag('limit', a.limit),
            ),
          ),
        )
        .demandCommand(1, 'inspect needs a subcommand'),
  );
}

function operatorCommands(y: Argv): Argv {
  return y
    .command(
      'move-leader [args..]',
      'Transfers leadership to another etcd cluster member.',
      {},
      handler((ctx, a) => mirror.moveLeader(ctx, ((a.args as unknown[] | undefined) ?? []).map(String))),
    )
    .command(
      'make-mirror [args..]',
      'Makes a mirror at the destination etcd cluster',
      {
        prefix: { type: 'string', default: '', describe: 'Key-value prefix to mirror' },
        'dest-prefix': {
          type: 'string',
          default: '',
          describe: 'destination prefix to mirror a prefix to a different prefix in the destination cluster',
        },
        'no-dest-prefix': {
          type: 'boolean',
          default: false,
          describe: 'mirror key-values to the root of the destination cluster',
        },
        'dest-cacert': {
          type: 'string',
          describe: 'Verify certificates of TLS enabled secure servers using this CA bundle',
        },
        'dest-cert': {
          type: 'string',
          describe: 'Identify secure client using this TLS certificate file for the destination cluster',
        },
        'dest-key': { type: 'string', describe: 'Identify secure client using this TLS key file' },
        'dest-insecure-transport': {
          type: 'boolean',
          default: true,
          describe: 'Disable transport security for client connections',
        },
      },
      handler((ctx, a) =>
        mirror.makeMirror(ctx, ((a.args as unknown[] | undefined) ?? []).map(String), {
          prefix: String(a.prefix),
          destPrefix: String(a['dest-prefix']),
          noDestPrefix: a['no-dest-prefix'] === true,
          destCacert: str(a['dest-cacert']),
          destCert: str(a['dest-cert']),
          destKey: str(a['dest-key']),
          destInsecureTransport: a['dest-insecure-transport'] !== false,
          dialTimeout: a['dial-timeout'],
        }),
      ),
    )
    .command('check', 'commands for checking properties of the etcd cluster', (c: Argv) =>
      c
        .command(
          'perf',
          'Check the performance of the etcd cluster',
          (p: Argv) =>
            checkFlags(p, '/etcdctl-check-perf/').option('duration', {
              type: 'string',
              describe: 'kvctl only: how long to run (Go duration; etcdctl always runs 60s)',
            }),
          handler((ctx, a) =>
            check.checkPerf(ctx, {
              ...checkArgs(a),
              durationSeconds:
                a.duration === undefined ? undefined : parseDuration(String(a.duration)) / 1000,
            }),
          ),
        )
        .command(
          'datascale',
          'Check the memory usage of holding data for different workloads on a given server endpoint.',
          (p: Argv) => checkFlags(p, '/etcdctl-check-datascale/'),
          handler((ctx, a) => check.checkDatascale(ctx, checkArgs(a))),
        )
        .command(
          'consistency',
          'kvctl only: compares the KV hash of every member at one revision (exit 1 when they differ)',
          (p: Argv) =>
            p.option('endpoints-only', {
              type: 'boolean',
              default: false,
              describe: 'hash only the --endpoints given, not every member from the member list',
            }),
          handler((ctx, a) => inspect.checkConsistency(ctx, a['endpoints-only'] === true)),
        )
        .demandCommand(1, 'check needs a subcommand'),
    );
}

/** Parses `argv` (without `node main.js`) and runs the command. Resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  // yargs picks its completion template (bash or zsh) from $SHELL/$ZSH_NAME when it is created.
  if (argv[0] === 'completion' && (argv[1] === 'bash' || argv[1] === 'zsh')) {
    process.env.SHELL = `/bin/${argv[1]}`;
    process.env.ZSH_NAME = argv[1] === 'zsh' ? 'zsh' : '';
  }
  let y: Argv = yargs(argv)
    .scriptName('kvctl')
    .parserConfiguration({
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'strip-aliased': true,
      'boolean-negation': false,
    })
    .option('endpoints', {
      type: 'string',
      default: fromEnv('ETCDCTL_ENDPOINTS', '127.0.0.1:2379'),
      describe: 'gRPC endpoints (comma separated)',
    })
    .option('command-timeout', {
      type: 'string',
      default: fromEnv('ETCDCTL_COMMAND_TIMEOUT', '5s'),
      describe: 'timeout for short running command',
    })
    .option('dial-timeout', {
      type: 'string',
      default: fromEnv('ETCDCTL_DIAL_TIMEOUT', '2s'),
      describe: 'dial timeout for client connections',
    })
    .option('user', {
      default: fromEnv('ETCDCTL_USER'),
      type: 'string',
      describe: 'username[:password] for authentication',
    })
    .option('password', {
      default: fromEnv('ETCDCTL_PASSWORD'),
      type: 'string',
      describe: 'password for authentication',
    })
    .option('write-out', {
      alias: 'w',
      type: 'string',
      default: fromEnv('ETCDCTL_WRITE_OUT', 'simple'),
      describe: 'output format (fields, json, simple, table)',
    })
    .option('hex', {
      type: 'boolean',
      default: fromEnv('ETCDCTL_HEX', false),
      describe: 'print byte strings as hex encoded strings',
    })
    .option('cacert', {
      default: fromEnv('ETCDCTL_CACERT'),
      type: 'string',
      describe: 'CA bundle for TLS endpoints',
    })
    .option('cert', {
      default: fromEnv('ETCDCTL_CERT'),
      type: 'string',
      describe: 'client TLS certificate file',
    })
    .option('key', { default: fromEnv('ETCDCTL_KEY'), type: 'string', describe: 'client TLS key file' })
    .option('insecure-skip-tls-verify', {
      type: 'boolean',
      default: fromEnv('ETCDCTL_INSECURE_SKIP_TLS_VERIFY', false),
      describe: 'skip server certificate verification',
    })
    .option('insecure-transport', {
      type: 'boolean',
      default: fromEnv('ETCDCTL_INSECURE_TRANSPORT', true),
      describe: 'disable transport security (etcdctl compatibility)',
    })
    .version(false)
    .help()
    .strictCommands()
    .demandCommand(1, 'no command given')
    .fail((msg: string | undefined, err: Error | undefined) => {
      throw err ?? new CtlError(msg ?? 'bad arguments', Exit.badArgs);
    });
  // A flag kvctl does not know is refused like etcdctl refuses it ("unknown flag: --x"), never
  // silently ignored. Checked against the options declared for the command being run (yargs' own
  // strict mode also rejects the positionals of kvctl's command strings).
  y = y.middleware(
    ((_parsed: unknown, yi: { getOptions(): { key?: object; alias?: object } }) => {
      const known = new Set<string>();
      const opts = yi.getOptions();
      for (const k of opts.key ? Object.keys(opts.key) : []) known.add(k);
      for (const [k, aliases] of Object.entries(opts.alias ?? {})) {
        known.add(k);
        for (const a of aliases as string[]) known.add(a);
      }
      for (const tok of argv) {
        if (tok === '--') break;
        const m = /^--?([^=]+)/.exec(tok);
        if (!m || /^-\d/.test(tok)) continue;
        const names = tok.startsWith('--') ? [m[1]!] : [...m[1]!];
        for (const n of names)
          if (!known.has(n) && n !== 'help')
            throw new UnknownFlagError(tok.startsWith('--') ? `--${n}` : `-${n}`);
      }
    }) as unknown as Parameters<Argv['middleware']>[0],
    true,
  );
  y = kvCommands(y, argv);
  y = leaseCommands(y);
  y = clusterCommands(y);
  y = authCommands(y);
  y = miscCommands(y);
  y = operatorCommands(y);
  y = inspectCommands(y);
  y = completionCommand(y);
  try {
    await y.parseAsync();
  } catch (e) {
    let err =
      e instanceof CtlError ? e : new CtlError(e instanceof Error ? e.message : String(e), Exit.badArgs);
    // cobra's "unknown flag" ends etcdctl with status 1, not its bad-arguments status.
    if (/^unknown flag: /.test(err.message)) err = new CtlError(err.message, 1);
    process.stderr.write(
      `Error: ${err.message
        .replace(/^Unknown command: (.*)$/, 'unknown command "$1" for "kvctl"')
        .replace(/^Unknown arguments?: ([^,\s]+).*$/s, (_, flag: string) => `unknown flag: --${flag}`)}\n`,
    );
    return err.exitCode;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

/** A command-line flag no command declares (etcdctl: `Error: unknown flag: --x`, status 1). */
class UnknownFlagError extends Error {
  constructor(flag: string) {
    super(`unknown flag: ${flag}`);
  }
}

/**
 * A global flag's value from etcdctl's environment variable (`ETCDCTL_DIAL_TIMEOUT` for
 * `--dial-timeout`), as etcdctl reads only global flags from the environment. Other `ETCDCTL_*`
 * variables (e.g. `ETCDCTL_API`) are ignored like etcdctl ignores them, and never become flags.
 */
function fromEnv(name: string, fallback?: string): string | undefined;
function fromEnv(name: string, fallback: boolean): boolean;
function fromEnv(name: string, fallback?: string | boolean): string | boolean | undefined {
  const v = process.env[name];
  if (v === undefined) return fallback;
  return typeof fallback === 'boolean' ? v === 'true' || v === '1' : v;
}

/**
 * `completion bash|zsh`: prints a shell completion script (yargs' own; it completes commands and
 * flags by asking kvctl with --get-yargs-completions). etcdctl's fish and powershell are refused.
 */
function completionCommand(y: Argv): Argv {
  return y
    .completion('__completion', false)
    .command(
      'completion [shell]',
      'Generate the autocompletion script for kvctl for the specified shell (bash or zsh)',
      {},
      async (a: unknown) => {
        const shell = str((a as Args).shell);
        if (shell !== 'bash' && shell !== 'zsh') {
          process.stderr.write(
            `Error: ${shell === undefined ? 'completion needs a shell: bash or zsh' : `kvctl has no ${shell} completion (bash, zsh)`}\n`,
          );
          process.exitCode = Exit.badArgs;
          return;
        }
        y.showCompletionScript();
      },
    );
}
