import { describe, expect, it } from 'vitest';
import { agg, CollectSink, EventTimeSessionWindows, SlidingEventTimeWindows, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type WindowAssigner } from '../ts/index.js';
import { onBothEngines, rng } from './engines.js';

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

  it('explain shows a GLOBAL edge', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    env.fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t')).windowAll(TumblingEventTimeWindows.of(10)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
    expect(env.explain()).toContain('--GLOBAL--> #2 Window(TumblingEventTimeWindows(10 ms))');
  });
});
