/**
 * Parallel runs on worker threads: every Nexmark query gives the same rows at parallelism 1, 2
 * and 4 on both engines; the plan shows parallelism, tasks and exchanges; bad configuration
 * fails before anything runs; a failing subtask fails the job with its operator and subtask.
 */

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agg, CollectSink, NexmarkSource, runJob, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../../ts/index.js';
import { requireNative } from '../engines.js';
import { taskThreads } from '../../ts/runtime/parallel.js';

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

  it('more slots than worker threads: each thread hosts several subtasks, with the same rows, checkpoints and a result that says how many threads ran', async () => {
    requireNative();
    // SLUICE_TASK_THREADS caps the threads below the cores (read by the calling thread when the run starts).
    const withThreads = async <T>(n: string, f: () => Promise<T>): Promise<T> => {
      process.env.SLUICE_TASK_THREADS = n;
      try {
        return await f();
      } finally {
        delete process.env.SLUICE_TASK_THREADS;
      }
    };
    const run = async (engine: 'native' | 'ts', parallelism: number) => {
      const out = join(dir, `sluice-hosted-${process.pid}-${engine}-${parallelism}.jsonl`);
      rmSync(out, { force: true });
      const r = await runJob(new URL('../../examples/nexmark/q5.ts', import.meta.url), { engine, parallelism, args: [EVENTS, out] });
      const lines = readFileSync(out, 'utf8').trim().split('\n').sort();
      rmSync(out, { force: true });
      return { r, lines };
    };
    const base = await run('native', 1);
    expect(base.r.taskThreads).toBe(0);
    for (const engine of ['native', 'ts'] as const) {
      // Four slots on one thread, three on two (thread 0 hosts subtasks 0 and 2, thread 1 subtask 1).
      for (const [p, threads] of [[4, '1'], [3, '2']] as const) {
        const { r, lines } = await withThreads(threads, () => run(engine, p));
        expect(r.taskThreads, `${engine} p=${p}`).toBe(Number(threads));
        expect(new Set(r.operators.map((m) => m.subtask)), `${engine} p=${p}`).toEqual(new Set(Array.from({ length: p }, (_, i) => i)));
        expect(lines, `${engine} p=${p}`).toEqual(base.lines);
      }
      // A checkpointing job whose sink subtasks (rolling part files, committed by checkpoints)
      // are hosted: every subtask gets its triggers, commits and final close on the shared thread.
      const out = join(dir, `sluice-hosted-chk-${process.pid}-${engine}`) + '/';
      const chk = join(dir, `sluice-hosted-chk-${process.pid}-${engine}-chk`);
      const clean = (): void => ['', '-1'].forEach((s) => [out.slice(0, -1) + s, chk + s].forEach((d) => rmSync(d, { recursive: true, force: true })));
      const parts = (d: string): { names: string[]; lines: string[] } => {
        const names = readdirSync(d).sort();
        return { names, lines: names.flatMap((n) => readFileSync(join(d, n), 'utf8').trim().split('\n')).sort() };
      };
      clean();
      const job = new URL('../fixtures/jobs/checkpointed.ts', import.meta.url);
      await runJob(job, { engine, parallelism: 1, args: ['window', out.slice(0, -1) + '-1/', chk + '-1', '20000', '40000'] });
      const hosted = await withThreads('1', () => runJob(job, { engine, parallelism: 3, args: ['window', out, chk, '20000', '40000'] }));
      expect(hosted.taskThreads).toBe(1);
      const got = parts(out);
      expect(new Set(got.names.map((n) => /^part-(\d)-\d{5}\.jsonl$/.exec(n)?.[1]))).toEqual(new Set(['0', '1', '2']));
      expect(got.lines).toEqual(parts(out.slice(0, -1) + '-1').lines);
      clean();
    }
  });

  it('worker threads: one per core at most, SLUICE_TASK_THREADS lower or higher, and a bad value fails saying what to set', () => {
    expect(taskThreads(1, {})).toBe(1);
    expect(taskThreads(64, {})).toBe(availableParallelism());
    expect(taskThreads(4, { SLUICE_TASK_THREADS: '1' })).toBe(1);
    expect(taskThreads(4, { SLUICE_TASK_THREADS: '16' })).toBe(4);
    for (const bad of ['0', '1.5', 'two', '-1']) expect(() => taskThreads(4, { SLUICE_TASK_THREADS: bad }), bad).toThrow(/SLUICE_TASK_THREADS must be a whole number of threads, at least 1, not '.*'; unset it to use one per core/);
  });

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
