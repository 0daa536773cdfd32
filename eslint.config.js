import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * A layer's forbidden imports: `[regex over the specifier, message]` pairs, as
 * @typescript-eslint/no-restricted-imports (the base rule keeps the pg and SDK rules). Type-only
 * imports count too, unless the pair says `{ allowTypes: true }`.
 */
function layer(files, forbidden) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map(([re, message, opts = {}]) => ({
            regex: re.source,
            message: `${message} (STYLE.md: dependencies point down)`,
            ...(opts.allowTypes ? { allowTypeImports: true } : {}),
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
              group: ['@aws-sdk/*', '@google-cloud/*', 'google-auth-library'],
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
  layer(
    ['src/db/*.ts'],
    [
      [/^\.\.\/(importer|cli|bbm)\//, 'src/db may not import src/importer, src/cli or src/bbm.'],
      [/(^|\/)drivers\//, 'src/db may not import drivers/.'],
    ],
  ),
  // The pg adapter of bbm's store implements bbm's store interface, and knows nothing else of bbm.
  layer(
    ['src/db/bbm/**'],
    [
      [/^\.\.\/\.\.\/(importer|cli)\//, 'src/db may not import src/importer or src/cli.'],
      [
        /^\.\.\/\.\.\/bbm\/(?!(store|model|errors)\.js$)/,
        'src/db/bbm sees only bbm store.ts, model.ts, errors.ts.',
      ],
      [/(^|\/)drivers\//, 'src/db may not import drivers/.'],
    ],
  ),
  layer(
    ['src/bbm/**'],
    [[/^\.\.\/(?!(log|errors)\.js$)/, 'src/bbm depends only on its store interface (and log, errors).']],
  ),
  layer(
    ['src/registry/**'],
    [
      [/^\.\.\/(importer|db|cli|bbm|config)\//, 'src/registry is pure: it imports no higher layer.'],
      // Besides types, only the walk-order contract (drivers/paths.js: compareBytewise), which the
      // grouper checks a walk against: one comparator, because resume depends on it agreeing.
      [
        /(^|\/)drivers\/(?!paths\.js$)/,
        'src/registry uses only the types of drivers/ (and its walk order, drivers/paths.js).',
        { allowTypes: true },
      ],
    ],
  ),
  layer(['src/importer/**'], [[/^\.\.\/(cli|bbm)\//, 'src/importer may not import src/cli or src/bbm.']]),
  layer(
    ['src/config/**'],
    [[/^\.\.\/(importer|db|cli|bbm|registry)\//, 'src/config may not import the layers that use it.']],
  ),
  {
    files: ['drivers/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['pg', 'pg-copy-streams'], message: 'Only src/db/ imports pg.' },
            {
              group: ['**/src/**', '../src', '../src/*'],
              message: 'drivers/ depends on nothing in src/ (issue 16).',
            },
          ],
        },
      ],
    },
  },
);
