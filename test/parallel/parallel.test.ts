/**
 * Parallel runs on worker threads: every Nexmark query gives the same rows at parallelism 1, 2
 * and 4 on both engines; the plan shows parallelism, tasks and exchanges; bad configuration
 * fails before anything runs; a failing subtask fails the job with its operator and subtask.
 */

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agg, CollectSink, NexmarkSource, runJob, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../../ts/index.js';
import { requireNative } from '../engines.js';

const EVENTS = '60000';
const dir = tmpdir();

async function rows(query: string, engine: 'native' | 'ts', parallelism: number): Promise<string[]> {
  const out = join(dir, `sluice-par-${process.pid}-${query}-${engine}-${parallelism}.jsonl`);
  rmSync(out, { force: true });
  const r = await runJob(new URL(`../../examples/nexmark/${query}.ts`, import.meta.url), { engine, parallelism, args: [EVENTS, out] });
  expect(r.operators.some((m) => m.subtask === parallelism - 1)).toBe(true);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  rmSync(out, { force: true });
  return lines;
}

describe('parallel execution', () => {
  for (const q of ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q7', 'q8', 'q11']) {
    it(`${q}: the same rows at parallelism 1, 2 and 4, on both engines`, async () => {
      requireNative();
      // q4 is an updating result: the last row per category is the answer, the updates before it
      // depend on the order bids reach the join from several subtasks.
      const norm = (lines: string[]): string[] => {
        if (q !== 'q4') return [...lines].sort();
        const last = new Map<number, string>();
        for (const l of lines) last.set((JSON.parse(l) as { category: number }).category, l);
        return [...last.values()].sort();
      };
      const base = norm(await rows(q, 'native', 1));
      expect(base.length).toBeGreaterThan(0);
      for (const engine of ['native', 'ts'] as const) {
        for (const p of [1, 2, 4]) {
          if (engine === 'native' && p === 1) continue;
          expect(norm(await rows(q, engine, p)), `${engine} p=${p}`).toEqual(base);
        }
      }
    });
  }

  it('rolling part files are written by every sink subtask, each its own parts; together they hold every record once', async () => {
    requireNative();
    const read = (out: string) =>
      readdirSync(out)
        .sort()
        .flatMap((n) => readFileSync(join(out, n), 'utf8').trim().split('\n'));
    const base = join(dir, `sluice-parts-${process.pid}-1`);
    rmSync(base, { recursive: true, force: true });
    await runJob(new URL('../fixtures/jobs/parallel-parts.ts', import.meta.url), { engine: 'native', parallelism: 1, args: [EVENTS, base] });
    expect(readdirSync(base).every((n) => /^part-\d{5}\.jsonl$/.test(n))).toBe(true);
    for (const engine of ['native', 'ts'] as const) {
      const out = join(dir, `sluice-parts-${process.pid}-${engine}-2`);
      rmSync(out, { recursive: true, force: true });
      const r = await runJob(new URL('../fixtures/jobs/parallel-parts.ts', import.meta.url), { engine, parallelism: 2, args: [EVENTS, out] });
      const sinks = r.operators.filter((m) => m.name.startsWith('Sink'));
      expect(sinks.map((m) => m.subtask).sort()).toEqual([0, 1]);
      const names = readdirSync(out);
      expect(names.some((n) => n.startsWith('part-0-')) && names.some((n) => n.startsWith('part-1-'))).toBe(true);
      expect(names.every((n) => /^part-[01]-\d{5}\.jsonl$/.test(n))).toBe(true);
      expect(read(out).sort()).toEqual(read(base).sort());
      rmSync(out, { recursive: true, force: true });
    }
    rmSync(base, { recursive: true, force: true });
  });

  it('explain shows parallelism, the tasks and the exchanges; sinks that write as one subtask run on the calling thread', () => {
    const env = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
    env
      .fromSource(NexmarkSource.bids({ events: 10 }))
      .keyBy('auction')
      .window(TumblingEventTimeWindows.of(1000))
      .aggregate({ n: agg.count() })
      .sinkTo(new CollectSink());
    const text = env.explain();
    expect(text).toContain('up to 2 subtasks per operator on 2 worker threads, max parallelism 128');
    expect(text).toMatch(/#1 Source: nexmark bids \(p=2\)/);
    expect(text).toMatch(/--HASH\(auction\)--> #2 Window\(TumblingEventTimeWindows\(1000 ms\)\) aggregate \[n=count\(\)\] \(p=2\) \[new task\]/);
    expect(text).toMatch(/--GLOBAL--> #3 Sink: collect \(p=1\) \[new task\] \[on the calling thread\]/);
    expect(env.explain('mermaid')).toContain('(p=2)');
  });

  it('bad parallelism fails when the job is built, saying what to change', async () => {
    expect(() => StreamEnvironment.create({ parallelism: 0 })).toThrow(/parallelism must be a whole number >= 1/);
    expect(() => StreamEnvironment.create({ parallelism: 4, maxParallelism: 2 })).toThrow(/above the max parallelism 2/);
    const env = StreamEnvironment.create({ engine: 'ts' });
    const s = env.fromRecords([{ k: 1, t: 1 }], { k: 'i64', t: 'timestamp' }, WatermarkStrategy.forMonotonousTimestamps<{ k: number; t: number }>().withTimestampAssigner('t'));
    s.setParallelism(2);
    s.sinkTo(new CollectSink());
    expect(() => env.explain()).toThrow(/cannot run with parallelism 2: the source .* reads its input in order as one subtask; remove setParallelism\(2\)/);
    const env2 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
    env2.fromSource(NexmarkSource.bids({ events: 10 })).map((b) => b).setParallelism(300).sinkTo(new CollectSink());
    expect(() => env2.explain()).toThrow(/parallelism 300 is out of range; use 1 to the max parallelism \(128\)/);
    // Parallel runs rebuild the job in each worker from its module.
    const env3 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
    env3.fromSource(NexmarkSource.bids({ events: 10 })).sinkTo(new CollectSink());
    await expect(env3.execute()).rejects.toThrow(/put the pipeline in a module .* runJob/);
  });

  it('a subtask that throws fails the job with the operator, the subtask and the error, and ends every worker', async () => {
    requireNative();
    const job = new URL('../fixtures/jobs/failing.ts', import.meta.url);
    const err = await runJob(job, { engine: 'native', parallelism: 2, args: ['1009'] }).then(
      () => null,
      (e: unknown) => e as { message: string; operator: string; subtask: number },
    );
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/failed in operator 'Map' \(subtask [01]\): the function of 'Map' threw on record \d+ \{"auction":1009,.*\}: Error: bad auction 1009$/);
    expect(err!.operator).toBe('Map');
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort')).toEqual([]);
    // The same job without the bad record runs to the end.
    const ok = await runJob(job, { engine: 'native', parallelism: 2, args: ['-1'] });
    expect(ok.recordsIn).toBe(18_400);
  });
});
