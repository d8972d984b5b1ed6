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
      // Rules of the type-checked set still off, each with why (findings counted when last tried);
      // no-unnecessary-type-assertion and await-thenable are on.
      '@typescript-eslint/unbound-method': 'off', // `expect(obj.method)` and handlers passed unbound, on purpose (136, mostly tests)
      '@typescript-eslint/require-await': 'off', // async functions kept async for their callers' signatures (14)
      '@typescript-eslint/no-unsafe-assignment': 'off', // any-typed values from structured clone, msgpack and page.evaluate (15)
      '@typescript-eslint/no-unsafe-member-access': 'off', // same source; a finding in node.ts waits for its worker message validation (3)
      '@typescript-eslint/no-unsafe-call': 'off', // tests call functions compiled with `new Function` (3)
      '@typescript-eslint/no-unsafe-argument': 'off', // node.ts worker messages (being validated there) and ray-api's any-typed refs (3)
      '@typescript-eslint/no-unsafe-return': 'off', // ray-api's any-typed ObjectRef lookup (1); on with no-unsafe-member-access
      '@typescript-eslint/prefer-promise-reject-errors': 'off', // e2e specs and the isolated-worker handshake reject with non-Errors on purpose (6)
      '@typescript-eslint/only-throw-error': 'off', // e2e/errors.spec.ts throws non-Errors on purpose, to test how they travel (2)
      '@typescript-eslint/no-base-to-string': 'off', // String(x) of unknown values in messages and the demo's timeline (4)
      '@typescript-eslint/no-redundant-type-constituents': 'off', // `string | 'literal'` unions that document a value (3)
      '@typescript-eslint/no-implied-eval': 'off', // the worker compiles shipped task code with `new Function` (1, and 3 in tests)
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
    files: ['signaling/**', 'bin/**', 'e2e/**', 'bench/**/*.{ts,mjs}', 'scripts/**', '*.config.{js,ts,mjs}'],
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
