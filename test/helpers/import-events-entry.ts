/**
 * A `regdb` entry point for the kill tests: the built CLI (`run` of dist/src/cli/main.js) with the
 * ImportEvents of `REGDB_TEST_KILL_AT` (import-kill-events.ts) passed in, as the composition root
 * would pass any. Production never loads this module.
 */
import { pathToFileURL } from 'node:url';
import { BIN } from './cli.js';
import { KILL_ENV, killAt, parseKillSpec } from './import-kill-events.js';

// The built CLI (what ships), typed by its sources.
const { run } = (await import(pathToFileURL(BIN).href)) as typeof import('../../src/cli/main.js');

const value = process.env[KILL_ENV];
const importEvents = value !== undefined && value !== '' ? killAt(parseKillSpec(value)) : undefined;
const code = await run(process.argv, { importEvents });
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
