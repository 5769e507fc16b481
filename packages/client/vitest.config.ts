import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    // Most files wait on server processes rather than compute: run a few at once even on 2 cores.
    maxWorkers: 3,
    reporters: ['default', ['json', { outputFile: '.vitest-results/results.json' }]],
  },
});
