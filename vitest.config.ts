import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native addons and worker threads do not mix with vitest's threads pool.
    pool: 'forks',
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/kafka/**'] },
      },
      {
        // Tests against a real Kafka broker, started once per run by the global set-up.
        extends: true,
        test: {
          name: 'kafka',
          include: ['test/kafka/**/*.test.ts'],
          globalSetup: ['test/kafka/global-setup.ts'],
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
