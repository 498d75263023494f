// KeyedProcessFunction: keyed state of every kind, event- and processing-time timers, TTL.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  CollectSink,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  runJob,
  Schema,
  StreamEnvironment,
  ValueStateDescriptor,
  batchFromRecords,
  WatermarkStrategy,
  type AggregatingState,
  type KeyedProcessFunction,
  type ListState,
  type MapState,
  type ReducingState,
  type Source,
  type ValueState,
} from '../../ts/index.js';
import { KeyedStateStore } from '../../ts/runtime/state.js';
import { ENGINES } from '../engines.js';

async function rows(how: string, engine: 'native' | 'ts', parallelism: number, events = 60_000): Promise<string[]> {
  const out = join(tmpdir(), `sluice-process-${process.pid}-${how}-${engine}-${parallelism}.jsonl`);
  rmSync(out, { force: true });
  await runJob(new URL('../fixtures/jobs/process.ts', import.meta.url), { engine, parallelism, args: [how, out, String(events)] });
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  rmSync(out, { force: true });
  // The built-in aggregation names its columns in its own order: compare as sorted objects.
  return lines.map((l) => {
    const r = JSON.parse(l) as Record<string, unknown>;
    return JSON.stringify(Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]])));
  }).sort();
}

describe('KeyedProcessFunction with MapState and event-time timers', () => {
  it('gives the rows of the built-in tumbling window aggregation, on both engines, at parallelism 1 and 2', async () => {
    const expected = await rows('window', 'native', 1);
    expect(expected.length).toBeGreaterThan(1000);
    for (const engine of ENGINES) {
      expect(await rows('process', engine, 1)).toEqual(expected);
      expect(await rows('process', engine, 2)).toEqual(expected);
    }
  });
});

type Ev = { user: string; n: number; ts: number };
const evSchema = Schema.from({ user: 'utf8', n: 'i64', ts: 'timestamp' });

/** A source of the given records, in batches of `per`, pausing `pauseMs` between batches. */
function listSource(records: Ev[], per: number, pauseMs = 0): Source<Ev> {
  return {
    name: 'list',
    schema: evSchema,
    hasEventTime: false,
    supportsProjection: false,
    open: () => {
      let at = 0;
      return {
        next: async () => {
          if (at >= records.length) return null;
          if (pauseMs > 0 && at > 0) await new Promise((r) => setTimeout(r, pauseMs));
          const b = batchFromRecords(records.slice(at, at + per), evSchema);
          at += per;
          return b;
        },
        close: () => {},
      };
    },
  };
}

describe.each(ENGINES)('KeyedProcessFunction (%s engine)', (engine) => {
  it('keeps value, list, map, reducing and aggregating state per key', async () => {
    const env = StreamEnvironment.create({ engine });
    const records: Ev[] = [];
    for (let i = 0; i < 300; i++) records.push({ user: `u${i % 7}`, n: i, ts: 1000 + i });
    let count!: ValueState<number>;
    let recent!: ListState<number>;
    let parity!: MapState<string, number>;
    let max!: ReducingState<number>;
    let avg!: AggregatingState<number, number>;
    const fn: KeyedProcessFunction<string, Ev, object> = {
      open(ctx) {
        count = ctx.getState(new ValueStateDescriptor<number>('count', 0));
        recent = ctx.getListState(new ListStateDescriptor<number>('recent'));
        parity = ctx.getMapState(new MapStateDescriptor<string, number>('parity'));
        max = ctx.getReducingState(new ReducingStateDescriptor<number>('max', (a, b) => Math.max(a, b)));
        avg = ctx.getAggregatingState(
          new AggregatingStateDescriptor<number, [number, number], number>('avg', {
            createAccumulator: () => [0, 0],
            add: (v, [s, c]) => [s + v, c + 1],
            getResult: ([s, c]) => s / c,
            merge: ([a, b], [c, d]) => [a + c, b + d],
          }),
        );
      },
      processElement(r, ctx, out) {
        count.update(count.value()! + 1);
        recent.add(r.n);
        if (recent.get().length > 3) recent.update(recent.get().slice(-3));
        const p = r.n % 2 === 0 ? 'even' : 'odd';
        parity.put(p, (parity.get(p) ?? 0) + 1);
        max.add(r.n);
        avg.add(r.n);
        if (count.value()! % 10 === 0) {
          out.collect({ user: ctx.getCurrentKey(), count: count.value(), recent: recent.get().join(','), even: parity.get('even') ?? 0, max: max.get(), avg: avg.get() });
        }
      },
    };
    const sink = new CollectSink();
    env.fromSource(listSource(records, 16)).keyBy('user').process(fn, { user: 'utf8', count: 'i64', recent: 'utf8', even: 'i64', max: 'i64', avg: 'f64' }).sinkTo(sink);
    await env.execute('state kinds');
    const got = sink.records as { user: string; count: number; recent: string; even: number; max: number; avg: number }[];
    // Reference: the same per-key fold in plain JS.
    const want: typeof got = [];
    const per = new Map<string, number[]>();
    for (const r of records) {
      const ns = [...(per.get(r.user) ?? []), r.n];
      per.set(r.user, ns);
      if (ns.length % 10 === 0) {
        want.push({ user: r.user, count: ns.length, recent: ns.slice(-3).join(','), even: ns.filter((n) => n % 2 === 0).length, max: Math.max(...ns), avg: ns.reduce((a, b) => a + b, 0) / ns.length });
      }
    }
    expect(got).toEqual(want);
  });

  it('fires event-time timers in time order when the watermark passes them, and deleted timers never', async () => {
    const env = StreamEnvironment.create({ engine });
    const records: Ev[] = [];
    for (let i = 0; i < 40; i++) records.push({ user: `u${i % 2}`, n: i, ts: i * 100 });
    const fn: KeyedProcessFunction<string, Ev, { user: string; at: number; wm: number }> = {
      processElement(r, ctx) {
        const ts = ctx.timerService();
        ts.registerEventTimeTimer(r.ts + 250);
        ts.registerEventTimeTimer(r.ts + 250); // once per key and time
        if (r.n % 4 === 1) ts.deleteEventTimeTimer(r.ts + 250);
      },
      onTimer(t, ctx, out) {
        expect(ctx.timeDomain()).toBe('eventTime');
        expect(ctx.timestamp()).toBe(t);
        out.collect({ user: ctx.getCurrentKey(), at: t, wm: ctx.timerService().currentWatermark() });
      },
    };
    const sink = new CollectSink();
    env
      .fromSource(listSource(records, 5), WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('ts'))
      .keyBy('user')
      .process(fn, { user: 'utf8', at: 'timestamp', wm: 'f64' })
      .sinkTo(sink);
    await env.execute('event timers');
    const got = sink.records as { user: string; at: number; wm: number }[];
    const want = records.filter((r) => r.n % 4 !== 1).map((r) => r.ts + 250);
    expect(got.map((g) => g.at)).toEqual(want);
    // Each fired before the watermark passed its time; those fired before the end saw the previous watermark.
    for (const g of got) expect(g.wm).toBeLessThan(g.at);
  });
});

describe.each(ENGINES)('KeyedProcessFunction timers and errors (%s engine)', (engine) => {
  it('fires processing-time timers from the wall clock while the job runs, and counts those left at the end', async () => {
    const env = StreamEnvironment.create({ engine });
    const records: Ev[] = Array.from({ length: 6 }, (_, i) => ({ user: 'a', n: i, ts: i }));
    const fn: KeyedProcessFunction<string, Ev, { n: number; late: number }> = {
      processElement(r, ctx) {
        const now = ctx.timerService().currentProcessingTime();
        // Record 0 asks for a timer in 20 ms (the source pauses 30 ms between records); the last one far away.
        if (r.n === 0) ctx.timerService().registerProcessingTimeTimer(now + 20);
        if (r.n === 5) ctx.timerService().registerProcessingTimeTimer(now + 60_000);
      },
      onTimer(t, ctx, out) {
        expect(ctx.timeDomain()).toBe('processingTime');
        out.collect({ n: 0, late: Date.now() - t });
      },
    };
    const sink = new CollectSink();
    env.fromSource(listSource(records, 1, 30)).keyBy('user').process(fn, { n: 'i64', late: 'f64' }).sinkTo(sink);
    const result = await env.execute('processing timers');
    expect(sink.records.length).toBe(1);
    expect((sink.records[0] as { late: number }).late).toBeGreaterThanOrEqual(0);
    expect(result.operators.find((o) => o.name === 'KeyedProcess')!.unfiredTimers).toBe(1);
  });

  it('fails clearly: an event-time timer without event time; one name for two kinds of state', async () => {
    const env = StreamEnvironment.create({ engine });
    env
      .fromSource(listSource([{ user: 'a', n: 1, ts: 1 }], 1))
      .keyBy('user')
      .process({ processElement: (_r, ctx) => ctx.timerService().registerEventTimeTimer(5) }, { n: 'i64' })
      .sinkTo(new CollectSink());
    await expect(env.execute('no event time')).rejects.toThrow(/registerEventTimeTimer needs event timestamps/);
    const env2 = StreamEnvironment.create({ engine });
    env2
      .fromSource(listSource([{ user: 'a', n: 1, ts: 1 }], 1))
      .keyBy('user')
      .process(
        {
          open(ctx) {
            ctx.getState(new ValueStateDescriptor('x'));
            ctx.getListState(new ListStateDescriptor('x'));
          },
          processElement: () => {},
        },
        { n: 'i64' },
      )
      .sinkTo(new CollectSink());
    await expect(env2.execute('two kinds')).rejects.toThrow(/state 'x' is registered twice, as value and list state/);
    expect(() => StreamEnvironment.create({ engine }).fromSource(listSource([], 1)).keyBy('user').process({} as never, { n: 'i64' })).toThrow(/needs a KeyedProcessFunction/);
  });
});

describe('state time to live', () => {
  it('never returns an expired value; refreshes on read only when asked; expires list items one by one', () => {
    let now = 0;
    const store = new KeyedStateStore(() => now);
    const written = store.value(new ValueStateDescriptor<number>('w').enableTimeToLive({ ttlMs: 100 }));
    const read = store.value(new ValueStateDescriptor<number>('r').enableTimeToLive({ ttlMs: 100, updateType: 'onReadAndWrite' }));
    const list = store.list(new ListStateDescriptor<number>('l').enableTimeToLive({ ttlMs: 100 }));
    store.setCurrentKey('sk', 'k');
    written.update(1);
    read.update(2);
    list.add(1);
    now = 60;
    expect(written.value()).toBe(1);
    expect(read.value()).toBe(2); // restarts its time to live at 60
    list.add(2);
    now = 120;
    expect(written.value()).toBeNull(); // written at 0, reads do not refresh it
    expect(read.value()).toBe(2);
    expect(list.get()).toEqual([2]); // the item added at 0 expired, the one at 60 not
    now = 300;
    expect(read.value()).toBeNull();
    expect(list.get()).toEqual([]);
  });

  it('sweeps expired entries of keys that never come back, so state does not grow without bound', () => {
    let now = 0;
    const store = new KeyedStateStore(() => now);
    const v = store.value(new ValueStateDescriptor<number>('v').enableTimeToLive({ ttlMs: 1000 }));
    const keep = store.value(new ValueStateDescriptor<number>('keep'));
    for (let i = 0; i < 5000; i++) {
      store.setCurrentKey(`s${i}`, `${i}`);
      v.update(i);
      keep.update(i);
    }
    expect(store.size).toBe(10_000);
    now = 2000;
    for (let i = 0; i < 40; i++) store.sweep();
    expect(store.size).toBe(5000); // the values without a time to live stay
    expect(store.expiredCount).toBe(5000);
    expect(store.snapshot().find((s) => s.name === 'v')!.keys).toEqual([]);
  });

  it('a snapshot keeps the times of state with a time to live (and none for state without); a restore goes on from them', () => {
    let now = 0;
    const descriptors = {
      v: new ValueStateDescriptor<number>('v').enableTimeToLive({ ttlMs: 100 }),
      l: new ListStateDescriptor<number>('l').enableTimeToLive({ ttlMs: 100 }),
      m: new MapStateDescriptor<string, number>('m').enableTimeToLive({ ttlMs: 100 }),
      plain: new ValueStateDescriptor<number>('plain'),
      plainList: new ListStateDescriptor<number>('plainList'),
      plainMap: new MapStateDescriptor<string, number>('plainMap'),
    };
    const fill = (store: KeyedStateStore) => ({
      v: store.value(descriptors.v),
      l: store.list(descriptors.l),
      m: store.map(descriptors.m),
      plain: store.value(descriptors.plain),
      plainList: store.list(descriptors.plainList),
      plainMap: store.map(descriptors.plainMap),
    });
    const a = new KeyedStateStore(() => now);
    const s = fill(a);
    a.setCurrentKey(7, 7);
    s.v.update(1);
    s.l.add(1);
    s.m.put('x', 1);
    s.plain.update(5);
    s.plainList.add(5);
    s.plainMap.put('y', 5);
    now = 60;
    s.l.add(2);
    s.m.put('z', 2);
    const snap = structuredClone(a.snapshot());
    expect(snap.find((x) => x.name === 'plain')!.times).toBeNull();
    const b = new KeyedStateStore(() => now);
    const r = fill(b);
    b.restore(snap, () => () => true, (name) => Object.values(descriptors).find((d) => d.name === name)!);
    b.setCurrentKey(7, 7);
    expect([r.v.value(), r.l.get(), r.m.get('x'), r.m.get('z'), r.plain.value(), r.plainList.get(), r.plainMap.get('y')]).toEqual([1, [1, 2], 1, 2, 5, [5], 5]);
    now = 120; // the entries written at 0 expired; those at 60 not
    expect([r.v.value(), r.l.get(), r.m.get('x'), r.m.get('z'), r.plain.value(), r.plainList.get(), r.plainMap.get('y')]).toEqual([null, [2], undefined, 2, 5, [5], 5]);
  });

  it('rejects a bad time to live', () => {
    expect(() => new ValueStateDescriptor('x').enableTimeToLive({ ttlMs: 0 })).toThrow(/ttlMs must be a whole number of ms above 0/);
    expect(() => new ValueStateDescriptor('x').enableTimeToLive({ ttlMs: 5, updateType: 'never' as never })).toThrow(/updateType/);
  });
});
