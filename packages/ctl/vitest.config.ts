import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    maxWorkers: 2,
    // The longest differential cases run ~25 kvctl and etcdctl lines each: 25-50 s on the shared box.
    testTimeout: 120_000,
    // Each differential case starts two etcd members; a few at a time keeps the 2-core box responsive.
    maxConcurrency: 3,
    reporters: ['default', ['json', { outputFile: '.vitest-results/results.json' }]],
  },
});
