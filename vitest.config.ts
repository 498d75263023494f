import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native addons and worker threads do not mix with vitest's threads pool.
    pool: 'forks',
    // Tests wait for what they need (a child's ready line, a condition), never a fixed time, so a
    // busy machine makes them slower, not red. The timeout only catches a hang: the whole CI
    // budget, not a guess at how fast this machine is.
    testTimeout: 25 * 60_000,
    hookTimeout: 25 * 60_000,
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
        },
      },
    ],
  },
});
