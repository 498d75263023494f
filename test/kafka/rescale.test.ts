// Restoring a Kafka job at another parallelism, against the real broker: the checkpointed
// Kafka -> keyBy -> window -> Kafka (exactly-once) job (test/fixtures/jobs/kafka-window.ts) runs
// at parallelism 2 and is SIGKILLed once a checkpoint is written, before its transactions are
// committed; it resumes at parallelism 1 (the source's partitions, and the sink's prepared
// transactions and transactional ids of the vanished subtask, move to the remaining one: lost
// rows if they were not committed, a blocked reader if its open one were not fenced), is killed
// again after a checkpoint completed and resumes at parallelism 3 (partitions spread out again,
// a new sink subtask starts its own transactions) until it finishes. A read_committed reading
// of the output must then hold every window exactly once, and after each kill none twice.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { requireNative } from '../engines.js';
import { createTopic, expectedWindows, produce, uid, windowInput } from './helpers.js';
import { COMPLETED, expectExactlyOnce, expectPartOf, run, WRITTEN } from './job-runs.js';

const bootstrap = inject('kafkaBootstrap');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-rescale-'));
const N = 24_000;
const PARTITIONS = 4;

let input: Promise<string> | null = null;
function inputTopic(): Promise<string> {
  input ??= (async () => {
    const topic = `rescale-in-${uid()}`;
    await createTopic(bootstrap, topic, PARTITIONS);
    await produce(bootstrap, topic, windowInput(N, PARTITIONS));
    return topic;
  })();
  return input;
}

describe('Kafka job restored at another parallelism', () => {
  it.each([['native'], ['ts']] as const)('%s engine: parallelism 2, killed before a commit, resumed at 1, killed, resumed at 3 to the end: every window exactly once', async (engine) => {
    requireNative();
    const topic = await inputTopic();
    const out = `rescale-out-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const dir = join(work, `chk-${out}`);
    const args = (parallelism: number): string[] => ['run', 'test/fixtures/jobs/kafka-window.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', '--log-level', 'debug', '--batch-size', '200', '--restore-from', 'latest', '--', bootstrap, topic, out, `eo-${out}`, dir];
    const want = expectedWindows(N);
    for (const [k, [parallelism, on]] of ([[2, WRITTEN], [1, COMPLETED]] as const).entries()) {
      const r = await run(bootstrap, args(parallelism), out, { on, delayMs: 0 });
      expect(r.signal, `run ${k + 1} (parallelism ${parallelism}) was to be killed but ended by itself (code ${r.code}):\n${r.stderr}`).toBe('SIGKILL');
      if (k > 0) expect(r.stderr).toMatch(/restored from /);
      await expectPartOf(bootstrap, out, want, `after the kill at parallelism ${parallelism}`);
    }
    const last = await run(bootstrap, args(3), out, null);
    expect(last.code, last.stderr).toBe(0);
    await expectExactlyOnce(bootstrap, out, want);
  });
});
