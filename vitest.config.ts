import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores on the machines this runs on: more workers only add contention.
    poolOptions: { forks: { maxForks: 2, minForks: 1 }, threads: { maxThreads: 2, minThreads: 1 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          globalSetup: ['test/helpers/global-setup.ts', 'test/helpers/ceph-setup.ts'],
          pool: 'forks',
        },
      },
    ],
  },
});
