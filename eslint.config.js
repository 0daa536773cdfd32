import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * A layer's forbidden imports: `[regex over the specifier, message]` pairs, as
 * @typescript-eslint/no-restricted-imports (the base rule keeps the pg and SDK rules). Type-only
 * imports count unless `allowTypes`.
 */
function layer(files, forbidden, { allowTypes = false } = {}) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map(([re, message]) => ({
            regex: re.source,
            message: `${message} (STYLE.md: dependencies point down)`,
            ...(allowTypes ? { allowTypeImports: true } : {}),
          })),
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'fixtures/', '.regdb/', 'coverage/', 'tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['pg', 'pg-copy-streams'], message: 'Only src/db/ imports pg (STYLE.md).' },
            {
              group: ['@aws-sdk/*', '@google-cloud/*'],
              message: 'Only drivers/ imports a cloud SDK (STYLE.md).',
            },
          ],
        },
      ],
    },
  },
  { files: ['src/db/**', 'test/**', 'scripts/**'], rules: { 'no-restricted-imports': 'off' } },
  // Dependencies point down the data flow (STYLE.md, issue 16 §1): cli -> importer -> {registry, db,
  // drivers}; db -> registry at most; registry -> drivers' types. One rule per layer, on the import
  // specifier as written (relative, from the layer's own folder).
  layer(['src/db/*.ts'], [[/^\.\.\/(importer|cli)\//, 'src/db may not import src/importer or src/cli.']]),
  layer(
    ['src/db/bbm/**'],
    [[/^\.\.\/\.\.\/(importer|cli)\//, 'src/db may not import src/importer or src/cli.']],
  ),
  {
    files: ['drivers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['pg', 'pg-copy-streams'], message: 'Only src/db/ imports pg.' }] },
      ],
    },
  },
);
