/**
 * The registry config's `log:` section, the part regdb uses: `level` and `formatter` (the registry's
 * keys; `fields`, `hooks`, `accesslog` and `reportcaller` are the registry's own and ignored here).
 * REGISTRY_LOG_LEVEL and REGISTRY_LOG_FORMATTER override them, as in the registry.
 */

export type LogFormat = 'text' | 'json';

export interface LogConfig {
  /** pino level name. */
  readonly level?: string;
  readonly formatter?: LogFormat;
}

/** logrus level names (the registry's) onto pino's. */
const LEVELS: Readonly<Record<string, string>> = {
  panic: 'fatal',
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  warning: 'warn',
  info: 'info',
  debug: 'debug',
  trace: 'trace',
};

/** logstash is JSON with other field names; regdb writes its JSON for it. */
const FORMATTERS: Readonly<Record<string, LogFormat>> = { text: 'text', json: 'json', logstash: 'json' };

/** A problem with one key of the section: the caller adds the file name. */
export class LogProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'LogProblem';
  }
}

function pick<T>(table: Readonly<Record<string, T>>, key: string, value: unknown): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const found = typeof value === 'string' ? table[value.toLowerCase()] : undefined;
  if (found === undefined) {
    throw new LogProblem(key, `"${String(value)}" is not one of ${Object.keys(table).join(', ')}`);
  }
  return found;
}

/** Pure: the section as parsed from YAML plus the environment. Throws LogProblem. */
export function buildLog(section: unknown, env: NodeJS.ProcessEnv): LogConfig {
  const s = typeof section === 'object' && section !== null ? (section as Record<string, unknown>) : {};
  const level = pick(LEVELS, 'log.level', env.REGISTRY_LOG_LEVEL ?? s.level);
  const formatter = pick(FORMATTERS, 'log.formatter', env.REGISTRY_LOG_FORMATTER ?? s.formatter);
  return { ...(level !== undefined ? { level } : {}), ...(formatter !== undefined ? { formatter } : {}) };
}
