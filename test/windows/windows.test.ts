/**
 * Sliding and session windows and the first/last/countDistinct aggregates, on both engines,
 * against a straightforward independent computation (Flink's assignWindows loop for sliding
 * windows, sort-and-merge per key for sessions). Rows must match exactly, in the documented
 * order: by window end, then start, then the first arrival of the key in the window.
 */

import { describe, expect, it } from 'vitest';
import { agg, CollectSink, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type EngineName, type RecordBatch, EventTimeSessionWindows, SlidingEventTimeWindows, type WindowAssigner, NexmarkSource, OutputTag, type Bid } from '../../ts/index.js';
import { onBothEngines, rng } from '../engines.js';

describe('tumbling windows', () => {
  const SCHEMA = { key: 'i64', name: 'utf8', price: 'f64', qty: 'i32?', ts: 'timestamp' } as const;
  type Ev = { key: number; name: string; price: number; qty: number | null; ts: number };

  /** Random events whose timestamps are out of order by at most `bound` ms. */
  function events(n: number, keys: number, bound: number, seed: number): Ev[] {
    const r = rng(seed);
    const out: Ev[] = [];
    for (let i = 0; i < n; i++) {
      const key = Math.floor(r() * keys);
      out.push({
        key,
        name: `n${key % 7}`,
        price: Math.round(r() * 1e6) / 100,
        qty: r() < 0.2 ? null : Math.floor(r() * 200) - 50,
        ts: 1_700_000_000_000 + i * 7 - Math.floor(r() * (bound + 1)),
      });
    }
    return out;
  }

  interface Agg {
    n: number;
    total: number;
    hi: number;
    lowQty: number | null;
    sumQty: number | null;
    avgQty: number | null;
  }

  /** Independent computation: a Map per (window, key), rows in input order. */
  function reference(evs: Ev[], size: number, key: (e: Ev) => string): Map<string, Agg> {
    const m = new Map<string, Agg & { qn: number }>();
    for (const e of evs) {
      const start = e.ts - (((e.ts % size) + size) % size);
      const k = `${start}|${key(e)}`;
      let a = m.get(k);
      if (a === undefined) {
        a = { n: 0, total: 0, hi: -Infinity, lowQty: null, sumQty: null, avgQty: null, qn: 0 };
        m.set(k, a);
      }
      a.n++;
      a.total += e.price;
      a.hi = Math.max(a.hi, e.price);
      if (e.qty !== null) {
        a.lowQty = a.lowQty === null ? e.qty : Math.min(a.lowQty, e.qty);
        a.sumQty = (a.sumQty ?? 0) + e.qty;
        a.qn++;
      }
    }
    const out = new Map<string, Agg>();
    for (const [k, a] of m) {
      out.set(k, { n: a.n, total: a.total, hi: a.hi, lowQty: a.lowQty, sumQty: a.sumQty, avgQty: a.qn === 0 ? null : a.sumQty! / a.qn });
    }
    return out;
  }

  async function runWindow(engine: EngineName, evs: Ev[], keyBy: 'key' | 'name' | ['name', 'key'], size: number, bound: number, batchSize: number) {
    const env = StreamEnvironment.create({ engine, batchSize });
    const sink = new CollectSink();
    env
      .fromRecords(evs, SCHEMA, WatermarkStrategy.forBoundedOutOfOrderness<Ev>(bound).withTimestampAssigner('ts'))
      .keyBy(keyBy as 'key')
      .window(TumblingEventTimeWindows.of(size))
      .aggregate({ n: agg.count(), total: agg.sum('price'), hi: agg.max('price'), lowQty: agg.min('qty'), sumQty: agg.sum('qty'), avgQty: agg.avg('qty') })
      .sinkTo(sink);
    const result = await env.execute('window test');
    return { rows: sink.records, late: result.lateRecordsDropped, windowIn: result.operators.find((o) => o.name.startsWith('Window'))!.recordsIn };
  }

  describe('keyed tumbling event-time windows', () => {
    const cases: [string, 'key' | 'name' | ['name', 'key'], (e: Ev) => string][] = [
      ['an i64 field', 'key', (e) => String(e.key)],
      ['a utf8 field', 'name', (e) => e.name],
      ['two fields', ['name', 'key'], (e) => `${e.name}/${e.key}`],
    ];
    for (const [what, keyBy, keyOf] of cases) {
      it(`match an independent computation, keyed by ${what}, on both engines (property test)`, async () => {
        for (const seed of [1, 2, 3]) {
          const r = rng(seed * 99);
          const bound = Math.floor(r() * 500);
          const size = [100, 1000, 5000][seed - 1]!;
          const evs = events(3000 + Math.floor(r() * 5000), 1 + Math.floor(r() * 300), bound, seed);
          const batchSize = 1 + Math.floor(r() * 2000);
          const { native } = await onBothEngines((engine) => runWindow(engine, evs, keyBy, size, bound, batchSize));
          expect(native.late).toBe(0); // out-of-orderness within the bound is never late
          expect(native.windowIn).toBe(evs.length);
          const want = reference(evs, size, keyOf);
          expect(native.rows.length).toBe(want.size);
          for (const row of native.rows as Record<string, unknown>[]) {
            const k = Array.isArray(keyBy) ? `${String(row.name)}/${String(row.key)}` : String(row[keyBy]);
            const w = want.get(`${String(row.windowStart)}|${k}`);
            expect(w, `group ${k} @ ${String(row.windowStart)}`).toBeDefined();
            expect(row.windowEnd).toBe((row.windowStart as number) + size);
            expect({ n: row.n, total: row.total, hi: row.hi, lowQty: row.lowQty, sumQty: row.sumQty, avgQty: row.avgQty }).toEqual(w);
          }
          // Windows come out in order of their start.
          const starts = native.rows.map((r) => (r as { windowStart: number }).windowStart);
          expect([...starts].sort((a, b) => a - b)).toEqual(starts);
        }
      });
    }

    it('count late records instead of losing them silently', async () => {
      // Batches of 2: the watermark after [a@1000, b@12000] is 12000 - 0 - 1, so window [0, 10000) fires
      // and c@5000 in the next batch is late.
      const evs: Ev[] = [
        { key: 1, name: 'a', price: 1, qty: 1, ts: 1000 },
        { key: 1, name: 'b', price: 2, qty: 1, ts: 12000 },
        { key: 1, name: 'c', price: 3, qty: 1, ts: 5000 },
        { key: 2, name: 'd', price: 4, qty: 1, ts: 13000 },
      ];
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 2 });
        const sink = new CollectSink();
        env
          .fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('ts'))
          .keyBy('key')
          .window(TumblingEventTimeWindows.of(10_000))
          .aggregate({ n: agg.count(), total: agg.sum('price') })
          .sinkTo(sink);
        const result = await env.execute();
        return { rows: sink.records, late: result.lateRecordsDropped };
      });
      expect(native.late).toBe(1);
      expect(native.rows).toEqual([
        { key: 1, windowStart: 0, windowEnd: 10000, n: 1, total: 1 },
        { key: 1, windowStart: 10000, windowEnd: 20000, n: 1, total: 2 },
        { key: 2, windowStart: 10000, windowEnd: 20000, n: 1, total: 4 },
      ]);
    });

    it('keep i64 keys and sums exact beyond 2^53 on both engines', async () => {
      const big = 2n ** 60n;
      const evs = [
        { k: big + 1n, v: 2n ** 61n, t: 5 },
        { k: big + 2n, v: 1n, t: 6 },
        { k: big + 1n, v: 2n ** 61n + 3n, t: 7 },
        { k: big + 1n, v: -5n, t: 8 },
      ];
      const schema = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
      const read = (b: RecordBatch) => {
        const k = b.columns[0]!.values as BigInt64Array;
        const s = b.columns[3]!.values as BigInt64Array;
        const mn = b.columns[4]!.values as BigInt64Array;
        const mx = b.columns[5]!.values as BigInt64Array;
        return Array.from({ length: b.length }, (_, i) => [k[i], s[i], mn[i], mx[i]]);
      };
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine });
        const sink = new CollectSink();
        env
          .fromRecords(evs as never, schema, WatermarkStrategy.noWatermarks<never>().withTimestampAssigner('t' as never))
          .keyBy('k')
          .window(TumblingEventTimeWindows.of(100))
          .aggregate({ s: agg.sum('v'), lo: agg.min('v'), hi: agg.max('v') })
          .sinkTo(sink);
        await env.execute();
        return sink.batches.flatMap(read);
      });
      expect(native).toEqual([
        [big + 1n, 2n ** 62n + 3n - 5n, -5n, 2n ** 61n + 3n],
        [big + 2n, 1n, 1n, 1n],
      ]);
    });

    it('reject an i64 sum that overflows instead of wrapping', async () => {
      for (const engine of ['native', 'ts'] as const) {
        const env = StreamEnvironment.create({ engine });
        env
          .fromRecords([{ k: 1, v: 2n ** 62n, t: 1 }, { k: 1, v: 2n ** 62n, t: 2 }] as never, { k: 'i32', v: 'i64', t: 'timestamp' } as const, WatermarkStrategy.noWatermarks<never>().withTimestampAssigner('t' as never))
          .keyBy('k')
          .window(TumblingEventTimeWindows.of(10))
          .aggregate({ s: agg.sum('v') })
          .sinkTo(new CollectSink());
        await expect(env.execute('overflow')).rejects.toThrow(/does not fit in i64/);
      }
    });

    it('refuse to round an i64 beyond 2^53 into a JavaScript number', async () => {
      const env = StreamEnvironment.create({ engine: 'ts' });
      env
        .fromRecords([{ id: 2n ** 60n }] as never, { id: 'i64' } as const)
        .map((r) => r)
        .sinkTo(new CollectSink());
      await expect(env.execute()).rejects.toThrow(/outside ±2\^53/);
    });
  });
});

describe('sliding and session windows', () => {
  const SCHEMA = { key: 'i64', name: 'utf8?', price: 'f64', qty: 'i32?', flag: 'bool', ts: 'timestamp' } as const;
  type Ev = { key: number; name: string | null; price: number; qty: number | null; flag: boolean; ts: number };

  /** Random events out of order by at most `bound` ms; timestamps are even when `even`. */
  function events(n: number, keys: number, step: number, bound: number, seed: number, even = false): Ev[] {
    const r = rng(seed);
    const out: Ev[] = [];
    for (let i = 0; i < n; i++) {
      const key = Math.floor(r() * keys);
      let ts = 1_700_000_000_000 + i * step - Math.floor(r() * (bound + 1));
      if (even) ts -= ts % 2;
      out.push({
        key,
        name: r() < 0.15 ? null : `n${Math.floor(r() * 6)}`,
        // Multiples of 1/4: every sum is exact in any order.
        price: Math.floor(r() * 4000) / 4,
        qty: r() < 0.2 ? null : Math.floor(r() * 200) - 50,
        flag: r() < 0.5,
        ts,
      });
    }
    return out;
  }

  const AGGS = {
    n: agg.count(),
    nq: agg.count('qty'),
    total: agg.sum('price'),
    hi: agg.max('price'),
    lowQty: agg.min('qty'),
    avgQty: agg.avg('qty'),
    firstName: agg.first('name'),
    lastName: agg.last('name'),
    names: agg.countDistinct('name'),
    lastQty: agg.last('qty'),
    firstFlag: agg.first('flag'),
    lastTs: agg.last('ts'),
    prices: agg.countDistinct('price'),
  } as const;

  type Row = Record<string, unknown>;

  /** The aggregates of records `evs` (in arrival order), computed plainly. */
  function aggregateOf(evs: Ev[]): Row {
    const nn = <T>(xs: (T | null)[]) => xs.filter((x): x is T => x !== null);
    const qty = nn(evs.map((e) => e.qty));
    const names = nn(evs.map((e) => e.name));
    return {
      n: evs.length,
      nq: qty.length,
      total: evs.reduce((s, e) => s + e.price, 0),
      hi: Math.max(...evs.map((e) => e.price)),
      lowQty: qty.length === 0 ? null : Math.min(...qty),
      avgQty: qty.length === 0 ? null : qty.reduce((s, x) => s + x, 0) / qty.length,
      firstName: names[0] ?? null,
      lastName: names.at(-1) ?? null,
      names: new Set(names).size,
      lastQty: qty.at(-1) ?? null,
      firstFlag: evs[0]!.flag,
      lastTs: evs.at(-1)!.ts,
      prices: new Set(evs.map((e) => e.price)).size,
    };
  }

  type KeyBy = 'key' | ['name', 'key'];
  const keyOf = (keyBy: KeyBy, e: Ev): Row => (keyBy === 'key' ? { key: e.key } : { name: e.name, key: e.key });

  /** Rows in the documented order: window end, start, first arrival of the key in the window. */
  function ordered(groups: Map<string, { key: Row; start: number; end: number; evs: Ev[]; first: number }>): Row[] {
    return [...groups.values()]
      .sort((a, b) => a.end - b.end || a.start - b.start || a.first - b.first)
      .map((g) => ({ ...g.key, windowStart: g.start, windowEnd: g.end, ...aggregateOf(g.evs) }));
  }

  /** Flink's SlidingEventTimeWindows.assignWindows, then one group per (window, key). */
  function slidingReference(evs: Ev[], keyBy: KeyBy, size: number, slide: number, offset: number): Row[] {
    const groups = new Map<string, { key: Row; start: number; end: number; evs: Ev[]; first: number }>();
    evs.forEach((e, i) => {
      const lastStart = e.ts - ((((e.ts - offset) % slide) + slide) % slide);
      for (let start = lastStart; start > e.ts - size; start -= slide) {
        const key = keyOf(keyBy, e);
        const id = `${start}|${JSON.stringify(key)}`;
        let g = groups.get(id);
        if (g === undefined) groups.set(id, (g = { key, start, end: start + size, evs: [], first: i }));
        g.evs.push(e);
      }
    });
    return ordered(groups);
  }

  /** Per key: windows [ts, ts + gap) sorted by start, merged while they touch or overlap. */
  function sessionReference(evs: Ev[], keyBy: KeyBy, gapOf: (e: Ev) => number): Row[] {
    const byKey = new Map<string, { e: Ev; i: number }[]>();
    evs.forEach((e, i) => {
      const id = JSON.stringify(keyOf(keyBy, e));
      if (!byKey.has(id)) byKey.set(id, []);
      byKey.get(id)!.push({ e, i });
    });
    const groups = new Map<string, { key: Row; start: number; end: number; evs: Ev[]; first: number }>();
    for (const [id, list] of byKey) {
      const sorted = [...list].sort((a, b) => a.e.ts - b.e.ts || a.i - b.i);
      let cur: { start: number; end: number; members: { e: Ev; i: number }[] } | null = null;
      const flush = () => {
        if (cur === null) return;
        const members = cur.members.sort((a, b) => a.i - b.i);
        groups.set(`${id}|${cur.start}`, { key: keyOf(keyBy, members[0]!.e), start: cur.start, end: cur.end, evs: members.map((m) => m.e), first: members[0]!.i });
      };
      for (const m of sorted) {
        const end = m.e.ts + gapOf(m.e);
        if (cur !== null && m.e.ts <= cur.end) {
          cur.end = Math.max(cur.end, end);
          cur.members.push(m);
        } else {
          flush();
          cur = { start: m.e.ts, end, members: [m] };
        }
      }
      flush();
    }
    return ordered(groups);
  }

  async function run(engine: EngineName, evs: Ev[], keyBy: KeyBy, assigner: WindowAssigner<Ev>, bound: number, batchSize: number) {
    const env = StreamEnvironment.create({ engine, batchSize });
    const sink = new CollectSink();
    env
      .fromRecords(evs, SCHEMA, WatermarkStrategy.forBoundedOutOfOrderness<Ev>(bound).withTimestampAssigner('ts'))
      .keyBy(keyBy as 'key')
      .window(assigner)
      .aggregate(AGGS)
      .sinkTo(sink);
    const result = await env.execute('windows test');
    return { rows: sink.records as Row[], late: result.lateRecordsDropped };
  }

  describe('sliding event-time windows', () => {
    const combos: [size: number, slide: number, offset: number][] = [
      [1000, 250, 0],
      [1000, 300, 70], // the slide does not divide the size: slices of 100 ms
      [700, 700, -200], // slide = size: tumbling
      [5000, 1500, -1400],
      [90, 40, 13],
    ];
    combos.forEach(([size, slide, offset], c) => {
      for (const keyBy of ['key', ['name', 'key']] as KeyBy[]) {
        it(`size ${size}, slide ${slide}, offset ${offset}, keyed by ${String(keyBy)}: match Flink's window assignment on both engines (property test)`, async () => {
          const r = rng(1000 + c * 7 + (keyBy === 'key' ? 0 : 3));
          const bound = Math.floor(r() * 400);
          const evs = events(1500 + Math.floor(r() * 1500), 1 + Math.floor(r() * 60), 1 + Math.floor(r() * 9), bound, c * 31 + 5);
          const batchSize = 1 + Math.floor(r() * 700);
          const { native } = await onBothEngines((engine) => run(engine, evs, keyBy, SlidingEventTimeWindows.of(size, slide, offset), bound, batchSize));
          expect(native.late).toBe(0); // out-of-orderness within the bound is never late
          expect(native.rows).toEqual(slidingReference(evs, keyBy, size, slide, offset));
        });
      }
    });

    // Few keys and small batches: runs of one key in the same windows (which the user-function
    // window operator serves from the panes it found for the run's first record) and runs broken
    // by a new key, a new window, or a batch end.
    for (const [size, slide] of [
      [1000, 250],
      [1000, 300],
      [500, 500],
    ] as const) {
      it(`size ${size}, slide ${slide}: user functions (process, reduce, AggregateFunction) see the records the built-in aggregation counts`, async () => {
        const evs = events(3000, 3, 7, 200, size + slide);
        const { native } = await onBothEngines(async (engine) => {
          const env = StreamEnvironment.create({ engine, batchSize: 97 });
          const windows = env.fromRecords(evs, SCHEMA, WatermarkStrategy.forBoundedOutOfOrderness<Ev>(200).withTimestampAssigner('ts')).keyBy('key').window(SlidingEventTimeWindows.of(size, slide));
          const [builtIn, processed, reduced, aggregated] = [new CollectSink(), new CollectSink(), new CollectSink(), new CollectSink()];
          windows.aggregate({ n: agg.count(), total: agg.sum('price') }).sinkTo(builtIn);
          windows.process((key, w, rs) => [{ key: key as number, windowStart: w.start, windowEnd: w.end, n: rs.length, total: rs.reduce((a, b) => a + b.price, 0) }], { key: 'i64', windowStart: 'timestamp', windowEnd: 'timestamp', n: 'i64', total: 'f64' }).sinkTo(processed);
          windows.reduce((a, b) => ({ ...a, price: a.price + b.price })).sinkTo(reduced);
          windows
            .aggregate<{ n: number }, { n: number }>({ createAccumulator: () => ({ n: 0 }), add: (_r, a) => ({ n: a.n + 1 }), getResult: (a) => a, merge: (a, b) => ({ n: a.n + b.n }) }, { n: 'i64' })
            .sinkTo(aggregated);
          await env.execute();
          const order = (a: { windowStart: number; key: number }, b: { windowStart: number; key: number }) => a.windowStart - b.windowStart || a.key - b.key;
          type W = { key: number; windowStart: number; windowEnd: number; n: number; total: number };
          const want = (builtIn.records as W[]).map((w) => ({ key: w.key, windowStart: w.windowStart, windowEnd: w.windowEnd, n: w.n, total: w.total })).sort(order);
          expect((processed.records as W[]).sort(order)).toEqual(want);
          expect((reduced.records as (Ev & { windowStart: number })[]).map((w) => [w.key, w.windowStart, w.price]).sort()).toEqual(want.map((w) => [w.key, w.windowStart, w.total]).sort());
          expect((aggregated.records as { n: number; windowStart: number }[]).map((w) => [w.windowStart, w.n]).sort()).toEqual(want.map((w) => [w.windowStart, w.n]).sort());
          return want;
        });
        expect(native.length).toBeGreaterThan(30);
      });
    }

    it('stay exact with many short-lived keys (state compaction), on both engines', async () => {
      for (const keyBy of ['key', ['name', 'key']] as KeyBy[]) {
        const evs = events(8000, 4000, 1, 30, 99);
        const { native } = await onBothEngines((engine) => run(engine, evs, keyBy, SlidingEventTimeWindows.of(100, 40, 7), 30, 512));
        expect(native.late).toBe(0);
        expect(native.rows).toEqual(slidingReference(evs, keyBy, 100, 40, 7));
      }
    });

    it('skip windows that were complete before a record arrived, and count records whose every window fired', async () => {
      // Batches of one record, watermark = highest timestamp - 1.
      const evs = [3, 17, 12, 4].map((ts) => ({ key: 1, name: null, price: ts, qty: null, flag: false, ts }));
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 1 });
        const sink = new CollectSink();
        env
          .fromRecords(evs, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('ts'))
          .keyBy('key')
          .window(SlidingEventTimeWindows.of(10, 5))
          .aggregate({ n: agg.count(), total: agg.sum('price') })
          .sinkTo(sink);
        const result = await env.execute();
        return { rows: sink.records, late: result.lateRecordsDropped };
      });
      // 12 arrives at watermark 16: [5, 15) is complete, so 12 only counts in [10, 20); 4 is late
      // for both of its windows.
      expect(native.late).toBe(1);
      expect(native.rows).toEqual([
        { key: 1, windowStart: -5, windowEnd: 5, n: 1, total: 3 },
        { key: 1, windowStart: 0, windowEnd: 10, n: 1, total: 3 },
        { key: 1, windowStart: 10, windowEnd: 20, n: 2, total: 29 },
        { key: 1, windowStart: 15, windowEnd: 25, n: 1, total: 17 },
      ]);
    });
  });

  describe('session windows', () => {
    for (const keyBy of ['key', ['name', 'key']] as KeyBy[]) {
      it(`with a fixed gap, keyed by ${String(keyBy)}: match sort-and-merge sessions on both engines, incl. out-of-order records bridging sessions (property test)`, async () => {
        for (const seed of [1, 2, 3]) {
          const r = rng(seed * 77 + (keyBy === 'key' ? 0 : 1));
          // Even timestamps and an odd gap: a record never exactly touches a session that fired.
          const gap = 2 * Math.floor(20 + r() * 300) + 1;
          const bound = Math.floor(gap * (0.5 + r() * 2)); // often larger than the gap: records bridge sessions
          const evs = events(1500 + Math.floor(r() * 1500), 2 + Math.floor(r() * 40), 2 + Math.floor(r() * 8), bound, seed * 13, true);
          const batchSize = 1 + Math.floor(r() * 500);
          const { native } = await onBothEngines((engine) => run(engine, evs, keyBy, EventTimeSessionWindows.withGap(gap), bound + 2, batchSize));
          expect(native.late).toBe(0);
          const want = sessionReference(evs, keyBy, () => gap);
          expect(native.rows).toEqual(want);
          expect(want.some((w) => (w.n as number) > 2)).toBe(true); // sessions do merge
        }
      });
    }

    it('stay exact with many short-lived keys and sessions (state compaction), on both engines', async () => {
      for (const keyBy of ['key', ['name', 'key']] as KeyBy[]) {
        const evs = events(8000, 4000, 2, 40, 98, true);
        const { native } = await onBothEngines((engine) => run(engine, evs, keyBy, EventTimeSessionWindows.withGap(41), 42, 512));
        expect(native.late).toBe(0);
        expect(native.rows).toEqual(sessionReference(evs, keyBy, () => 41));
      }
    });

    it('with a dynamic gap from each record: match sort-and-merge sessions on both engines (property test)', async () => {
      const gapOf = (e: Ev) => 2 * (10 + (e.key % 7) * 25 + (e.flag ? 40 : 0)) + 1;
      for (const seed of [4, 5]) {
        const r = rng(seed);
        const bound = Math.floor(r() * 400);
        const evs = events(2500, 1 + Math.floor(r() * 30), 3, bound, seed, true);
        const batchSize = 1 + Math.floor(r() * 600);
        const { native } = await onBothEngines((engine) => run(engine, evs, 'key', EventTimeSessionWindows.withDynamicGap<Ev>(gapOf), bound + 2, batchSize));
        expect(native.late).toBe(0);
        expect(native.rows).toEqual(sessionReference(evs, 'key', gapOf));
      }
    });

    it('merge two sessions that a later record bridges, and accept a record whose own window is late when it joins an open session', async () => {
      const ev = (key: number, ts: number, price: number): Ev => ({ key, name: `p${price}`, price, qty: price, flag: price > 2, ts });
      // Gap 10, batches of one record, watermark = highest timestamp - 20 - 1.
      const evs = [
        ev(1, 100, 1), // [100, 110); watermark 79
        ev(1, 120, 2), // [120, 130); watermark 99
        ev(2, 115, 9),
        ev(1, 110, 3), // [110, 120) touches both: one session [100, 130)
        ev(2, 140, 8), // watermark 119
        ev(1, 95, 4), // [95, 105): its own end - 1 is before the watermark, but it joins [100, 130)
        ev(1, 50, 5), // [50, 60): late, dropped and counted
      ];
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 1 });
        const sink = new CollectSink();
        env
          .fromRecords(evs, SCHEMA, WatermarkStrategy.forBoundedOutOfOrderness<Ev>(20).withTimestampAssigner('ts'))
          .keyBy('key')
          .window(EventTimeSessionWindows.withGap(10))
          .aggregate({ n: agg.count(), first: agg.first('price'), last: agg.last('name'), lo: agg.min('price'), kinds: agg.countDistinct('flag') })
          .sinkTo(sink);
        const result = await env.execute();
        return { rows: sink.records, late: result.lateRecordsDropped };
      });
      expect(native.late).toBe(1);
      expect(native.rows).toEqual([
        { key: 2, windowStart: 115, windowEnd: 125, n: 1, first: 9, last: 'p9', lo: 9, kinds: 1 },
        { key: 1, windowStart: 95, windowEnd: 130, n: 4, first: 1, last: 'p4', lo: 1, kinds: 2 },
        { key: 2, windowStart: 140, windowEnd: 150, n: 1, first: 8, last: 'p8', lo: 8, kinds: 1 },
      ]);
    });

    it('fail with the record when a dynamic gap is not a whole number of ms above 0', async () => {
      for (const engine of ['native', 'ts'] as const) {
        const env = StreamEnvironment.create({ engine });
        env
          .fromRecords([{ k: 1, t: 5 }, { k: 2, t: 6 }], { k: 'i32', t: 'timestamp' }, WatermarkStrategy.forMonotonousTimestamps<{ k: number; t: number }>().withTimestampAssigner('t'))
          .keyBy('k')
          .window(EventTimeSessionWindows.withDynamicGap<{ k: number; t: number }>((r) => (r.k === 2 ? 0 : 10)))
          .aggregate({ n: agg.count() })
          .sinkTo(new CollectSink());
        await expect(env.execute()).rejects.toThrow(/record 1, field '\(session gap\)': the session gap function returned 0 for \{"k":2,"t":6\}; it must return a whole number of ms above 0/);
      }
    });
  });

  describe('first, last and countDistinct', () => {
    it('keep every type, ignore nulls, and count distinct canonical values on both engines', async () => {
      const S = { k: 'utf8', s: 'utf8?', b: 'bool?', f: 'f64?', i: 'i64?', t: 'timestamp' } as const;
      type R = { k: string; s: string | null; b: boolean | null; f: number | null; i: number | null; t: number };
      const recs: R[] = [
        { k: 'a', s: null, b: null, f: -0, i: null, t: 1 },
        { k: 'a', s: 'x', b: true, f: 0, i: 2 ** 40, t: 2 },
        { k: 'b', s: 'é', b: false, f: NaN, i: -3, t: 3 },
        { k: 'a', s: 'y', b: false, f: NaN, i: 2 ** 40, t: 4 },
        { k: 'b', s: null, b: null, f: NaN, i: -3, t: 5 },
        { k: 'a', s: 'x', b: null, f: 1.5, i: null, t: 6 },
      ];
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine, batchSize: 2 });
        const sink = new CollectSink();
        env
          .fromRecords(recs, S, WatermarkStrategy.forMonotonousTimestamps<R>().withTimestampAssigner('t'))
          .keyBy('k')
          .window(TumblingEventTimeWindows.of(100))
          .aggregate({
            fs: agg.first('s'),
            ls: agg.last('s'),
            ds: agg.countDistinct('s'),
            fb: agg.first('b'),
            lb: agg.last('b'),
            df: agg.countDistinct('f'),
            ff: agg.first('f'),
            li: agg.last('i'),
            di: agg.countDistinct('i'),
            ft: agg.first('t'),
          })
          .sinkTo(sink);
        await env.execute();
        return sink.records.map((r) => JSON.stringify(r, (_, v) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v)));
      });
      expect(native.map((s) => JSON.parse(s))).toEqual([
        // -0 and 0 are one value; every NaN is one value.
        { k: 'a', windowStart: 0, windowEnd: 100, fs: 'x', ls: 'x', ds: 2, fb: true, lb: false, df: 3, ff: '-0', li: 2 ** 40, di: 1, ft: 1 },
        { k: 'b', windowStart: 0, windowEnd: 100, fs: 'é', ls: 'é', ds: 1, fb: false, lb: false, df: 1, ff: 'NaN', li: -3, di: 1, ft: 3 },
      ]);
    });
  });

  describe('window configuration', () => {
    it('fails when the pipeline is built, saying what to change', () => {
      expect(() => SlidingEventTimeWindows.of(0, 1)).toThrow(/SlidingEventTimeWindows.of: a sliding window needs a size above 0 ms/);
      expect(() => SlidingEventTimeWindows.of(-10, 1)).toThrow(/size above 0 ms/);
      expect(() => SlidingEventTimeWindows.of(10, 0)).toThrow(/needs a slide above 0 ms .*pass how often a window starts/);
      expect(() => SlidingEventTimeWindows.of(10, 20)).toThrow(/slide \(20 ms\) is larger than its size \(10 ms\).*use a slide of at most the size/);
      expect(() => SlidingEventTimeWindows.of(10, 5, 5)).toThrow(/offset must be a whole number of ms smaller than its slide \(5 ms\), got 5/);
      expect(() => SlidingEventTimeWindows.of(10, 5, -7)).toThrow(/smaller than its slide/);
      expect(() => SlidingEventTimeWindows.of(10.5, 5)).toThrow(/whole number/);
      expect(() => EventTimeSessionWindows.withGap(0)).toThrow(/EventTimeSessionWindows.withGap: a session window needs a gap above 0 ms \(a whole number\), got 0; pass the inactivity gap/);
      expect(() => EventTimeSessionWindows.withGap(-5)).toThrow(/gap above 0 ms \(a whole number\), got -5/);
      expect(() => EventTimeSessionWindows.withDynamicGap(5 as never)).toThrow(/takes a function/);
      expect(() => TumblingEventTimeWindows.of(10, -10)).toThrow(/offset must be a whole number of ms smaller than the window size \(10 ms\)/);
      const env = StreamEnvironment.create({ engine: 'ts' });
      const s = env.fromRecords([{ k: 'a', v: 'x', t: 1 }], { k: 'utf8', v: 'utf8', t: 'timestamp' }, WatermarkStrategy.noWatermarks<{ k: string; v: string; t: number }>().withTimestampAssigner('t'));
      expect(() => s.keyBy('k').window(SlidingEventTimeWindows.of(10, 5)).aggregate({ x: agg.max('v') })).toThrow(/needs a numeric field/);
      expect(() => s.keyBy('k').window({ sizeMs: 5 } as never)).toThrow(/window\(\) takes a window assigner/);
    });

    it('explain() describes the assigner', () => {
      const env = StreamEnvironment.create({ engine: 'ts' });
      const s = env.fromRecords([{ k: 'a', t: 1 }], { k: 'utf8', t: 'timestamp' }, WatermarkStrategy.noWatermarks<{ k: string; t: number }>().withTimestampAssigner('t'));
      s.keyBy('k').window(SlidingEventTimeWindows.of(10_000, 2_000, 500)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
      s.keyBy('k').window(EventTimeSessionWindows.withGap(3_000)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
      s.keyBy('k').window(EventTimeSessionWindows.withDynamicGap<{ k: string; t: number }>(() => 5)).aggregate({ n: agg.count() }).sinkTo(new CollectSink());
      const text = env.explain();
      expect(text).toMatch(/Window\(SlidingEventTimeWindows\(10000 ms, slide 2000 ms, offset 500 ms\)\) aggregate \[n=count\(\)\]/);
      expect(text).toMatch(/Window\(EventTimeSessionWindows\(gap 3000 ms\)\) aggregate/);
      expect(text).toMatch(/Window\(EventTimeSessionWindows\(dynamic gap\)\) aggregate/);
    });
  });
});

describe('found in review', () => {
  const SCHEMA = { k: 'i64', v: 'i64', t: 'timestamp' } as const;
  type Ev = { k: number; v: number; t: number };
  const rows: Ev[] = Array.from({ length: 10 }, (_, i) => ({ k: i % 2, v: i, t: i * 10 }));
  const wm = () => WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t');


  // Regressions found in review: each case failed before its fix.
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
});
