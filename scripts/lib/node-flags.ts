/**
 * The node flags the `regdb` executable starts with: those on its shebang line
 * (`#!/usr/bin/env -S node <flags>`), so that a benchmark runs the CLI as an installed `regdb` runs.
 */
import { readFileSync } from 'node:fs';

/** Flags after `node` on a `#!/usr/bin/env -S node ...` first line; none for any other first line. */
export function shebangNodeFlags(source: string): string[] {
  const first = source.split('\n', 1)[0] ?? '';
  const m = /^#!\S*\/env\s+-S\s+node((?:\s+\S+)*)\s*$/.exec(first);
  if (m === null) return [];
  return m[1]!
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
}

export function cliNodeFlags(entry: string): string[] {
  return shebangNodeFlags(readFileSync(entry, 'utf8'));
}
