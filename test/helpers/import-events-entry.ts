/**
 * A `regdb` entry point for the kill tests: the real CLI (`run` of src/cli/main.ts) with the
 * ImportEvents of `REGDB_TEST_KILL_AT` (import-kill-events.ts) passed in, as the composition root
 * would pass any. Production never loads this module.
 */
import { run } from '../../src/cli/main.js';
import { KILL_ENV, killAt, parseKillSpec } from './import-kill-events.js';

const value = process.env[KILL_ENV];
const importEvents = value !== undefined && value !== '' ? killAt(parseKillSpec(value)) : undefined;
const code = await run(process.argv, { importEvents });
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
