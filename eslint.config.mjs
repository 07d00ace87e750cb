// Lint: typescript-eslint's recommended rules everywhere, and in workflow code a ban on Node built-ins and on every
// I/O library (workflow code must be deterministic; all I/O happens in activities).
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioLibraries = ['mysql2', 'mysql2/*', 'kafkajs', '@aws-sdk/*', '@vlasky/zongji', 'dynalite', 'pino', 'prom-client',
  '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.stack/**', 'reports/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: builtinModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'workflow code may not use Node built-ins' })),
        patterns: [
          { group: ioLibraries, message: 'workflow code may not do I/O: call an activity' },
          { group: ['**/infra/**', '**/pipeline/**', '**/routing/**', '**/workers/**', '**/cli/**'], message: 'workflow code imports only src/shared, other workflow files and activity types' },
          { group: ['**/activities/**'], allowTypeImports: true, message: 'import activity *types* only (import type …)' },
        ],
      }],
    },
  },
  {
    // the checker is the independent judge of the code under test: it may not import it
    files: ['src/checker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/pipeline/**', '**/routing/**', '**/workflows/**', '**/activities/**', '**/workers/**'],
          message: 'the checker must stay independent of the code it checks' }],
      }],
    },
  },
);
