/**
 * The Table API over DataStreams, on both engines: fromDataStream, select / where /
 * addColumns / renameColumns / dropColumns fused into one calc operator, toDataStream, and
 * Nexmark bids through it with projection pushdown into the generator.
 */

import { describe, expect, it } from 'vitest';
import { $, agg, CollectSink, concat, countStar, EventTimeSessionWindows, ifThenElse, lit, NexmarkSource, Session, Slide, SlidingEventTimeWindows, StreamEnvironment, TableEnvironment, TableError, Tumble, TumblingEventTimeWindows, WatermarkStrategy, type Bid, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { isBorrowed } from '../../ts/batch/segment.js';
import type { Sink, SinkWriter } from '../../ts/index.js';

const ORDERS = { id: 'i64', product: 'utf8', price: 'f64', qty: 'i32', note: 'utf8?' } as const;
const orders = Array.from({ length: 500 }, (_, k) => ({
  id: k,
  product: ['apple', 'Pear', 'kiwi', 'plum'][k % 4]!,
  price: ((k * 37) % 1000) / 10,
  qty: (k * 7) % 13,
  note: k % 5 === 0 ? null : `n${k % 3}`,
}));

describe('Table API', () => {
  it('select, where, addColumns, renameColumns and dropColumns run as one calc operator, identically on both engines', async () => {
    const { native } = await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine, batchSize: 64 });
      const tEnv = TableEnvironment.create(env);
      const t = tEnv
        .fromDataStream(env.fromRecords(orders, ORDERS))
        .where($('qty').isGreater(0))
        .addColumns($('price').times($('qty')).as('total'), $('product').upperCase().as('name'))
        .where($('total').isGreaterOrEqual(100).and($('note').isNotNull().or($('id').mod(2).isEqual(0))))
        .renameColumns($('note').as('remark'))
        .dropColumns($('product'))
        .select($('id'), $('name'), $('total'), ifThenElse($('remark').isNull(), 'none', concat('note ', $('remark'))).as('remark'));
      expect(t.getSchema().toString()).toBe('{ id: i64, name: utf8, total: f64, remark: utf8? }');
      const sink = new CollectSink();
      t.toDataStream().sinkTo(sink);
      const plan = env.explain();
      // One calc node for all of it.
      expect(plan.match(/Calc\(/g)?.length).toBe(1);
      await env.execute();
      return sink.records;
    });
    // An independent computation over the same records.
    const expected = orders
      .filter((o) => o.qty > 0)
      .map((o) => ({ ...o, total: o.price * o.qty }))
      .filter((o) => o.total >= 100 && (o.note !== null || o.id % 2 === 0))
      .map((o) => ({ id: o.id, name: o.product.toUpperCase(), total: o.total, remark: o.note === null ? 'none' : `note ${o.note}` }));
    expect(native).toEqual(expected);
    expect(native.length).toBeGreaterThan(50);
  });

  it('a calc lends its output buffers: a sink that borrows is given them, a sink that keeps batches a copy, and both see the same rows', async () => {
    /** Keeps each batch's rows, and whether the batch it was given borrowed shared memory. */
    class Recording implements Sink {
      readonly name = 'recording';
      readonly rows: Record<string, unknown>[] = [];
      readonly borrowed: boolean[] = [];
      constructor(private readonly borrows: boolean) {}
      open(): SinkWriter {
        return {
          borrows: this.borrows,
          write: (b) => {
            this.borrowed.push(isBorrowed(b));
            this.rows.push(...b.toRecords());
          },
          close: () => undefined,
        };
      }
    }
    await onBothEngines(async (engine: EngineName) => {
      const results = [];
      for (const borrows of [true, false]) {
        const env = StreamEnvironment.create({ engine, batchSize: 64 });
        const sink = new Recording(borrows);
        TableEnvironment.create(env)
          .fromDataStream(env.fromRecords(orders, ORDERS))
          .where($('qty').isGreater(2))
          .select($('id'), $('price').times($('qty')).as('total'))
          .toDataStream()
          .sinkTo(sink);
        await env.execute();
        expect(sink.borrowed.length).toBeGreaterThan(1);
        expect(sink.borrowed.every((b) => b === borrows)).toBe(true);
        results.push(sink.rows);
      }
      expect(results[0]).toEqual(results[1]);
      expect(results[0]).toEqual(orders.filter((o) => o.qty > 2).map((o) => ({ id: o.id, total: o.price * o.qty })));
      return results[0];
    });
  });

  it('reads only the Nexmark columns a query uses (projection pushdown) and composes with the DataStream API both ways', async () => {
    const { native } = await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      const bids = env.fromSource(NexmarkSource.bids({ events: 20_000 }));
      // Nexmark q1 (dollars to euros) and q2's filter, in the Table API.
      const q = tEnv
        .fromDataStream(bids)
        .where($('auction').mod(123).isEqual(0))
        .select($('auction'), $('price').times(lit(0.908)).as('price'), $('dateTime'));
      const out = q.toDataStream().map((r) => ({ auction: r.auction as number, euros: Math.round((r.price as number) * 100) }), { auction: 'i64', euros: 'f64' });
      const sink = new CollectSink();
      out.sinkTo(sink);
      expect(env.explain()).toContain('[reads auction, price, dateTime]');
      await env.execute();
      return sink.records;
    });
    // The same events through the DataStream API alone.
    const env = StreamEnvironment.create({ engine: 'native' });
    const sink = new CollectSink();
    env
      .fromSource(NexmarkSource.bids({ events: 20_000 }))
      .filter((b) => b.auction % 123 === 0)
      .map((b) => ({ auction: b.auction, euros: Math.round(b.price * 0.908 * 100) }), { auction: 'i64', euros: 'f64' })
      .sinkTo(sink);
    await env.execute();
    expect(native).toEqual(sink.records);
    expect(native.length).toBeGreaterThan(10);
  });

  it('fails the job with the engine error naming the expression and row, the same on both engines', async () => {
    await onBothEngines(async (engine: EngineName) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      const t = tEnv.fromDataStream(env.fromRecords(orders, ORDERS)).select($('id'), $('id').dividedBy($('qty').cast('i64')).as('per'));
      t.toDataStream().sinkTo(new CollectSink());
      const err = await env.execute().then(
        () => null,
        (e: Error) => e.message,
      );
      expect(err).toContain('(id / CAST(qty AS i64)) at row 0 of the batch: division by zero');
      return err;
    });
  });

  it('names unknown columns and lists the ones there are', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const t = TableEnvironment.create(env).fromDataStream(env.fromRecords(orders, ORDERS)).select($('id'), $('price'));
    expect(() => t.where($('qty').isGreater(1))).toThrow(TableError);
    expect(() => t.where($('qty').isGreater(1))).toThrow("where: unknown column 'qty'; the columns are: id, price");
    expect(() => t.select($('id'), $('id'))).toThrow("the column 'id' appears twice");
    expect(t.explain()).toContain('Calc(select=[id, price])');
    const plan = t.where($('id').isGreater(3)).explain().split('\n');
    expect(plan.slice(0, 5)).toEqual(['== Logical plan ==', 'select(id, price)', 'where((id > 3))', '', '== Optimised plan ==']);
    expect(plan[5]).toBe('Calc(select=[id, price], where=[(id > 3)]) -> { id: i64, price: f64 }');
    expect(plan[6]).toMatch(/^ {2}<- Source: records -> \{ id: i64, product: utf8, price: f64, qty: i32, note: utf8\? \}$/);
  });
});

describe('Table API group windows', () => {
  it('Tumble / Slide / Session grouped by window and key run as the built-in window aggregation, like the DataStream API, on both engines', async () => {
    const wm = () => WatermarkStrategy.forBoundedOutOfOrderness<Bid>(1000).withTimestampAssigner('dateTime');
    for (const [name, win, ds] of [
      ['tumble', Tumble.over(lit(10).seconds()).on($('dateTime')).as('w'), TumblingEventTimeWindows.of(10_000)],
      ['slide', Slide.over(lit(10).seconds()).every(lit(5).seconds()).on($('dateTime')).as('w'), SlidingEventTimeWindows.of(10_000, 5_000)],
      ['session', Session.withGap(lit(2).seconds()).on($('dateTime')).as('w'), EventTimeSessionWindows.withGap(2_000)],
    ] as const) {
      const { native } = await onBothEngines(async (engine: EngineName) => {
        const env = StreamEnvironment.create({ engine });
        const bids = env.fromSource(NexmarkSource.bids({ events: 30_000 }), wm());
        const t = TableEnvironment.create(env)
          .fromDataStream(bids)
          .where($('auction').mod(10).isEqual(0))
          .window(win)
          .groupBy($('w'), $('auction'))
          .select($('auction'), $('w').start().as('ws'), $('w').end().as('we'), $('price').max().as('top'), countStar().as('n'), $('price').times(2).sum().as('twice'));
        expect(t.getSchema().toString()).toBe('{ auction: i64, ws: timestamp, we: timestamp, top: i64, n: i64, twice: i64 }');
        const sink = new CollectSink();
        t.toDataStream().sinkTo(sink);
        expect(env.explain()).toContain('GroupWindowAggregate(');
        await env.execute();
        return sink.records;
      });
      // The same through the DataStream API.
      const env = StreamEnvironment.create({ engine: 'native' });
      const sink = new CollectSink();
      env
        .fromSource(NexmarkSource.bids({ events: 30_000 }), wm())
        .filter((b) => b.auction % 10 === 0)
        .map((b) => ({ auction: b.auction, price: b.price, twice: b.price * 2 }), { auction: 'i64', price: 'i64', twice: 'i64' })
        .keyBy('auction')
        .window(ds)
        .aggregate({ top: agg.max('price'), n: agg.count(), twice: agg.sum('twice') })
        .map((r) => ({ auction: r.auction, ws: r.windowStart, we: r.windowEnd, top: r.top, n: r.n, twice: r.twice }), { auction: 'i64', ws: 'timestamp', we: 'timestamp', top: 'i64', n: 'i64', twice: 'i64' })
        .sinkTo(sink);
      await env.execute();
      expect(native, name).toEqual(sink.records);
      expect(native.length, name).toBeGreaterThan(20);
    }
  });

  it('names what is neither grouped nor aggregated', () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const t = TableEnvironment.create(env).fromDataStream(env.fromSource(NexmarkSource.bids({ events: 10 }), WatermarkStrategy.forMonotonousTimestamps<Bid>().withTimestampAssigner('dateTime')));
    const g = t.window(Tumble.over(lit(1).seconds()).on($('dateTime')).as('w')).groupBy($('w'), $('auction'));
    expect(() => g.select($('bidder'), $('price').sum())).toThrow("the column 'bidder' is neither grouped nor aggregated");
    expect(() => t.select($('price').sum())).toThrow("aggregates and window bounds belong in a grouped window's select");
    const noTime = TableEnvironment.create(env).fromDataStream(env.fromRecords([{ t: 1 }], { t: 'timestamp' }));
    expect(() => noTime.window(Tumble.over(lit(1).seconds()).on($('t')).as('w'))).toThrow('the table has no event time');
  });
});
