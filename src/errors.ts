/**
 * Error classes the CLI maps onto exit statuses: 2 for usage and configuration errors,
 * 1 for everything else (runtime failures).
 */

/** A command-line usage error: bad flag, bad combination of flags. Exit status 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** A configuration error. The message names the file and the key. Exit status 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** Exit status for an error: 2 for usage/config errors, 1 otherwise. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError) return 2;
  return 1;
}
