import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Native addons and worker threads do not mix with vitest's threads pool.
    pool: 'forks',
    // Two test files at a time even on 2 cores (vitest's default there is one): most test time
    // is spent waiting on child processes, paced sources and the broker, not computing, and the
    // tests hold under full CPU load (scripts/test-under-load.sh). The checkpoint and savepoint
    // files alone took 17 of the suite's 19 minutes one after the other.
    maxWorkers: Math.max(2, availableParallelism() - 1),
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
