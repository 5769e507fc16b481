import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Each differential case starts two etcd members; a few at a time keeps the 2-core box responsive.
    maxConcurrency: 3,
    reporters: ['default', ['json', { outputFile: '.vitest-results/results.json' }]],
  },
});
