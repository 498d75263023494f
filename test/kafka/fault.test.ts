// Exactly-once under faults, against the real broker: a checkpointed Kafka -> keyBy -> window ->
// Kafka job (test/fixtures/jobs/kafka-window.ts) run as a real `sluice` process, SIGKILLed three
// times and resumed from its latest checkpoint until it finishes; a read_committed reading of
// the output (test/kafka/helpers.ts: each transaction's outcome from its marker in the log) must
// then hold every window exactly once, and after each kill no window twice.
//
// Where each kill lands is chosen by what the run reports, not by time, so a loaded machine
// makes the test slower, not different: once the run has written records into a transaction
// (the output's high watermarks rose by 20 or more: more than the markers a restore writes,
// less than one window), it is killed on its next log line of a kind:
//   kill 1: 'checkpoint N written' (debug): the checkpoint is durable, its transaction not yet
//           committed (or being committed): the restore must commit it, once;
//   kill 2: 'checkpoint N completed': committed; the next transaction may hold records: the
//           restore must abort it (fencing) and write them again;
//   kill 3: 'checkpoint N completed', then a seeded random delay under 300 ms: any moment.
// CI runs native at parallelism 1 and TS at parallelism 2; SLUICE_KAFKA_KILL_TESTS=1 runs all
// four combinations.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { requireNative, rng } from '../engines.js';
import { createTopic, expectedWindows, produce, uid, windowInput } from './helpers.js';
import { COMPLETED, expectExactlyOnce, expectPartOf, run, WRITTEN, type Kill } from './job-runs.js';

const bootstrap = inject('kafkaBootstrap');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-fault-'));
const N = 12_000;

let input: Promise<string> | null = null;
function inputTopic(): Promise<string> {
  input ??= (async () => {
    const topic = `fault-in-${uid()}`;
    await createTopic(bootstrap, topic, 2);
    await produce(bootstrap, topic, windowInput(N));
    return topic;
  })();
  return input;
}

const all = process.env.SLUICE_KAFKA_KILL_TESTS === '1';
const cases = ([
  ['native', 1],
  ['ts', 1],
  ['native', 2],
  ['ts', 2],
] as const).filter(([engine, p]) => all || (engine === 'native' && p === 1) || (engine === 'ts' && p === 2));

describe('Kafka exactly-once under SIGKILL', () => {
  it.each(cases)('%s engine, parallelism %i: killed three times and resumed, every window exactly once', async (engine, parallelism) => {
    requireNative();
    const topic = await inputTopic();
    const out = `fault-out-${uid()}`;
    await createTopic(bootstrap, out, 2);
    const dir = join(work, `chk-${out}`);
    const args = ['run', 'test/fixtures/jobs/kafka-window.ts', '--engine', engine, '--parallelism', String(parallelism), '--no-progress', '--log-level', 'debug', '--batch-size', '200', '--restore-from', 'latest', '--', bootstrap, topic, out, `eo-${out}`, dir];
    const random = rng(parallelism * 10 + (engine === 'native' ? 1 : 2));
    const kills: Kill[] = [
      { on: WRITTEN, delayMs: 0 },
      { on: COMPLETED, delayMs: 0 },
      { on: COMPLETED, delayMs: Math.floor(random() * 300) },
    ];
    const want = expectedWindows(N);
    for (const [k, kill] of kills.entries()) {
      const r = await run(bootstrap, args, out, kill);
      expect(r.signal, `run ${k + 1} was to be killed but ended by itself (code ${r.code}):\n${r.stderr}`).toBe('SIGKILL');
      await expectPartOf(bootstrap, out, want, `after kill ${k + 1}`);
    }
    const last = await run(bootstrap, args, out, null);
    expect(last.code, last.stderr).toBe(0);
    await expectExactlyOnce(bootstrap, out, want);
  });
});
