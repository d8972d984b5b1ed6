// Unit tests: beside the code in runtime/ and signaling/, run in Node with in-memory fakes.
// Browser behaviour is tested end to end by Playwright (e2e/), not here.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['runtime/**/*.test.ts', 'signaling/**/*.test.ts', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 10_000,
  },
});
