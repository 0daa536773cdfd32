/**
 * Storage driver parameters (spec §4.5): the one place their values are checked and normalised, for
 * the config loader (src/config/storage.ts) and for createDriver alike. Each driver declares its
 * parameters (name -> kind, required ones, minimums, defaults) next to its own `fromParameters`;
 * values may come typed from YAML or as strings from the environment, so booleans take Go's
 * strconv.ParseBool spellings and whole numbers may be strings.
 */
import { isAbsolute, resolve } from 'node:path';

export type ParameterKind = 'string' | 'path' | 'bool' | 'int' | 'map';

export interface ParameterSpec {
  /** Every parameter the driver accepts, by lower-case name. */
  readonly known: Readonly<Record<string, ParameterKind>>;
  readonly required?: readonly string[];
  /** Least value of an `int` parameter (default 0). */
  readonly minimums?: Readonly<Record<string, number>>;
  /** Values of parameters left out. */
  readonly defaults?: Readonly<Record<string, unknown>>;
}

/** A parameter that is unknown, missing or of the wrong kind; `key` is its dotted config key. */
export class ParameterError extends Error {
  /** A configuration mistake: the CLI exits 2. */
  readonly exitCode = 2;
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
    this.name = 'ParameterError';
  }
}

/** Go's strconv.ParseBool spellings. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function normalise(
  kind: ParameterKind,
  value: unknown,
  text: unknown,
  min: number,
): { value: unknown } | { error: string } {
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return { value };
      if (typeof value === 'number' || typeof value === 'boolean')
        return { value: typeof text === 'string' ? text : String(value) };
      return { error: 'must be a string' };
    case 'path':
      if (typeof value !== 'string') return { error: 'must be a path' };
      return value === '' ? { error: 'must not be empty' } : { value };
    case 'bool':
      if (typeof value === 'boolean') return { value };
      if (typeof value === 'string' && (TRUE.has(value) || FALSE.has(value)))
        return { value: TRUE.has(value) };
      return { error: 'must be true or false' };
    case 'int': {
      const n =
        typeof value === 'number'
          ? value
          : typeof value === 'string' && /^-?\d+$/.test(value)
            ? Number(value)
            : NaN;
      if (!Number.isInteger(n)) return { error: 'must be a whole number' };
      if (n < min) return { error: `must be a whole number >= ${min}` };
      return { value: n };
    }
    case 'map':
      return isMap(value) ? { value } : { error: 'must be a mapping' };
  }
}

/**
 * Checks `given` (lower-case names) against `spec` and returns the normalised parameters: unknown
 * names, wrong kinds and missing required ones throw ParameterError naming `storage.<key>.<name>`.
 * `text` holds the same values as written (YAML scalars as text), so a string parameter written as
 * `0123` keeps its digits; relative `path` values resolve against `dir` when given.
 */
export function parseParameters(
  spec: ParameterSpec,
  key: string,
  given: Readonly<Record<string, unknown>>,
  opts: { text?: Readonly<Record<string, unknown>>; dir?: string } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(given)) {
    const kind = spec.known[name];
    if (kind === undefined) {
      throw new ParameterError(
        `storage.${key}.${name}`,
        `unknown ${key} storage parameter; known parameters: ${Object.keys(spec.known).join(', ')}`,
      );
    }
    if (value === null || value === undefined) continue;
    const r = normalise(kind, value, opts.text?.[name], spec.minimums?.[name] ?? 0);
    if ('error' in r) throw new ParameterError(`storage.${key}.${name}`, r.error);
    out[name] =
      kind === 'path' && opts.dir !== undefined && !isAbsolute(r.value as string)
        ? resolve(opts.dir, r.value as string)
        : r.value;
  }
  for (const name of spec.required ?? []) {
    if (out[name] === undefined || out[name] === '') {
      throw new ParameterError(`storage.${key}.${name}`, `required ${key} storage parameter is missing`);
    }
  }
  for (const [name, value] of Object.entries(spec.defaults ?? {}))
    if (out[name] === undefined) out[name] = value;
  return out;
}

/** Typed reads of parameters already normalised by parseParameters. */
export function stringParam(p: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const v = p[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function boolParam(p: Readonly<Record<string, unknown>>, name: string): boolean | undefined {
  const v = p[name];
  return typeof v === 'boolean' ? v : undefined;
}

export function intParam(p: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const v = p[name];
  return typeof v === 'number' ? v : undefined;
}

/**
 * A driver's typed parameters from one field per property (each read above), leaving out those not
 * given, so the result holds only what was set and spreads over a driver's defaults.
 */
export function definedFields<T extends object>(fields: {
  readonly [K in keyof Required<T>]: T[K] | undefined;
}): T {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as T;
}

export function mapParam(
  p: Readonly<Record<string, unknown>>,
  name: string,
): Record<string, unknown> | undefined {
  const v = p[name];
  return isMap(v) ? v : undefined;
}
