/**
 * Managed memory and backpressure: sizes, the plan's budget check, window state bounded by the
 * budget (a clear error, never an abort) on both engines, use reported in the job result, and a
 * fast source into a slow sink whose peak memory stays bounded however many events flow.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agg, CollectSink, DiscardingSink, EngineError, JobFailedError, NexmarkSource, runJob, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../../ts/index.js';
import { parseMemorySize } from '../../ts/runtime/memory.js';
import { requireNative } from '../engines.js';

const MiB = 1024 * 1024;
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('managed memory', () => {
  it('parses sizes and rejects what is not one', () => {
    expect(parseMemorySize('512mb')).toBe(512 * MiB);
    expect(parseMemorySize('2 GiB')).toBe(2048 * MiB);
    expect(parseMemorySize('64k')).toBe(64 * 1024);
    expect(parseMemorySize(1000)).toBe(1000);
    expect(() => parseMemorySize('lots')).toThrow(/'lots' is not a size; write it like '512mb'/);
    expect(() => StreamEnvironment.create({ memory: '-1mb' })).toThrow(/not a size/);
    expect(() => StreamEnvironment.create({ memory: 0 })).toThrow(/whole number of bytes >= 1/);
  });

  it('a budget too small for the plan fails before anything runs, saying what it needs', async () => {
    const env = StreamEnvironment.create({ engine: 'ts', parallelism: 2, memory: '4mb' });
    env.fromSource(NexmarkSource.bids({ events: 10 })).keyBy('auction').window(TumblingEventTimeWindows.of(1000)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
    expect(() => env.explain()).toThrow(
      // Segments: per source subtask 2 channels x 4 credits + 2 current + 3 spares (hash), per
      // window subtask 1 channel x 4 credits + 1 current + 2 spares (to the sink): 2 x 13 + 2 x 7.
      /the managed memory budget of 4\.0 MiB is too small to run this plan: it needs at least 12\.0 MiB \(10\.0 MiB for the buffers of 6 exchange channels, 40 segments of 256 KiB: 4 in flight per channel and each sender's current and spare ones, and 2\.0 MiB for 2 window operator subtasks\); raise memory/,
    );
    await expect(runJob(new URL('../../examples/nexmark/q5.ts', import.meta.url), { engine: 'ts', parallelism: 2, memory: '4mb', args: ['1000'] })).rejects.toThrow(/too small to run this plan/);
    const ok = StreamEnvironment.create({ engine: 'ts', parallelism: 2, memory: '64mb' });
    ok.fromSource(NexmarkSource.bids({ events: 10 })).keyBy('auction').window(TumblingEventTimeWindows.of(1000)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
    expect(ok.explain()).toMatch(/Managed memory 64\.0 MiB: .* MiB for the buffers of 6 exchange channels, .* MiB for operator state/);
  });

  for (const engine of ['native', 'ts'] as const) {
    it(`${engine}: window state that outgrows the budget fails the job with what to change, and the process goes on`, async () => {
      if (engine === 'native') requireNative();
      const records = Array.from({ length: 200_000 }, (_, i) => ({ k: `key-${i}`, t: i % 1000 }));
      const env = StreamEnvironment.create({ engine, memory: '2mb' });
      env
        .fromRecords(records, { k: 'utf8', t: 'i64' }, WatermarkStrategy.forMonotonousTimestamps<{ k: string; t: number }>().withTimestampAssigner('t'))
        .keyBy('k')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ n: agg.count() })
        .sinkTo(new DiscardingSink());
      const failure = await env.execute('too much state').then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(JobFailedError);
      expect((failure as Error).message).toMatch(/Window\(TumblingEventTimeWindows\(10000 ms\)\) aggregate .*needs \d+ KiB more managed memory but the budget of 2 MiB .* raise the job's managed memory budget/);
      // The engine's error kind, in the same words on both engines (the amounts differ: each lays its state out its own way).
      const original = (failure as JobFailedError).original;
      expect(original).toBeInstanceOf(EngineError);
      expect((original as EngineError).kind).toBe('memory');
      expect((original as EngineError).message).toMatch(/ needs \d+ KiB more managed memory but the budget of 2 MiB has \d+ KiB free; raise the job's managed memory budget or reduce the key space$/);
      // The same job in a budget that holds it.
      const env2 = StreamEnvironment.create({ engine, memory: '256mb' });
      env2
        .fromRecords(records, { k: 'utf8', t: 'i64' }, WatermarkStrategy.forMonotonousTimestamps<{ k: string; t: number }>().withTimestampAssigner('t'))
        .keyBy('k')
        .window(TumblingEventTimeWindows.of(10_000))
        .aggregate({ n: agg.count() })
        .sinkTo(new DiscardingSink());
      const r = await env2.execute();
      expect(r.memory.operatorPeakBytes).toBeGreaterThan(2 * MiB);
      expect(r.memory.operatorPeakBytes).toBeLessThanOrEqual(r.memory.operatorBudgetBytes);
    });

    it(`${engine}: a parallel run reports its memory use, within the budget`, async () => {
      requireNative();
      const r = await runJob(new URL('../../examples/nexmark/q5.ts', import.meta.url), { engine, parallelism: 2, memory: '128mb', args: ['200000'] });
      const m = r.memory;
      expect(m.budgetBytes).toBe(128 * MiB);
      expect(m.exchangeReservedBytes + m.operatorBudgetBytes).toBe(m.budgetBytes);
      expect(m.operatorPeakBytes).toBeGreaterThan(0);
      expect(m.operatorPeakBytes).toBeLessThanOrEqual(m.operatorBudgetBytes);
      expect(m.exchangePeakBytes).toBeGreaterThan(0);
      expect(m.exchangePeakBytes).toBeLessThanOrEqual(m.exchangeReservedBytes);
    });
  }
});

describe('backpressure', () => {
  const cli = `${root}dist/ts/cli/main.js`;
  const run = (engine: string, events: number): { maxRss: number; exchangePeak: number; exchangeReserved: number; backpressured: number } => {
    if (!existsSync(cli)) throw new Error('run `npm run build` first (this test runs dist/ts/cli/main.js)');
    const p = spawnSync(process.execPath, [cli, 'run', 'test/fixtures/jobs/slow-sink.ts', '--engine', engine, '--parallelism', '2', '--', String(events)], { encoding: 'utf8', cwd: root });
    expect(p.status, p.stderr).toBe(0);
    const rss = (JSON.parse(p.stdout.trim().split('\n').pop()!) as { maxRssBytes: number }).maxRssBytes;
    const mem = /exchange buffers peak ([\d.]+) MiB of ([\d.]+) MiB/.exec(p.stderr)!;
    const bp = [...p.stderr.matchAll(/Source: nexmark bids: .*backpressured ([\d.]+) s/g)].map((m) => Number(m[1]));
    expect(bp.length, p.stderr).toBeGreaterThan(0);
    return { maxRss: rss, exchangePeak: Number(mem[1]), exchangeReserved: Number(mem[2]), backpressured: Math.min(...bp) };
  };

  for (const engine of ['native', 'ts'] as const) {
    it(`${engine}: a slow sink slows the source down and peak memory stays bounded as the event count grows eightfold`, () => {
      requireNative();
      const small = run(engine, 250_000);
      const big = run(engine, 2_000_000);
      // 2M events carry ~1.85M bids, about 0.22 GB of column data through the exchange: queued
      // without backpressure they would raise the peak by that much.
      expect(big.maxRss - small.maxRss).toBeLessThan(96 * MiB);
      expect(big.maxRss).toBeLessThan(512 * MiB);
      // The channels never held more than their share of the budget.
      for (const r of [small, big]) expect(r.exchangePeak).toBeLessThanOrEqual(r.exchangeReserved);
      // Backpressure itself: every source subtask was held back by the sink, and the channels
      // filled up to their share of the budget (credits ran out) instead of growing.
      for (const r of [small, big]) expect(r.backpressured).toBeGreaterThan(0);
      expect(big.exchangePeak).toBeGreaterThan(big.exchangeReserved / 2);
    });
  }
});
