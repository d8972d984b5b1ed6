// ESLint flat config: eslint and typescript-eslint recommended rules, syntax-only (no type
// information) so that `npm run lint` stays fast.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', 'coverage/', '.scratch/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // The runtime compiles shipped task code with `new Function`.
      'no-new-func': 'off',
      'no-implied-eval': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
    },
  },
  {
    // Browser code: the runtime (pages and Web Workers) and the demo pages.
    files: ['runtime/**', 'demo/**'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker } },
  },
  {
    // Node code: the server, tests, benchmarks, scripts and tool configs.
    files: ['signaling/**', 'e2e/**', 'bench/**/*.{ts,mjs}', 'scripts/**', '*.config.{js,ts,mjs}'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Benchmark scripts that run inside the benchmark page.
    files: ['bench/**/*.js'],
    languageOptions: { globals: { ...globals.browser, ...globals.worker, workerpool: 'readonly' } },
  },
  {
    // The benchmark page's registry, used by its scripts and by page.evaluate callbacks in run.mjs.
    files: ['bench/**'],
    languageOptions: { globals: { webrayBench: 'readonly' } },
  },
);
