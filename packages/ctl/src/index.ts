/** `@kv/ctl` as a library: run kvctl's command line in-process. */
export { run, VERSION } from './cli.js';
export { CtlError, Exit } from './util.js';

/** Package name, kept for tools that print it. */
export const PACKAGE_NAME = '@kv/ctl';
