#!/usr/bin/env -S node --max-semi-space-size=64 --expose-gc --max-inlined-bytecode-size-cumulative=230 --heap-growing-percent=300
/**
 * The `kv-server` binary: etcd's flags and ETCD_* environment variables, zap-style JSON logs,
 * SIGTERM/SIGINT graceful stop (a second signal exits at once).
 */
import { ConfigError, helpText, parseArgs } from './config/parse.js';
import { KvServer } from './embed.js';
import { SERVER_VERSION } from './etcdserver/server.js';
import { failpointsServing, testFaultsEnabled } from './failpoints.js';
import { Logger, type LogOutputs, openLogOutputs } from './log/logger.js';
import { startIdleHeapTrim } from './runtime/idle-heap-trim.js';

async function main(): Promise<void> {
  let outcome: ReturnType<typeof parseArgs>;
  try {
    outcome = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kv-server: ${err.message} (see 'kv-server --help')\n`);
      process.exit(1);
    }
    throw err;
  }
  if (outcome.action === 'help') {
    process.stdout.write(helpText());
    return;
  }
  if (outcome.action === 'version') {
    process.stdout.write(
      `kv-server Version: 0.1.0\netcd API Version: ${SERVER_VERSION}\nNode Version: ${process.version}\n`,
    );
    return;
  }
  const config = outcome.config;
  let outputs: LogOutputs;
  try {
    outputs = openLogOutputs(config.logOutputs);
  } catch (err) {
    process.stderr.write(`kv-server: cannot open --log-outputs: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const log = new Logger(config.logLevel, outputs.sink);
  if (testFaultsEnabled.failpoints.length > 0 || testFaultsEnabled.faults.length > 0) {
    log.warn('TEST ONLY: failpoints or fault modes enabled from KV_FAILPOINTS / KV_FAULT', testFaultsEnabled);
  }
  // Signal handlers go in first: a SIGTERM during startup still stops cleanly.
  let server: KvServer | undefined;
  let stopping = false;
  let signals = 0;
  // Stops a startup that is still waiting for peers or a leader (etcd stops promptly there too).
  const startup = new AbortController();
  const stop = () => {
    if (!server) {
      startup.abort();
      return;
    }
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('failed to stop cleanly', { error: err });
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn('received second signal; exiting immediately', { signal });
      process.exit(1);
    }
    log.info('received signal; shutting down', { signal: signal === 'SIGINT' ? 'interrupt' : 'terminated' });
    stopping = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    server = await KvServer.start(config, { logger: log, signal: startup.signal });
    failpointsServing();
    // A member removed from the cluster stops itself (etcd logs the reason and exits).
    server.onRemoved(() => process.exit(0));
    // A failed raft loop or apply closes the server (embed.ts); the process must not report success.
    server.etcd.on('fatal', () => {
      process.exitCode = 1;
    });
    // Returns V8's grown heap to the OS after load stops (RSS; docs/benchmarks.md "Memory and restart"),
    // and after the start itself (replaying the WAL and loading the key index grow the heap too).
    startIdleHeapTrim(log, { trimSoon: true });
  } catch (err) {
    if (stopping) process.exit(0);
    log.error('failed to start kv-server', { error: err });
    process.exit(1);
  }
  if (stopping) stop();
}

void main();
