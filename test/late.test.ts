import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  EventTimeSessionWindows,
  OutputTag,
  SlidingEventTimeWindows,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type WindowAssigner,
} from '../ts/index.js';
import { onBothEngines } from './engines.js';

const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; v: number; t: number };
// Batches of 2; the watermark follows the highest timestamp (monotonous strategy).
// After [1@1000, 1@12000] the watermark is 11999: windows ending by 12000 have fired.
const events: Ev[] = [
  { k: 1, v: 1, t: 1000 },
  { k: 1, v: 2, t: 12000 },
  { k: 1, v: 3, t: 5000 }, // late for 10 s tumbling and 2 s sessions
  { k: 2, v: 4, t: 13000 },
  { k: 2, v: 5, t: 200 }, // late everywhere
  { k: 1, v: 6, t: 14000 },
];

async function run(engine: 'native' | 'ts', assigner: WindowAssigner<Ev>, userFn: boolean) {
  const env = StreamEnvironment.create({ engine, batchSize: 2 });
  const late = new OutputTag<Ev>('late');
  const results = new CollectSink();
  const lateSink = new CollectSink();
  const windowed = env
    .fromRecords(events, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t'))
    .keyBy('k')
    .window(assigner)
    .sideOutputLateData(late);
  const out = userFn
    ? windowed.process((key, w, rs) => [{ k: key as number, n: rs.length, start: w.start }], { k: 'i64', n: 'i32', start: 'timestamp' })
    : windowed.aggregate({ n: agg.count() });
  out.sinkTo(results);
  out.getSideOutput(late).sinkTo(lateSink);
  const r = await env.execute();
  return { late: lateSink.records, dropped: r.lateRecordsDropped, results: results.records.length };
}

describe('late records', () => {
  const cases: [string, WindowAssigner<Ev>, number[]][] = [
    ['tumbling', TumblingEventTimeWindows.of(10_000), [3, 5]],
    ['sliding', SlidingEventTimeWindows.of(10_000, 5_000), [5]],
    ['session', EventTimeSessionWindows.withGap(2_000), [3, 5]],
  ];
  for (const [name, assigner, lateValues] of cases) {
    for (const userFn of [false, true]) {
      it(`go to the side output of ${name} windows (${userFn ? 'process function' : 'built-in aggregate'}), on both engines`, async () => {
        const { native } = await onBothEngines((e) => run(e, assigner, userFn));
        expect(native.late.map((r) => r.v)).toEqual(lateValues);
        expect(native.late[0]).toMatchObject({ k: events.find((x) => x.v === lateValues[0])!.k, t: events.find((x) => x.v === lateValues[0])!.t });
        expect(native.dropped).toBe(0);
        expect(native.results).toBeGreaterThan(0);
      });
    }
  }

  it('getSideOutput without sideOutputLateData is a build-time error', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const out = env
      .fromRecords(events, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t'))
      .keyBy('k')
      .window(TumblingEventTimeWindows.of(10))
      .aggregate({ n: agg.count() });
    expect(() => out.getSideOutput(new OutputTag('late'))).toThrow("this stream has no side output 'late'; call sideOutputLateData(tag)");
  });
});
