// ESLint flat config: eslint and typescript-eslint recommended rules, and for TypeScript files the
// rules that need type information (typescript-eslint's type-checked set, through the three
// tsconfigs: page, Web Worker, Node), chief among them switch-exhaustiveness-check: a switch over a
// message union that misses a member fails the lint.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: ['dist/', 'node_modules/', 'test-results/', 'playwright-report/', 'coverage/', '.scratch/'],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked in the program of the first tsconfig that holds it.
        project: ['./tsconfig.json', './tsconfig.worker.json', './tsconfig.node.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // The point of typed linting here: a switch over a union (every message union of
      // runtime/protocol/) must name every member, or say `default:` on purpose.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      // Off: rules of the type-checked set that flag working code wholesale (218 findings when
      // first turned on, most in tests and e2e specs, several in runtime/coordinator/ and
      // runtime/node/, which are being split). Style or deliberate patterns, not bugs:
      // `expect(obj.method)` and handlers passed unbound (unbound-method: 136), `as` kept for the
      // reader (25), async functions with no await (14), any-typed values from structured clone
      // and msgpack (the no-unsafe-* rules: 21), rejections and throws of non-Errors that tests
      // make on purpose (9), String(x) of unknown values in messages (4), `string | 'literal'`
      // unions that document a value (3), mixed value/promise arrays given to Promise.all
      // (await-thenable: 2). The runtime compiles shipped task code with `new Function`.
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      '@typescript-eslint/await-thenable': 'off',
      '@typescript-eslint/no-implied-eval': 'off',
    },
  },
  {
    // Plain JavaScript (benchmark pages, scripts, this file) has no types to check against.
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
  },
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
