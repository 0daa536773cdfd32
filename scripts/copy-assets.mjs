// Copies the non-TypeScript assets the compiled CLI reads at run time (migration .sql files,
// migration templates, JSON data) from src/ into dist/src/, keeping their relative paths.
import { cpSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
for (const rel of ['src/db/migrations', 'src/db/templates', 'src/db/data']) {
  const from = join(root, rel);
  if (existsSync(from)) cpSync(from, join(root, 'dist', rel), { recursive: true });
}
