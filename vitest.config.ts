import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addons and worker threads do not mix with vitest's threads pool.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
