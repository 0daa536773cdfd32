/**
 * The root logger. One is built in the CLI entry and written to stderr (or a log file) so that stdout
 * stays for results; library code takes a `Logger` and defaults to `silentLogger` (STYLE.md).
 * A terminal gets readable text lines (pino-pretty: time, level, message, the fields that matter);
 * a pipe or a file gets pino's JSON lines, unless the format is given (the config's log.formatter).
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { isatty } from 'node:tty';
import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';

export type { Logger };

/** Field names whose values are secrets (config keys are lower-cased, code uses camelCase). */
const SECRET_FIELDS = [
  'password',
  'adminPassword',
  'secret',
  'secretkey',
  'secretKey',
  'secretAccessKey',
  'accesskey',
  'accessKey',
  'accessKeyId',
  'sessiontoken',
  'sessionToken',
  'credentials',
  'private_key',
  'privateKey',
  'apiKey',
  'token',
  'connectionString',
];

/**
 * Redaction paths: each secret field at the top level and up to three levels down.
 * pino's redaction has no "any depth" wildcard, so the levels are spelled out.
 */
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((f) => [
  f,
  `*.${f}`,
  `*.*.${f}`,
  `*.*.*.${f}`,
]);

export interface LoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal, silent. Default `info`. */
  level?: string;
  /** Where the lines go. Default `stderr`. */
  destination?: 'stderr' | 'stdout' | { file: string } | { stream: DestinationStream };
  /** `text` or `json`; default: text on a terminal, JSON otherwise. */
  format?: 'text' | 'json';
}

/** Fields every line carries that a reader at a terminal does not need. */
const TEXT_IGNORED = 'pid,hostname,name';

function fdOf(dest: LoggerOptions['destination']): number | undefined {
  if (dest === undefined || dest === 'stderr') return 2;
  if (dest === 'stdout') return 1;
  return undefined;
}

/** Whether lines to `dest` are written as text: asked for, or a terminal when nothing is asked. */
export function writesText(opts: Pick<LoggerOptions, 'destination' | 'format'>): boolean {
  if (opts.format !== undefined) return opts.format === 'text';
  const fd = fdOf(opts.destination);
  return fd !== undefined && isatty(fd);
}

/**
 * pino-pretty is loaded only when text lines are written: loading it costs ~0.13 s of CPU at every
 * start, and an import in a job or a pipe (JSON lines) never uses it.
 */
const requireFromHere = createRequire(import.meta.url);
function loadPretty(): typeof import('pino-pretty') {
  return requireFromHere('pino-pretty') as typeof import('pino-pretty');
}

function textDestination(dest: LoggerOptions['destination']): DestinationStream {
  const pretty = loadPretty();
  const fd = fdOf(dest);
  const target = fd ?? (dest as { file?: string }).file;
  if (target === undefined) throw new Error('text log lines need stderr, stdout or a file');
  return pretty({
    destination: target,
    sync: true,
    mkdir: true,
    colorize: fd !== undefined && isatty(fd),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: TEXT_IGNORED,
    singleLine: true,
  });
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

function destinationOf(dest: LoggerOptions['destination']): DestinationStream {
  if (dest === undefined || dest === 'stderr') return pino.destination({ dest: 2, sync: true });
  if (dest === 'stdout') return pino.destination({ dest: 1, sync: true });
  if ('stream' in dest) return dest.stream;
  return pino.destination({ dest: dest.file, mkdir: true, sync: true });
}

/** Log files are created readable by their owner only (GitLab's importer: mode 0600), appended to. */
function createLogFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  closeSync(openSync(file, 'a', 0o600));
}

/** Builds the root logger. Throws on an unknown level (the caller maps it to a usage error). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = (opts.level ?? 'info').toLowerCase();
  if (!LEVELS.has(level)) {
    throw new Error(`unknown log level "${opts.level}": use one of ${[...LEVELS].join(', ')}`);
  }
  const dest = opts.destination;
  if (typeof dest === 'object' && 'file' in dest) {
    try {
      createLogFile(dest.file);
    } catch (err) {
      throw new Error(`cannot write the log file ${dest.file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return pino(
    {
      level,
      base: { name: 'regdb' },
      redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    writesText(opts) && !(typeof opts.destination === 'object' && 'stream' in opts.destination)
      ? textDestination(opts.destination)
      : destinationOf(opts.destination),
  );
}

/** A logger that writes nothing: the default for library code (one, shared with drivers/). */
export { silentLogger } from '../drivers/silent-logger.js';
