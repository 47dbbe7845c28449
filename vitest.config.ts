import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // Vitest's default is one worker per core minus one: a single worker on the 2-core machines this
    // runs on. Two keep both cores busy (most files wait on PGlite or child processes part of the time).
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
