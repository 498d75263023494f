import { describe, expect, it } from 'vitest';
import { agg, CollectSink, EventTimeSessionWindows, OutputTag, SlidingEventTimeWindows, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy } from '../ts/index.js';
import { onBothEngines } from './engines.js';

const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; v: number; t: number };
// One record per batch; watermark = highest timestamp - 1 (monotonous strategy).
const events: Ev[] = [
  { k: 1, v: 1, t: 1000 },
  { k: 1, v: 2, t: 2000 },
  { k: 1, v: 10, t: 10500 }, // watermark 10499: [0, 10000) fires (sum 3)
  { k: 1, v: 4, t: 9000 }, // within 1 s of lateness: fires again (sum 7)
  { k: 1, v: 5, t: 9999 }, // again (sum 12)
  { k: 1, v: 20, t: 11500 }, // watermark 11499: [0, 10000) is past end + lateness and dropped
  { k: 1, v: 6, t: 5000 }, // late: side output
];

const sum = (a: Ev, b: Ev): Ev => ({ ...a, v: a.v + b.v });

describe('allowed lateness', () => {
  it('tumbling windows keep state for the lateness and fire again per late record; later records go to the side output (both engines)', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 1 });
      const late = new OutputTag<Ev>('late');
      const out = new CollectSink<Ev & { windowStart: number }>();
      const lateSink = new CollectSink<Ev>();
      const r = env
        .fromRecords(events, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t'))
        .keyBy('k')
        .window(TumblingEventTimeWindows.of(10_000))
        .allowedLateness(1000)
        .sideOutputLateData(late)
        .reduce(sum);
      r.sinkTo(out);
      r.getSideOutput(late).sinkTo(lateSink);
      const res = await env.execute();
      return { out: out.records.map((x) => [x.windowStart, x.v]), late: lateSink.records.map((x) => x.v), dropped: res.lateRecordsDropped };
    });
    expect(native.out).toEqual([
      [0, 3],
      [0, 7],
      [0, 12],
      [10_000, 30],
    ]);
    expect(native.late).toEqual([6]);
  });

  it('sliding windows fire every fired window the record reaches; sessions re-fire merged; zero lateness is the default', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 1 });
      const s = env.fromRecords(events, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).keyBy('k');
      const sliding = new CollectSink<Ev & { windowStart: number }>();
      const sessions = new CollectSink<Ev & { windowStart: number; windowEnd: number }>();
      const none = new CollectSink<Ev & { windowStart: number }>();
      s.window(SlidingEventTimeWindows.of(10_000, 5_000)).allowedLateness(1000).reduce(sum).sinkTo(sliding);
      s.window(EventTimeSessionWindows.withGap(1000)).allowedLateness(600).reduce(sum).sinkTo(sessions);
      s.window(TumblingEventTimeWindows.of(10_000)).allowedLateness(0).reduce(sum).sinkTo(none);
      const res = await env.execute();
      return {
        sliding: sliding.records.map((x) => [x.windowStart, x.v]),
        sessions: sessions.records.map((x) => [x.windowStart, x.windowEnd, x.v]),
        none: none.records.map((x) => [x.windowStart, x.v]),
        dropped: res.lateRecordsDropped,
      };
    });
    // Sliding: [-5000, 5000) fires at 10499 (3); 9000 reaches [0, 10000) (fired, within lateness:
    // 7) and [5000, 15000) (open); 9999 again 12; 11499 passes [0, 10000) + 1 s; 5000 is late for
    // [0, 10000) and reaches only the open [5000, 15000).
    expect(native.sliding).toEqual([
      [-5000, 3],
      [0, 3],
      [0, 7],
      [0, 12],
      [5000, 45],
      [10_000, 30],
    ]);
    // Sessions (gap 1 s): [1000, 2000) and [2000, 3000) touch: [1000, 3000) fires at 10499;
    // 9000 starts [9000, 10000) (fired at once: end - 1 <= 10499, within 600 ms); 9999 merges
    // it into [9000, 10999), open again; 10500 joins too ([9000, 11500)); 5000 is late.
    expect(native.sessions).toEqual([
      [1000, 3000, 3],
      [9000, 10_000, 4],
      [9000, 12_500, 39],
    ]);
    expect(native.none).toEqual([
      [0, 3],
      [10_000, 30],
    ]);
  });

  it('bad lateness fails at build time; built-in aggregates say what to use instead', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const w = env.fromRecords(events, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).keyBy('k').window(TumblingEventTimeWindows.of(10));
    expect(() => w.allowedLateness(-1)).toThrow(/0 or more/);
    expect(() => w.allowedLateness(1000).aggregate({ n: agg.count() })).toThrow(/use reduce or aggregate\(AggregateFunction\)/);
  });
});
