import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/**
 * Seconds each of the slowest files took in a clean-clone CI run (2026-12-06). A fresh clone
 * has no timing cache, and vitest's default order then is the glob's, which started the
 * 333 s savepoint file last, on one worker, while the other idled. Longest first balances the
 * two workers; files not listed keep vitest's order after these.
 */
const SLOW_FILES: Readonly<Record<string, number>> = {
  'test/kafka/application.test.ts': 792,
  'test/state/checkpoint.test.ts': 374,
  'test/state/savepoint.test.ts': 146,
  'test/state/rank-checkpoint.test.ts': 91,
  'test/parallel/parallel.test.ts': 58,
  'test/state/changelog-checkpoint.test.ts': 50,
  'test/state/rescale.test.ts': 49,
  'test/cli/package.test.ts': 37,
  'test/parallel/partitioning.test.ts': 36,
  'test/kafka/security.test.ts': 35,
  'test/state/uids.test.ts': 30,
  'test/kafka/fault.test.ts': 30,
  'test/parallel/memory.test.ts': 26,
  'test/cli/rescale.test.ts': 26,
  'test/kafka/rescale.test.ts': 24,
  'test/kafka/outage.test.ts': 22,
  'test/kafka/source.test.ts': 21,
};

class SlowFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification): number => SLOW_FILES[relative(f.project.config.root, f.moduleId)] ?? 0;
    // Array.prototype.sort is stable: the rest keep the base order.
    return (await super.sort(files)).sort((a, b) => seconds(b) - seconds(a));
  }
}

export default defineConfig({
  test: {
    // Native addons and worker threads do not mix with vitest's threads pool.
    pool: 'forks',
    sequence: { sequencer: SlowFilesFirst },
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
