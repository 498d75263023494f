/** Regressions from review: each case failed before its fix. */

import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  NexmarkSource,
  OutputTag,
  SlidingEventTimeWindows,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type Bid,
} from '../ts/index.js';
import { onBothEngines } from './engines.js';

const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; v: number; t: number };
const rows: Ev[] = Array.from({ length: 10 }, (_, i) => ({ k: i % 2, v: i, t: i * 10 }));
const wm = () => WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t');

describe('review regressions', () => {
  it('a stream used twice as input of one operator (union, join with itself) feeds both inputs', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 3 });
      const s = env.fromRecords(rows, SCHEMA, wm());
      const unioned = new CollectSink();
      const joined = new CollectSink();
      s.union(s).keyBy('k').window(TumblingEventTimeWindows.of(1000)).aggregate({ n: agg.count() }).sinkTo(unioned);
      s.join(s).where('k').equalTo('k').window(TumblingEventTimeWindows.of(1000)).apply((a, b) => ({ a: a.v, b: b.v }), { a: 'i64', b: 'i64' }).sinkTo(joined);
      await env.execute();
      expect(unioned.records.map((r) => r.n)).toEqual([10, 10]);
      expect(joined.records).toHaveLength(50);
      return [unioned.records, joined.records.length];
    });
  });

  it('late records in a side output keep every field although the planner could narrow the source', async () => {
    await onBothEngines(async (engine) => {
      // Small batches: watermarks advance between batches, so prices used as timestamps arrive late.
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      const late = new OutputTag<Bid>('late');
      const out = env
        .fromSource(NexmarkSource.bids({ events: 2000 }), WatermarkStrategy.forMonotonousTimestamps<Bid>().withTimestampAssigner('price'))
        .keyBy('auction')
        .window(TumblingEventTimeWindows.of(1000))
        .sideOutputLateData(late)
        .aggregate({ n: agg.count() });
      const sink = new CollectSink();
      out.getSideOutput(late).sinkTo(sink);
      out.sinkTo(new CollectSink());
      await env.execute();
      expect(sink.records.length).toBeGreaterThan(100);
      expect(Object.keys(sink.records[0]!).sort()).toEqual(['auction', 'bidder', 'channel', 'dateTime', 'extra', 'price', 'url']);
      return sink.records.length;
    });
  });

  it('process() fires in the same order as the built-in aggregation', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 4 });
      const evs: Ev[] = [5, 3, 5, 1, 3, 9, 1, 5].map((k, i) => ({ k, v: i, t: i * 400 }));
      const keyed = env.fromRecords(evs, SCHEMA, wm()).keyBy('k').window(TumblingEventTimeWindows.of(1000));
      const builtIn = new CollectSink();
      const user = new CollectSink();
      keyed.aggregate({ n: agg.count() }).sinkTo(builtIn);
      keyed.process((k, w, rs) => [{ k: k as number, windowStart: w.start, n: rs.length }], { k: 'i64', windowStart: 'timestamp', n: 'i64' }).sinkTo(user);
      await env.execute();
      expect(user.records).toEqual(builtIn.records.map((r) => ({ k: r.k, windowStart: r.windowStart, n: r.n })));
      return user.records;
    });
  });

  it('reduce may update its first argument, also on sliding windows; reduce works after keyBy(selector)', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const evs: Ev[] = [
        { k: 1, v: 1, t: 10 },
        { k: 1, v: 10, t: 15 },
        { k: 1, v: 100, t: 25 },
      ];
      const sliding = new CollectSink();
      const bySelector = new CollectSink();
      const s = env.fromRecords(evs, SCHEMA, wm());
      s.keyBy('k')
        .window(SlidingEventTimeWindows.of(20, 10))
        .reduce((a, b) => {
          a.v += b.v;
          return a;
        })
        .sinkTo(sliding);
      s.keyBy((e) => `k${e.k}`)
        .window(TumblingEventTimeWindows.of(100))
        .reduce((a, b) => ({ k: a.k, v: a.v + b.v, t: Math.max(a.t, b.t) }))
        .sinkTo(bySelector);
      await env.execute();
      expect(sliding.records.map((r) => [r.windowStart, r.v])).toEqual([
        [0, 11],
        [10, 111],
        [20, 100],
      ]);
      expect(bySelector.records).toEqual([{ k: 1, v: 111, t: 25, windowStart: 0, windowEnd: 100 }]);
      return sliding.records;
    });
  });

  it('joins accept only real window assigners; inputs must share one environment', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const other = StreamEnvironment.create({ engine: 'ts' });
    const a = env.fromRecords(rows, SCHEMA, wm());
    expect(() => a.join(a).where('k').equalTo('k').window({ sizeMs: 0, offsetMs: 0, describe: () => 'x' } as never)).toThrow(/a window join takes event-time windows: TumblingEventTimeWindows/);
    expect(() => a.union(other.fromRecords(rows, SCHEMA, wm()))).toThrow('Union: every input must come from the same StreamEnvironment');
  });
});
