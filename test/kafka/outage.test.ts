// A broker outage: the checkpointed Kafka -> keyBy -> window -> Kafka (exactly-once) job runs as
// a real `sluice` process against a broker of its own (so the shared one is not disturbed); once
// it has completed a checkpoint the broker is stopped for a few seconds and started again on the
// same data and ports. The job rides through (the client retries) or fails and restarts from its
// latest checkpoint under its restart strategy; a read_committed consumer then sees every window once.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startBroker, type Broker } from '../../scripts/kafka/broker.mjs';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { requireNative } from '../engines.js';
import { createTopic, expectedWindows, produce, readCommitted, windowInput, windowOf } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/ts/cli/main.js`;
const N = 12_000;

describe('Kafka broker outage', () => {
  it('the job rides through or restarts from its checkpoint when the broker is back; every window exactly once', async () => {
    requireNative();
    const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-outage-'));
    const dir = join(work, 'broker');
    const log = (line: string) => process.stderr.write(`[kafka outage] ${line}\n`);
    let broker: Broker = await startBroker({ dir, log });
    let passed = false;
    let stderr = '';
    try {
      const bootstrap = broker.bootstrap;
      await createTopic(bootstrap, 'outage-in', 2);
      await createTopic(bootstrap, 'outage-out', 2);
      await produce(bootstrap, 'outage-in', windowInput(N));
      const chk = join(work, 'chk');
      const child = spawn(
        process.execPath,
        [cli, 'run', 'test/fixtures/jobs/kafka-window.ts', '--engine', 'native', '--no-progress', '--log-level', 'debug', '--batch-size', '200', '--', bootstrap, 'outage-in', 'outage-out', 'outage', chk, '60'],
        { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      // Also into a file as it comes (kept with SLUICE_KAFKA_KEEP=1 when the test fails, even by timing out).
      const jobLog = createWriteStream(join(work, 'job.log'));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        jobLog.write(d);
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      let done = false;
      void exited.then(() => (done = true));
      while (!done && (checkpointIds(chk)[0] ?? 0) < 2) await new Promise((r) => setTimeout(r, 10));
      expect(done, `the job ended before its second checkpoint: ${stderr}`).toBe(false);
      const { port, controllerPort } = broker;
      await broker.stop();
      await new Promise((r) => setTimeout(r, 3000));
      broker = await startBroker({ dir, port, controllerPort, log });
      const code = await exited;
      expect(code, stderr).toBe(0);
      // (Whether it rode through on the client's retries or failed and restarted from its
      // checkpoint depends on how long the broker takes to come back; either way:)
      const got = (await readCommitted(bootstrap, 'outage-out', true)).map((r) => windowOf(r.value)).sort();
      expect(got).toEqual(expectedWindows(N));
      passed = true;
      // How often the broker lost a commit's markers during its shutdown (the sink completes them; commit-markers.ts).
      const repaired = stderr.split('SLUICE_KAFKA_COMMIT_MARKERS').length - 1;
      if (repaired > 0) log(`the sink completed ${repaired} committed transaction(s) whose commit markers the broker lost`);
    } finally {
      await broker.stop();
      // SLUICE_KAFKA_KEEP=1 keeps a failed run's broker (its log and data) and the job's log.
      if (!passed && process.env.SLUICE_KAFKA_KEEP === '1') log(`kept ${work} (job.log, broker/server.log, broker/data)`);
      else rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});
