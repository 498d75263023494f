/**
 * Several inputs and user window functions, on both engines, each against an independent
 * computation written here: union, connect, window join, coGroup, interval join, and
 * reduce / aggregate / process on windows.
 */

import { describe, expect, it } from 'vitest';
import { agg, CollectSink, EventTimeSessionWindows, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type EngineName, type Row, NexmarkSource, OutputTag, SlidingEventTimeWindows, type Bid } from '../../ts/index.js';
import { onBothEngines, rng } from '../engines.js';

const EV = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; v: number; t: number };

function events(n: number, seed: number, keys: number, step: number, bound: number): Ev[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => ({ k: Math.floor(r() * keys), v: Math.floor(r() * 1000), t: i * step - Math.floor(r() * (bound + 1)) + bound }));
}
const wm = (bound: number) => WatermarkStrategy.forBoundedOutOfOrderness<Ev>(bound).withTimestampAssigner('t');
const sortRows = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();
const tumble = (t: number, size: number) => t - (((t % size) + size) % size);

async function collect(engine: EngineName, build: (env: StreamEnvironment) => { sinkTo(s: CollectSink): void }, batchSize = 64): Promise<Row[]> {
  const env = StreamEnvironment.create({ engine, batchSize });
  const sink = new CollectSink();
  build(env).sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('several inputs', () => {
  const a = events(1500, 1, 20, 3, 30);
  const b = events(1200, 2, 20, 4, 50);

  it('union: records of both inputs; the watermark waits for the slower input, so nothing is late', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const rows = await collect(engine, (env) =>
        env
          .fromRecords(a, EV, wm(30))
          .union(env.fromRecords(b, EV, wm(50)))
          .keyBy('k')
          .window(TumblingEventTimeWindows.of(100))
          .aggregate({ n: agg.count() }),
      );
      return sortRows(rows);
    });
    const want = new Map<string, number>();
    for (const e of [...a, ...b]) {
      const key = `${e.k}|${tumble(e.t, 100)}`;
      want.set(key, (want.get(key) ?? 0) + 1);
    }
    const got = new Map(native.map((s) => JSON.parse(s) as { k: number; windowStart: number; n: number }).map((r) => [`${r.k}|${r.windowStart}`, r.n]));
    expect(got).toEqual(want);
  });

  it('union rejects inputs of different schemas when the pipeline is built', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    expect(() => env.fromRecords(a, EV).union(env.fromRecords([{ x: 1 }], { x: 'i32' }) as never)).toThrow(/union needs inputs of one schema/);
  });

  it('connect: one function per input into one stream', async () => {
    const { native } = await onBothEngines(async (engine) =>
      sortRows(
        await collect(engine, (env) =>
          env
            .fromRecords(a.slice(0, 50), EV)
            .connect(env.fromRecords([{ name: 'x', n: 2 }], { name: 'utf8', n: 'i32' }))
            .map((e) => ({ label: `a${e.k}`, value: e.v }), (p) => ({ label: p.name, value: p.n }), { label: 'utf8', value: 'i64' }),
        ),
      ),
    );
    expect(native).toEqual(sortRows([...a.slice(0, 50).map((e) => ({ label: `a${e.k}`, value: e.v })), { label: 'x', value: 2 }]));
  });

  it('window join: every pair with equal keys in the same window, against a nested loop', async () => {
    const { native } = await onBothEngines(async (engine) =>
      sortRows(
        await collect(engine, (env) =>
          env
            .fromRecords(a, EV, wm(30))
            .join(env.fromRecords(b, EV, wm(50)))
            .where('k')
            .equalTo((e) => e.k)
            .window(TumblingEventTimeWindows.of(200))
            .apply((x, y, w) => ({ k: x.k, left: x.v, right: y.v, start: w.start }), { k: 'i64', left: 'i64', right: 'i64', start: 'timestamp' }),
        ),
      ),
    );
    const want: Row[] = [];
    for (const x of a) for (const y of b) if (x.k === y.k && tumble(x.t, 200) === tumble(y.t, 200)) want.push({ k: x.k, left: x.v, right: y.v, start: tumble(x.t, 200) });
    expect(want.length).toBeGreaterThan(100);
    expect(native).toEqual(sortRows(want));
  });

  it('coGroup: once per key and window, with both sides (one may be empty)', async () => {
    const { native } = await onBothEngines(async (engine) =>
      sortRows(
        await collect(engine, (env) =>
          env
            .fromRecords(a, EV, wm(30))
            .coGroup(env.fromRecords(b, EV, wm(50)))
            .where('k')
            .equalTo('k')
            .window(TumblingEventTimeWindows.of(500))
            .apply((xs, ys, w) => [{ k: (xs[0] ?? ys[0])!.k, left: xs.length, right: ys.length, start: w.start }], { k: 'i64', left: 'i32', right: 'i32', start: 'timestamp' }),
        ),
      ),
    );
    const want = new Map<string, Row>();
    for (const [side, list] of [['left', a], ['right', b]] as const) {
      for (const e of list) {
        const key = `${e.k}|${tumble(e.t, 500)}`;
        const row = want.get(key) ?? { k: e.k, left: 0, right: 0, start: tumble(e.t, 500) };
        (row[side] as number)++;
        want.set(key, row);
      }
    }
    expect(native).toEqual(sortRows([...want.values()]));
  });

  it('session window join: sessions formed per key from both inputs together, every pair within one session', async () => {
    const gap = 25;
    const { native } = await onBothEngines(async (engine) =>
      sortRows(
        await collect(engine, (env) =>
          env
            .fromRecords(a, EV, wm(30))
            .join(env.fromRecords(b, EV, wm(50)))
            .where('k')
            .equalTo('k')
            .window(EventTimeSessionWindows.withGap(gap))
            .apply((x, y, w) => ({ k: x.k, left: x.v, right: y.v, start: w.start, end: w.end }), { k: 'i64', left: 'i64', right: 'i64', start: 'timestamp', end: 'timestamp' }),
        ),
      ),
    );
    // Independent computation: per key, sort both sides' times, cut where the next time is past last + gap.
    const want: Row[] = [];
    for (let k = 0; k < 20; k++) {
      const evs = [...a.filter((e) => e.k === k).map((e) => ({ e, side: 0 })), ...b.filter((e) => e.k === k).map((e) => ({ e, side: 1 }))].sort((x, y) => x.e.t - y.e.t);
      let session: typeof evs = [];
      const flush = () => {
        if (session.length === 0) return;
        const start = session[0]!.e.t;
        const end = Math.max(...session.map((x) => x.e.t)) + gap;
        for (const x of session) for (const y of session) if (x.side === 0 && y.side === 1) want.push({ k, left: x.e.v, right: y.e.v, start, end });
      };
      for (const ev of evs) {
        if (session.length > 0 && ev.e.t > Math.max(...session.map((x) => x.e.t)) + gap) {
          flush();
          session = [];
        }
        session.push(ev);
      }
      flush();
    }
    expect(want.length).toBeGreaterThan(100);
    expect(native).toEqual(sortRows(want));
  });

  it('interval join: right records within [t - 20, t + 10] of each left record, against a nested loop', async () => {
    const { native } = await onBothEngines(async (engine) =>
      sortRows(
        await collect(engine, (env) =>
          env
            .fromRecords(a, EV, wm(30))
            .keyBy('k')
            .intervalJoin(env.fromRecords(b, EV, wm(50)).keyBy('k'))
            .between(-20, 10)
            .process((x, y, ctx) => ({ k: x.k, left: x.v, right: y.v, lt: ctx.leftTimestamp, rt: ctx.rightTimestamp }), { k: 'i64', left: 'i64', right: 'i64', lt: 'timestamp', rt: 'timestamp' }),
        ),
      ),
    );
    const want: Row[] = [];
    for (const x of a) for (const y of b) if (x.k === y.k && y.t >= x.t - 20 && y.t <= x.t + 10) want.push({ k: x.k, left: x.v, right: y.v, lt: x.t, rt: y.t });
    expect(want.length).toBeGreaterThan(50);
    expect(native).toEqual(sortRows(want));
  });
});

describe('user window functions', () => {
  const evs = events(3000, 3, 15, 2, 40);

  it('reduce, aggregate(AggregateFunction) and process on tumbling windows, against a grouping', async () => {
    const groups = new Map<string, Ev[]>();
    for (const e of evs) {
      const key = `${e.k}|${tumble(e.t, 250)}`;
      groups.set(key, [...(groups.get(key) ?? []), e]);
    }
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 100 });
      const keyed = env.fromRecords(evs, EV, wm(40)).keyBy('k').window(TumblingEventTimeWindows.of(250));
      const reduced = new CollectSink();
      const aggregated = new CollectSink();
      const processed = new CollectSink();
      keyed.reduce((x, y) => ({ k: x.k, v: Math.max(x.v, y.v), t: Math.min(x.t, y.t) })).sinkTo(reduced);
      keyed
        .aggregate(
          {
            createAccumulator: () => ({ n: 0, sum: 0 }),
            add: (e: Ev, acc: { n: number; sum: number }) => ({ n: acc.n + 1, sum: acc.sum + e.v }),
            getResult: (acc: { n: number; sum: number }) => ({ n: acc.n, mean: acc.sum / acc.n }),
            merge: (x: { n: number; sum: number }, y: { n: number; sum: number }) => ({ n: x.n + y.n, sum: x.sum + y.sum }),
          },
          { n: 'i32', mean: 'f64' },
        )
        .sinkTo(aggregated);
      keyed.process((key, w, records) => [{ k: key as number, start: w.start, end: w.end, count: records.length }], { k: 'i64', start: 'timestamp', end: 'timestamp', count: 'i32' }).sinkTo(processed);
      await env.execute();
      return { reduced: sortRows(reduced.records), aggregated: sortRows(aggregated.records), processed: sortRows(processed.records) };
    });
    const rows = [...groups.entries()].map(([key, list]) => ({ k: list[0]!.k, start: Number(key.split('|')[1]), list }));
    expect(native.reduced).toEqual(sortRows(rows.map((g) => ({ k: g.k, v: Math.max(...g.list.map((e) => e.v)), t: Math.min(...g.list.map((e) => e.t)), windowStart: g.start, windowEnd: g.start + 250 }))));
    expect(native.aggregated).toEqual(sortRows(rows.map((g) => ({ n: g.list.length, mean: g.list.reduce((s, e) => s + e.v, 0) / g.list.length, windowStart: g.start, windowEnd: g.start + 250 }))));
    expect(native.processed).toEqual(sortRows(rows.map((g) => ({ k: g.k, start: g.start, end: g.start + 250, count: g.list.length }))));
  });
});

describe('found in review', () => {
  const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
  type Ev = { k: number; v: number; t: number };
  const rows: Ev[] = Array.from({ length: 10 }, (_, i) => ({ k: i % 2, v: i, t: i * 10 }));
  const wm = () => WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t');


  // Regressions found in review: each case failed before its fix.
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

  it('joins accept only real window assigners; inputs must share one environment', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const other = StreamEnvironment.create({ engine: 'ts' });
    const a = env.fromRecords(rows, SCHEMA, wm());
    expect(() => a.join(a).where('k').equalTo('k').window({ sizeMs: 0, offsetMs: 0, describe: () => 'x' } as never)).toThrow(/a window join takes event-time windows: TumblingEventTimeWindows/);
    expect(() => a.union(other.fromRecords(rows, SCHEMA, wm()))).toThrow('Union: every input must come from the same StreamEnvironment');
  });
});
