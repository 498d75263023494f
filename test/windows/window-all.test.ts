import { describe, expect, it } from 'vitest';
import { agg, CollectSink, EventTimeSessionWindows, NexmarkSource, OutputTag, runJob, SlidingEventTimeWindows, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type WindowAssigner } from '../../ts/index.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onBothEngines, rng } from '../engines.js';

const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; v: number; t: number };
const r = rng(11);
// Gaps of up to 40 ms between records, so 30 ms sessions break now and then.
let t = 0;
const evs: Ev[] = Array.from({ length: 2000 }, (_, i) => ({ k: i % 7, v: Math.floor(r() * 1000), t: (t += Math.floor(r() * 40)) }));

/** Windows over all records: [start, end) -> the values, from the assigner's rule. */
function reference(kind: 'tumbling' | 'sliding' | 'session'): { start: number; end: number; n: number; max: number }[] {
  const wins = new Map<string, { start: number; end: number; vs: number[] }>();
  const add = (start: number, end: number, v: number) => {
    const w = wins.get(`${start}`) ?? { start, end, vs: [] };
    w.vs.push(v);
    wins.set(`${start}`, w);
  };
  if (kind === 'session') {
    let cur: { start: number; end: number; vs: number[] } | null = null;
    const out = [];
    for (const e of evs) {
      if (cur !== null && e.t <= cur.end) {
        cur.end = Math.max(cur.end, e.t + 30);
        cur.vs.push(e.v);
      } else {
        if (cur !== null) out.push(cur);
        cur = { start: e.t, end: e.t + 30, vs: [e.v] };
      }
    }
    out.push(cur!);
    return out.map((w) => ({ start: w.start, end: w.end, n: w.vs.length, max: Math.max(...w.vs) }));
  }
  for (const e of evs) {
    if (kind === 'tumbling') add(e.t - (e.t % 100), e.t - (e.t % 100) + 100, e.v);
    else for (let s = e.t - (e.t % 50); s > e.t - 100; s -= 50) add(s, s + 100, e.v);
  }
  return [...wins.values()].sort((a, b) => a.end - b.end).map((w) => ({ start: w.start, end: w.end, n: w.vs.length, max: Math.max(...w.vs) }));
}

describe('windowAll (no key: one result per window)', () => {
  const cases: [string, 'tumbling' | 'sliding' | 'session', WindowAssigner<Ev>][] = [
    ['tumbling', 'tumbling', TumblingEventTimeWindows.of(100)],
    ['sliding', 'sliding', SlidingEventTimeWindows.of(100, 50)],
    ['session', 'session', EventTimeSessionWindows.withGap(30)],
  ];
  for (const [name, kind, assigner] of cases) {
    it(`${name}: built-in aggregates and a process function match a plain computation, on both engines`, async () => {
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 64 });
        const windows = env.fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(assigner);
        const builtIn = new CollectSink();
        const user = new CollectSink();
        windows.aggregate({ n: agg.count(), max: agg.max('v') }).sinkTo(builtIn);
        windows.process((_k, w, rs) => [{ start: w.start, end: w.end, n: rs.length }], { start: 'timestamp', end: 'timestamp', n: 'i64' }).sinkTo(user);
        await env.execute();
        return { builtIn: builtIn.records, user: user.records };
      });
      const want = reference(kind);
      expect(native.builtIn).toEqual(want.map((w) => ({ windowStart: w.start, windowEnd: w.end, n: w.n, max: w.max })));
      expect(native.user).toEqual(want.map((w) => ({ start: w.start, end: w.end, n: w.n })));
    });
  }

  it('explain shows the pre-aggregation chained to the input and a GLOBAL edge to the window', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(TumblingEventTimeWindows.of(10)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
    const text = env.explain();
    expect(text).toContain('--FORWARD--> #2 LocalWindowAggregate(TumblingEventTimeWindows(10 ms) per batch) [n=count()] (p=1) -> { windowStart: timestamp, windowEnd: timestamp, n: i64 }');
    expect(text).toContain('--GLOBAL--> #3 Window(TumblingEventTimeWindows(10 ms)) aggregate [n=count()] (p=1) -> { windowStart: timestamp, windowEnd: timestamp, n: i64 }');
    // A parallel input: one pre-aggregation per subtask, in the subtask's chain.
    const p2 = StreamEnvironment.create({ engine: 'ts', parallelism: 2 });
    p2.fromSource(NexmarkSource.bids({ events: 10 })).windowAll(SlidingEventTimeWindows.of(10_000, 4_000)).aggregate({ n: agg.count(), hi: agg.max('price') }).sinkTo(new CollectSink());
    const text2 = p2.explain();
    expect(text2).toContain('#1 Source: nexmark bids (p=2) [reads price]');
    expect(text2).toContain('--FORWARD--> #2 LocalWindowAggregate(TumblingEventTimeWindows(2000 ms) per batch) [n=count(), hi=max(price)] (p=2) -> ');
    expect(text2).toMatch(/--GLOBAL--> #3 Window\(SlidingEventTimeWindows\(10000 ms, slide 4000 ms\)\) aggregate \[n=count\(\), hi=max\(price\)\] \(p=1\) \[new task\]/);
  });

  it('aggregates that do not combine exactly, late-record side outputs and allowed lateness keep one operator', () => {
    const plan = (build: (w: ReturnType<ReturnType<StreamEnvironment['fromRecords']>['windowAll']>) => { sinkTo(s: CollectSink): unknown }) => {
      const env = StreamEnvironment.create({ engine: 'ts' });
      const w = env.fromRecords(evs, { ...SCHEMA, f: 'f64', q: 'i32' } as const, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(TumblingEventTimeWindows.of(10));
      build(w as never).sinkTo(new CollectSink());
      return env.explain();
    };
    expect(plan((w) => w.aggregate({ s: agg.sum('q') }))).toContain('LocalWindowAggregate');
    // An i64 sum is exact while the window's total fits, which a batch's partial may not.
    expect(plan((w) => w.aggregate({ s: agg.sum('v') }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.aggregate({ s: agg.sum('f') }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.aggregate({ a: agg.avg('v') }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.aggregate({ a: agg.first('v') }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.allowedLateness(5).aggregate({ n: agg.count() }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.sideOutputLateData(new OutputTag('late')).aggregate({ n: agg.count() }))).not.toContain('LocalWindowAggregate');
    expect(plan((w) => w.aggregate({ n: agg.count() }))).toContain('LocalWindowAggregate');
  });

  for (const [name, assigner] of [
    ['tumbling', TumblingEventTimeWindows.of(3_000)],
    ['sliding', SlidingEventTimeWindows.of(10_000, 4_000)],
  ] as const) {
    it(`${name}: in two phases at parallelism 1 and 2, the results of one operator over every record, on both engines`, async () => {
      const run = async (engine: 'native' | 'ts', parallelism: number) => {
        const dir = mkdtempSync(join(tmpdir(), 'sluice-window-all-'));
        const [twoPhase, reference] = [join(dir, 'two-phase.jsonl'), join(dir, 'reference.jsonl')];
        const r = await runJob(new URL('../fixtures/jobs/window-all.ts', import.meta.url), { engine, parallelism, batchSize: 1000, args: [name, twoPhase, reference] });
        const rows = (f: string) =>
          readFileSync(f, 'utf8')
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as { windowStart: number })
            .sort((a, b) => a.windowStart - b.windowStart);
        const out = { twoPhase: rows(twoPhase), reference: rows(reference), late: r.lateRecordsDropped };
        rmSync(dir, { recursive: true });
        return out;
      };
      const { native } = await onBothEngines(async (engine) => {
        const p1 = await run(engine, 1);
        expect(await run(engine, 2)).toEqual(p1);
        return p1;
      });
      expect(native.twoPhase.length).toBeGreaterThan(8);
      expect(native.twoPhase).toEqual(native.reference);
    });
  }

  it('an i64 sum whose running total leaves i64 within the window is exact, as in one operator', async () => {
    // Batches of 2: 2^62 + 2^62 in the first (beyond i64 on its own), -2^62 and -2^62 + 5 in the second.
    const big = [
      { k: 1, v: 2n ** 62n, t: 1 },
      { k: 1, v: 2n ** 62n, t: 2 },
      { k: 1, v: -(2n ** 62n), t: 3 },
      { k: 1, v: 5n - 2n ** 62n, t: 4 },
    ];
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 2 });
      const out = new CollectSink();
      env
        .fromRecords(big, { k: 'i64', v: 'i64', t: 'timestamp' }, WatermarkStrategy.forMonotonousTimestamps<(typeof big)[number]>().withTimestampAssigner('t'))
        .windowAll(TumblingEventTimeWindows.of(10))
        .aggregate({ s: agg.sum('v') })
        .sinkTo(out);
      await env.execute();
      return out.records;
    });
    expect(native).toEqual([{ windowStart: 0, windowEnd: 10, s: 5 }]);
  });

  it('late records are counted as records, not as the partial rows that carry them', async () => {
    // Batches of 2 and a monotonous watermark: after [1000, 12000] windows ending by 12000 have
    // fired, so the next batch's two records (one partial row) are late for [0, 10000).
    const late: Ev[] = [
      { k: 1, v: 1, t: 1000 },
      { k: 1, v: 2, t: 12000 },
      { k: 1, v: 3, t: 5000 },
      { k: 2, v: 4, t: 5001 },
      { k: 2, v: 5, t: 13000 },
      { k: 1, v: 6, t: 14000 },
    ];
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 2 });
      const out = new CollectSink();
      env.fromRecords(late, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(TumblingEventTimeWindows.of(10_000)).aggregate({ hi: agg.max('v') }).sinkTo(out);
      expect(env.explain()).toContain('LocalWindowAggregate');
      const r = await env.execute();
      return { rows: out.records, dropped: r.lateRecordsDropped };
    });
    expect(native).toEqual({
      rows: [
        { windowStart: 0, windowEnd: 10_000, hi: 1 },
        { windowStart: 10_000, windowEnd: 20_000, hi: 6 },
      ],
      dropped: 2,
    });
  });
  it('a window over all records in one operator drops and counts late records, several in a slice of one batch', async () => {
    // avg keeps one operator. Batches of 4, a monotonous watermark: after the first batch
    // [0, 10000) has fired, so three records of the second batch and two of the third are late.
    const ts = [1000, 12000, 2000, 3000, 5000, 5001, 6000, 13000, 4000, 14000, 9999, 15000];
    const recs: Ev[] = ts.map((t, i) => ({ k: 1, v: i, t }));
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine, batchSize: 4 });
      const out = new CollectSink();
      env.fromRecords(recs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(TumblingEventTimeWindows.of(10_000)).aggregate({ mean: agg.avg('v') }).sinkTo(out);
      expect(env.explain()).not.toContain('LocalWindowAggregate');
      const r = await env.execute();
      return { rows: out.records, dropped: r.lateRecordsDropped };
    });
    expect(native).toEqual({
      rows: [
        { windowStart: 0, windowEnd: 10_000, mean: (0 + 2 + 3) / 3 },
        { windowStart: 10_000, windowEnd: 20_000, mean: (1 + 7 + 9 + 11) / 4 },
      ],
      dropped: 5,
    });
  });
});
