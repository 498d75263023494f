// A parallel sink that fails in close() after the final checkpoint (the exactly-once Kafka sink
// can: its check that committed transactions ended): the job fails with that error. Before, the
// calling thread waited for ever for the worker to say it had closed (a hang found by
// test/kafka/outage.test.ts timing out).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../ts/index.js';
import { requireNative } from '../engines.js';

describe('parallel jobs', () => {
  it('a sink failing in close after the final checkpoint fails the job (no hang)', async () => {
    requireNative();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-close-fails-'));
    try {
      const run = runJob(new URL('../fixtures/jobs/close-fails.ts', import.meta.url), { engine: 'ts', parallelism: 2, args: [join(dir, 'chk')] });
      await expect(run).rejects.toThrow(/sink subtask [01] failed in close/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a worker thread that ends after the final checkpoint, before its sinks closed, fails the job (no hang)', async () => {
    requireNative();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-close-exits-'));
    try {
      const run = runJob(new URL('../fixtures/jobs/close-fails.ts', import.meta.url), { engine: 'ts', parallelism: 2, args: [join(dir, 'chk'), 'exit'] });
      await expect(run).rejects.toThrow(/the worker thread exited \(code 7\) after the final checkpoint, before its sinks closed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
