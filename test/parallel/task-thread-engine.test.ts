/**
 * Task threads load only the engine their tasks run on (ts/engine/select.ts, taskThreadData):
 * a native job's workers do not load the TS engine's modules, a TS job's workers do, and both
 * run the job as before.
 */

import { describe, expect, it } from 'vitest';
import { runJob, type JobResult } from '../../ts/index.js';
import { taskThreadData } from '../../ts/engine/select.js';
import { ENGINES, requireNative } from '../engines.js';

const JOB = new URL('../fixtures/jobs/engines-loaded.ts', import.meta.url);

/** Rows the job's sinks took, over every subtask. */
function sinkRows(r: JobResult): number {
  return r.operators.filter((m) => m.name.startsWith('Sink:')).reduce((n, m) => n + m.recordsIn, 0);
}

/** The warnings of code SLUICE_TEST_ENGINES raised while `run` runs. */
async function warningsOf<T>(run: () => Promise<T>): Promise<{ result: T; texts: string[] }> {
  const texts: string[] = [];
  const seen = (w: Error & { code?: string }): void => {
    if (w.code === 'SLUICE_TEST_ENGINES') texts.push(w.message);
  };
  process.on('warning', seen);
  try {
    const result = await run();
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
    return { result, texts };
  } finally {
    process.off('warning', seen);
  }
}

describe('the engine modules a task thread loads', () => {
  it('taskThreadData keeps the setup and adds the engine', () => {
    const data = taskThreadData({ a: 1, env: { engine: 'ts' } }, 'native');
    expect(data).toMatchObject({ a: 1, env: { engine: 'ts' } });
    expect(Object.keys(data)).toHaveLength(3);
  });

  for (const engine of ENGINES) {
    it(`${engine}: a job at parallelism 2 runs, its threads having ${engine === 'native' ? 'only the native engine' : 'the TS engine'}`, async () => {
      requireNative();
      const { result, texts } = await warningsOf(() => runJob(JOB, { engine, parallelism: 2, args: ['200000'] }));
      const rows = sinkRows(result);
      expect(rows).toBe(sinkRows(await runJob(JOB, { engine, parallelism: 1, args: ['200000'] })));
      expect(rows).toBeGreaterThan(0);
      // Both threads say the same, so it is shown once.
      expect(texts).toEqual([
        engine === 'native'
          ? "a native task thread: TS engine internal error: this task thread was started for the native engine and did not load the TS engine; start it with taskThreadData(setup, 'ts') to run TS-engine tasks"
          : 'a ts task thread: TS engine loaded (ts)',
      ]);
    });
  }
});
