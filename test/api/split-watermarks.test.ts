import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agg, CollectSink, FileSource, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type JobResult, type Row } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const SCHEMA = { f: 'i64', t: 'timestamp' } as const;
type Ev = { f: number; t: number };

/** Three files covering far-apart times: read interleaved, a combined watermark would make the earlier files late. */
function files(): { dir: string; evs: Ev[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-splits-'));
  const evs: Ev[] = [];
  for (const [f, base] of [
    [0, 0],
    [1, 5_000_000],
    [2, 10_000_000],
  ] as const) {
    const mine = Array.from({ length: 3000 }, (_, i) => ({ f, t: base + i * 7 }));
    evs.push(...mine);
    writeFileSync(join(dir, `part-${f}.jsonl`), mine.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }
  return { dir, evs };
}

const late = (r: JobResult): number => r.lateRecordsDropped;

describe('per-split watermarks', () => {
  it('a directory read interleaved keeps one watermark per file: nothing is late, results equal a plain count, on both engines', async () => {
    const { dir, evs } = files();
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      const sink = new CollectSink<Row>();
      env
        .fromSource(FileSource.directory(dir, { format: 'jsonl', schema: SCHEMA, interleave: true }), WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner('t'))
        .keyBy('f')
        .window(TumblingEventTimeWindows.of(1000))
        .aggregate({ n: agg.count() })
        .sinkTo(sink);
      const res = await env.execute();
      return { rows: sink.records, late: late(res) };
    });
    expect(native.late).toBe(0);
    const want = new Map<string, number>();
    for (const e of evs) {
      const k = `${e.f}|${e.t - (e.t % 1000)}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    const got = new Map(native.rows.map((r) => [`${r.f}|${r.windowStart}`, r.n as number]));
    expect(got).toEqual(want);
  });

  it('without per-split watermarks the same rows in the same interleaved order lose records as late', async () => {
    // The same rows, in the order the interleaved source produced them, from a source without splits.
    const { dir } = files();
    const env = StreamEnvironment.create({ engine: 'ts', batchSize: 100 });
    const order = new CollectSink<Ev>();
    env.fromSource(FileSource.directory(dir, { format: 'jsonl', schema: SCHEMA, interleave: true })).sinkTo(order);
    await env.execute();
    const seen = order.records.slice(0, 300).map((e) => e.f);
    expect(new Set(seen)).toEqual(new Set([0, 1, 2]));

    const env2 = StreamEnvironment.create({ engine: 'ts', batchSize: 100 });
    const sink = new CollectSink<Row>();
    env2
      .fromRecords(order.records, SCHEMA, WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner('t'))
      .keyBy('f')
      .window(TumblingEventTimeWindows.of(1000))
      .aggregate({ n: agg.count() })
      .sinkTo(sink);
    const res = await env2.execute();
    expect(late(res)).toBeGreaterThan(1000);
  });

  it('a batch that takes longer downstream than withIdleness still advances the watermark: its split had just been read, on both engines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-splits-slow-'));
    writeFileSync(join(dir, 'part-0.jsonl'), Array.from({ length: 1000 }, (_, i) => JSON.stringify({ f: 0, t: i * 10 })).join('\n') + '\n');
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      const pause = new Int32Array(new SharedArrayBuffer(4));
      let n = 0;
      const watermarks: number[] = [];
      env
        .fromSource(FileSource.directory(dir, { format: 'jsonl', schema: SCHEMA, interleave: true }), WatermarkStrategy.forBoundedOutOfOrderness<Ev>(0).withTimestampAssigner('t').withIdleness(20))
        .map((r) => {
          // Each batch's first record blocks 3 idle timeouts, before the batch's watermark is sent.
          if (n++ % 100 === 0) Atomics.wait(pause, 0, 0, 60);
          return r;
        }, SCHEMA)
        .keyBy('f')
        .process(
          {
            processElement(r: Ev, ctx, out) {
              if (r.t % 1000 === 0) watermarks.push(ctx.timerService().currentWatermark());
              out.collect(r);
            },
          },
          SCHEMA,
        )
        .sinkTo(new CollectSink<Ev>());
      await env.execute();
      // The first record of batch b sees the watermark of batch b - 1: its last event time, 10 ms before.
      expect(watermarks).toEqual([-Infinity, ...Array.from({ length: 9 }, (_, b) => (b + 1) * 1000 - 10 - 1)]);
      return watermarks;
    });
  });

  it('interleave is an option of directory sources only', () => {
    expect(() => FileSource.watch('/tmp', { format: 'jsonl', schema: SCHEMA, interleave: true })).toThrow(/option of FileSource.directory/);
  });
});
