/**
 * Reading config.yml into two trees of the same shape: `typed` (YAML core schema: numbers, booleans,
 * null) and `text` (failsafe schema: every scalar as written). String-typed keys take the text, so
 * `password: 0123` stays "0123", as the registry's type-directed YAML decoding keeps it.
 */
import { readFileSync } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import { ConfigError } from '../errors.js';

export type Tree = Record<string, unknown>;

export interface ConfigTrees {
  typed: Tree;
  text: Tree;
}

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first line of a YAML parser message: the position, never the quoted source (it may hold a password). */
function yamlProblem(err: YAMLParseError): string {
  const head = (err.message.split(':\n')[0] ?? err.message).trim();
  return head.replace(/\s+/g, ' ');
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ConfigError(`${file}: configuration file not found`, { cause: err });
    }
    if (code === 'EISDIR') {
      throw new ConfigError(`${file}: is a directory, not a configuration file`, { cause: err });
    }
    throw new ConfigError(`${file}: cannot read the configuration file (${code ?? 'unknown error'})`, {
      cause: err,
    });
  }
}

/** Lower-cases the storage section's driver keys and parameter keys (spec §4.5: case-insensitive). */
function lowerStorageKeys(storage: unknown, file: string): unknown {
  if (!isTree(storage)) return storage;
  const out: Tree = {};
  for (const [key, value] of Object.entries(storage)) {
    const k = key.toLowerCase();
    if (k in out)
      throw new ConfigError(`${file}: storage: key "${k}" is given twice (keys are case-insensitive)`);
    if (isTree(value)) {
      const params: Tree = {};
      for (const [pk, pv] of Object.entries(value)) {
        const p = pk.toLowerCase();
        if (p in params) {
          throw new ConfigError(
            `${file}: storage.${k}: parameter "${p}" is given twice (keys are case-insensitive)`,
          );
        }
        params[p] = pv;
      }
      out[k] = params;
    } else {
      out[k] = value;
    }
  }
  return out;
}

function parseTree(src: string, file: string, schema: 'core' | 'failsafe'): Tree {
  let doc: unknown;
  try {
    doc = parse(src, { schema, merge: true, uniqueKeys: true, prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      throw new ConfigError(`${file}: invalid YAML: ${yamlProblem(err)}`, { cause: err });
    }
    throw new ConfigError(`${file}: invalid YAML`, { cause: err });
  }
  if (doc === null || doc === undefined || doc === '') {
    throw new ConfigError(`${file}: the configuration is empty; it must start with "version: 0.1"`);
  }
  if (!isTree(doc)) {
    throw new ConfigError(`${file}: the configuration must be a YAML mapping with "version: 0.1" at the top`);
  }
  if ('storage' in doc) doc.storage = lowerStorageKeys(doc.storage, file);
  return doc;
}

/** Reads a config file. Throws ConfigError naming the file. */
export function readConfigText(file: string): string {
  return readText(file);
}

/** Parses config text (`file` names it in messages). Throws ConfigError naming the file. */
export function parseConfigTrees(src: string, file: string): ConfigTrees {
  const typed = parseTree(src, file, 'core');
  const text = parseTree(src, file, 'failsafe');
  return { typed, text };
}
