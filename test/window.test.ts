import { describe, expect, it } from 'vitest';
import {
  agg,
  CollectSink,
  StreamEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type EngineName,
  type RecordBatch,
} from '../ts/index.js';
import { onBothEngines, rng } from './engines.js';

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
