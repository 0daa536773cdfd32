import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
