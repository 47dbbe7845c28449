import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    // Vitest's default is one worker per core minus one: a single worker on the 2-core machines this
    // runs on. Two keep both cores busy (most files wait on PGlite or child processes part of the time).
    maxWorkers: 2,
    // Test files share each worker's loaded modules instead of importing src afresh per file: the
    // suite spent 44–52 s of its time importing, and took 282 s against 196–221 s without it (stop 19,
    // 2-core machine; every test passes in a shuffled file order too). Files restore what they change
    // in the environment (vi.stubEnv/unstubAllEnvs, TZ) and close their databases.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
