// Rescaling a running job (JobClient.rescale): a savepoint, the tasks stopped and started again
// at the new parallelism from it, inside the same execute(); exactly once across rescales.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointIds } from '../../ts/runtime/checkpoint-store.js';
import { JobClient, NexmarkSource, runJob, StreamEnvironment, FileSink } from '../../ts/index.js';
import { sortedLines, UNPACED, work } from './checkpoint-jobs.js';
import { ENGINES } from '../engines.js';

afterAll(() => rmSync(work, { recursive: true, force: true }));

const JOB = new URL('../fixtures/jobs/checkpointed.ts', import.meta.url);
const EVENTS = '400000';
const RATE = '40000'; // about 10 s of wall time: room for two rescales, also on a loaded machine

/** Waits until the job wrote a checkpoint newer than `after` (the job is paced: far from its end then), or the run ended. */
async function checkpointAfter(dir: string, after: number, run: Promise<unknown>): Promise<void> {
  let ended = false;
  void run.then(
    () => (ended = true),
    () => (ended = true),
  );
  while (!ended && (checkpointIds(dir)[0] ?? 0) <= after) await new Promise((r) => setTimeout(r, 5));
}

const idOf = (path: string): number => Number(/chk-(\d+)$/.exec(path)![1]);

describe.each(ENGINES)('rescaling a running job (%s engine)', (engine) => {
  it('rescales 1 -> 2 -> 1 while it runs: keyed state moves by key group, the output equals an uninterrupted run, the result lists both rescales', async () => {
    const ref = join(work, `rs-ref-${engine}.jsonl`);
    await runJob(JOB, { engine, parallelism: 1, args: ['window', ref, join(work, `rs-ref-chk-${engine}`), EVENTS, UNPACED, '1'] });

    const out = join(work, `rs-${engine}.jsonl`);
    const dir = join(work, `rs-chk-${engine}`);
    const client = new JobClient();
    const events: string[] = [];
    // The source keeps parallelism 1 (its position is not keyed state); the window rescales.
    const run = runJob(JOB, { engine, parallelism: 1, client, onEvent: (e) => e.kind === 'rescale' && events.push(`${e.from}->${e.to}`), args: ['window', out, dir, EVENTS, RATE, '1'] });
    await checkpointAfter(dir, 0, run);
    const first = await client.rescale(2);
    expect(first).toMatch(new RegExp(`^${dir}/chk-\\d+$`));
    await checkpointAfter(dir, idOf(first), run);
    const second = await client.rescale(1);
    const result = await run;
    expect(result.rescales?.map((r) => [r.from, r.to, r.savepoint])).toEqual([
      [1, 2, first],
      [2, 1, second],
    ]);
    expect(events).toEqual(['1->2', '2->1']);
    expect(result.cancelled).toBe(false);
    expect(sortedLines(readFileSync(out, 'utf8'))).toEqual(sortedLines(readFileSync(ref, 'utf8')));
  });

  it('a rescale the job cannot take (state that is not keyed, at a parallelism that would change) fails, and the job goes on at its parallelism from the savepoint: output as uninterrupted', async () => {
    const ref = join(work, `rsf-ref-${engine}.jsonl`);
    await runJob(JOB, { engine, parallelism: 1, args: ['process', ref, join(work, `rsf-ref-chk-${engine}`), EVENTS, UNPACED] });
    const out = join(work, `rsf-${engine}.jsonl`);
    const dir = join(work, `rsf-chk-${engine}`);
    const client = new JobClient();
    const events: string[] = [];
    const run = runJob(JOB, { engine, parallelism: 1, client, onEvent: (e) => e.kind === 'rescale' && events.push(`${e.from}->${e.to}${e.error === undefined ? '' : ' failed'}`), args: ['process', out, dir, EVENTS, RATE] });
    await checkpointAfter(dir, 0, run);
    await expect(client.rescale(2)).rejects.toThrow(/has state of 1 subtasks in checkpoint .* and runs at parallelism 2 now; only keyed state .*moves between subtasks/);
    const result = await run;
    expect(events).toEqual(['1->2', '1->2 failed']);
    expect(result.rescales).toBeUndefined();
    expect(sortedLines(readFileSync(out, 'utf8'))).toEqual(sortedLines(readFileSync(ref, 'utf8')));
  });
});

describe('JobClient.rescale', () => {
  it('refuses a parallelism that is not a whole number >= 1, and parallelism above 1 for a job not built from a module', async () => {
    const env = StreamEnvironment.create({ parallelism: 1 });
    env.enableCheckpointing(50, { dir: join(work, 'rs-inline') });
    env.fromSource(NexmarkSource.bids({ events: 2_000_000, targetRatePerSec: 100_000 })).sinkTo(FileSink.jsonl(join(work, 'rs-inline.jsonl')));
    const client = new JobClient();
    const stop = new AbortController();
    const run = env.execute('inline', { client, signal: stop.signal });
    await expect(client.rescale(0)).rejects.toThrow('rescale: parallelism must be a whole number >= 1, got 0');
    await expect(client.rescale(2)).rejects.toThrow(/^rescale: parallelism above 1 runs the job on worker threads, which rebuild it from its module/);
    stop.abort();
    expect((await run).cancelled).toBe(true);
  });
});
