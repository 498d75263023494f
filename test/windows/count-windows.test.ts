import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  ContinuousEventTimeTrigger,
  CountEvictor,
  CountTrigger,
  EventTimeTrigger,
  GlobalWindows,
  PurgingTrigger,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  OutputTag,
  type JobResult,
} from '../../ts/index.js';
import { onBothEngines, rng } from '../engines.js';

const SCHEMA = { k: 'i64', name: 'utf8?', v: 'i64', p: 'f64', t: 'timestamp' } as const;
type Ev = { k: number; name: string | null; v: number; p: number; t: number };
const r = rng(5);
let clock = 0;
const evs: Ev[] = Array.from({ length: 3000 }, () => ({
  k: Math.floor(r() * 13),
  name: r() < 0.1 ? null : `n${Math.floor(r() * 4)}`,
  v: Math.floor(r() * 1000) - 300,
  p: Math.floor(r() * 400) / 4,
  t: (clock += Math.floor(r() * 20)),
}));

type Row = { k: number; n: number; sum: number; max: number; first: string | null; names: number };

/** Per key: at its slide-th, 2 slide-th ... record, the aggregates over its last `size` records. */
function reference(size: number, slide: number, key: (e: Ev) => string = (e) => `${e.k}`): { rows: Row[]; unfired: number } {
  const by = new Map<string, Ev[]>();
  const rows: Row[] = [];
  for (const e of evs) {
    const list = by.get(key(e)) ?? [];
    by.set(key(e), list);
    list.push(e);
    if (list.length % slide !== 0) continue;
    const w = list.slice(Math.max(0, list.length - size));
    const names = w.map((x) => x.name).filter((x): x is string => x !== null);
    rows.push({ k: e.k, n: w.length, sum: w.reduce((s, x) => s + x.v, 0), max: Math.max(...w.map((x) => x.p)), first: names[0] ?? null, names: new Set(names).size });
  }
  let unfired = 0;
  for (const l of by.values()) unfired += l.length % slide;
  return { rows, unfired };
}

const AGGS = { n: agg.count(), sum: agg.sum('v'), max: agg.max('p'), first: agg.first('name'), names: agg.countDistinct('name') };
const unfired = (res: JobResult): number => res.operators.reduce((s, o) => s + (o.unfiredRecords ?? 0), 0);

describe('count windows (countWindow, GlobalWindows with triggers)', () => {
  for (const [size, slide] of [
    [10, undefined],
    [1, undefined],
    [10, 3],
    [4, 6],
    [7, 1],
  ] as const) {
    it(`countWindow(${size}${slide === undefined ? '' : `, ${slide}`}): built-in aggregates (native and TS) and a reduce function match the last records per key`, async () => {
      const { native } = await onBothEngines(async (engine) => {
        // No timestamps: count windows need none.
        const env = StreamEnvironment.create({ engine, batchSize: 37 });
        const w = env.fromRecords(evs, SCHEMA).keyBy('k').countWindow(size, slide);
        const builtIn = new CollectSink<Row>();
        const reduced = new CollectSink<Ev>();
        w.aggregate(AGGS).sinkTo(builtIn);
        w.reduce((a, b) => ({ ...a, v: a.v + b.v, p: Math.max(a.p, b.p) })).sinkTo(reduced);
        const res = await env.execute();
        return { builtIn: builtIn.records, reduced: reduced.records.map((x) => ({ k: x.k, sum: x.v, max: x.p })), unfired: unfired(res) };
      });
      const want = reference(size, slide ?? size);
      expect(native.builtIn).toEqual(want.rows);
      expect(native.reduced).toEqual(want.rows.map((x) => ({ k: x.k, sum: x.sum, max: x.max })));
      // Built-in and reduce operators each report the records after their key's last firing.
      expect(native.unfired).toBe(want.unfired);
      expect(Object.keys(native.builtIn[0]!)).not.toContain('windowStart');
    });
  }

  it('composite and utf8 keys, and countWindowAll', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 50 });
      const s = env.fromRecords(evs, SCHEMA);
      const byBoth = new CollectSink<Row & { name: string | null }>();
      const all = new CollectSink<{ n: number; sum: number }>();
      s.keyBy(['name', 'k']).countWindow(3, 2).aggregate(AGGS).sinkTo(byBoth);
      s.countWindowAll(100).aggregate({ n: agg.count(), sum: agg.sum('v') }).sinkTo(all);
      await env.execute();
      return { byBoth: byBoth.records, all: all.records };
    });
    const want = reference(3, 2, (e) => `${e.name}|${e.k}`);
    expect(native.byBoth.map(({ name: _n, ...rest }) => rest)).toEqual(want.rows);
    expect(native.all).toEqual(Array.from({ length: 30 }, (_, i) => ({ n: 100, sum: evs.slice(i * 100, i * 100 + 100).reduce((a, e) => a + e.v, 0) })));
  });

  it('GlobalWindows with PurgingTrigger(CountTrigger) or CountTrigger + CountEvictor are count windows; process and AggregateFunction see the same records', async () => {
    await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 64 });
      const keyed = env.fromRecords(evs, SCHEMA).keyBy('k');
      const a = new CollectSink();
      const b = new CollectSink();
      const c = new CollectSink<{ k: number; n: number; sum: number }>();
      const d = new CollectSink<{ n: number; sum: number }>();
      keyed.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(5))).aggregate({ n: agg.count(), sum: agg.sum('v') }).sinkTo(a);
      keyed.window(GlobalWindows.create()).evictor(CountEvictor.of(5)).trigger(CountTrigger.of(5)).aggregate({ n: agg.count(), sum: agg.sum('v') }).sinkTo(b);
      keyed.countWindow(5).process((k, _w, rs) => [{ k: k as number, n: rs.length, sum: rs.reduce((s, x) => s + x.v, 0) }], { k: 'i64', n: 'i64', sum: 'i64' }).sinkTo(c);
      keyed
        .countWindow(5)
        .aggregate(
          { createAccumulator: () => ({ n: 0, sum: 0 }), add: (e, acc) => ({ n: acc.n + 1, sum: acc.sum + e.v }), getResult: (acc) => acc, merge: (x, y) => ({ n: x.n + y.n, sum: x.sum + y.sum }) },
          { n: 'i64', sum: 'i64' },
        )
        .sinkTo(d);
      await env.execute();
      const want = reference(5, 5).rows.map((x) => ({ k: x.k, n: x.n, sum: x.sum }));
      expect(a.records).toEqual(want);
      expect(b.records).toEqual(want);
      expect(c.records).toEqual(want);
      expect(d.records).toEqual(want.map(({ n, sum }) => ({ n, sum })));
      return a.records;
    });
  });

  it('CountTrigger without purging fires running results; ContinuousEventTimeTrigger fires as the watermark passes each interval; EventTimeTrigger at the end', async () => {
    const few = [
      { k: 1, name: 'a', v: 1, p: 0, t: 0 },
      { k: 1, name: 'a', v: 2, p: 0, t: 50 },
      { k: 2, name: 'a', v: 10, p: 0, t: 120 },
      { k: 1, name: 'a', v: 3, p: 0, t: 130 },
      { k: 1, name: 'a', v: 4, p: 0, t: 260 },
      { k: 2, name: 'a', v: 20, p: 0, t: 400 },
    ];
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 1 });
      const keyed = env.fromRecords(few, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).keyBy('k');
      const sum = (a: Ev, b: Ev): Ev => ({ ...a, v: a.v + b.v });
      const running = new CollectSink<Ev>();
      const continuous = new CollectSink<Ev>();
      const atEnd = new CollectSink<Ev>();
      keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(2)).reduce(sum).sinkTo(running);
      keyed.window(GlobalWindows.create()).trigger(ContinuousEventTimeTrigger.of(100)).reduce(sum).sinkTo(continuous);
      keyed.window(GlobalWindows.create()).trigger(EventTimeTrigger.create()).reduce(sum).sinkTo(atEnd);
      await env.execute();
      const kv = (s: CollectSink<Ev>) => s.records.map((x) => [x.k, x.v]);
      return { running: kv(running), continuous: kv(continuous), atEnd: kv(atEnd) };
    });
    // Key 1 after 2 and 4 records; key 2 after its 2nd.
    expect(native.running).toEqual([[1, 3], [1, 10], [2, 30]]);
    // Watermark = t - 1 after each record: 119 passes key 1's first timer (100): 1+2; 259
    // passes 200 (key 1: 10, key 2: 10); 399 passes 300 (key 1: 10, key 2: 30); the end fires all.
    expect(native.continuous).toEqual([[1, 3], [1, 10], [2, 10], [1, 10], [2, 30], [1, 10], [2, 30]]);
    expect(native.atEnd).toEqual([[1, 10], [2, 30]]);
  });

  it('bad configuration fails when the pipeline is built, saying what to do', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const s = env.fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t'));
    const keyed = s.keyBy('k');
    expect(() => keyed.countWindow(0)).toThrow(/at least 1 record/);
    expect(() => keyed.countWindow(5, 0)).toThrow(/at least 1 record/);
    expect(() => keyed.window(GlobalWindows.create()).aggregate({ n: agg.count() })).toThrow(/never fire without a trigger.*countWindow/);
    expect(() => keyed.window(GlobalWindows.create()).reduce((a) => a)).toThrow(/never fire without a trigger/);
    expect(() => keyed.window(GlobalWindows.create()).trigger(ContinuousEventTimeTrigger.of(10)).aggregate({ n: agg.count() })).toThrow(/use reduce, aggregate\(AggregateFunction\) or process/);
    expect(() => keyed.window(GlobalWindows.create()).trigger(CountTrigger.of(3)).aggregate({ n: agg.count() })).toThrow(/count windows/);
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).trigger(CountTrigger.of(3))).toThrow(/GlobalWindows only/);
    expect(() => keyed.countWindow(3).sideOutputLateData(new OutputTag('late'))).toThrow(/no late records/);
    const untimed = env.fromRecords(evs, SCHEMA).keyBy('k');
    expect(() => untimed.window(GlobalWindows.create()).trigger(ContinuousEventTimeTrigger.of(10))).toThrow(/needs event timestamps/);
    expect(() => CountEvictor.of(-1)).toThrow(/at least 1/);
  });
});
