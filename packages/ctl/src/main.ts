#!/usr/bin/env node
/** kvctl entry point: runs the command line and exits with etcdctl's exit code. */
import { run } from './cli.js';

const code = await run(process.argv.slice(2));
// Exit explicitly: gRPC channels and keep-alive timers must not keep a finished command alive.
process.exit(code);
