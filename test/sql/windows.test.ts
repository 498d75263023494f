/**
 * Flink SQL window aggregations on both engines: the window TVFs TUMBLE and HOP with
 * GROUP BY window_start, window_end, keys, and the group-window functions TUMBLE / HOP /
 * SESSION in GROUP BY (with *_START / *_END), planned as the Table API's group windows (the
 * built-in window aggregation), each against an independent computation over the same bids.
 */

import { describe, expect, it } from 'vitest';
import { $, CollectSink, lit, NexmarkSource, StreamEnvironment, TableEnvironment, Tumble, WatermarkStrategy, type Bid, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';

const EVENTS = 30_000;
const BID_DDL = bidDdl(EVENTS);
const bids = (): Promise<Bid[]> => generatedBids(EVENTS);

async function run(engine: EngineName, query: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(BID_DDL);
  const sink = new CollectSink();
  (await tEnv.sqlQuery(query)).toDataStream().sinkTo(sink);
  expect(env.explain()).toContain('GroupWindowAggregate');
  await env.execute();
  return sink.records;
}

type Key = string;
const sortRows = (rows: Record<string, unknown>[]): Record<string, unknown>[] => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

/** Per (window, key) count / max / sum of price, as a plain loop. */
function windowAgg(all: Bid[], windowsOf: (t: number) => [number, number][], key: (b: Bid) => number | null): Record<string, unknown>[] {
  const acc = new Map<Key, { start: number; end: number; k: number | null; num: number; top: number; total: number }>();
  for (const b of all) {
    for (const [start, end] of windowsOf(b.dateTime)) {
      const id = `${start}/${key(b)}`;
      const a = acc.get(id) ?? { start, end, k: key(b), num: 0, top: -Infinity, total: 0 };
      a.num++;
      a.top = Math.max(a.top, b.price);
      a.total += b.price;
      acc.set(id, a);
    }
  }
  return [...acc.values()].map((a) => ({ ...(a.k === null ? {} : { auction: a.k }), window_start: a.start, window_end: a.end, num: a.num, top: a.top, total: a.total }));
}

describe('SQL window aggregations', () => {
  it('TUMBLE TVF grouped by window and key equals a plain computation and the Table API plan, on both engines', async () => {
    const q = "SELECT auction, window_start, window_end, COUNT(*) AS num, MAX(price) AS top, SUM(price) AS total FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) WHERE MOD(auction, 5) = 0 GROUP BY auction, window_start, window_end";
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = windowAgg((await bids()).filter((b) => b.auction % 5 === 0), (t) => [[t - (t % 10_000), t - (t % 10_000) + 10_000]], (b) => b.auction);
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(100);

    // The Table API's version of the query builds the same plan.
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    await tEnv.executeSql(BID_DDL);
    const sqlPlan = (await tEnv.sqlQuery(q)).explain().split('== Optimised plan ==')[1];
    const env2 = StreamEnvironment.create({ engine: 'ts' });
    const api = TableEnvironment.create(env2)
      .fromDataStream(env2.fromSource(NexmarkSource.bids({ events: EVENTS }), WatermarkStrategy.forBoundedOutOfOrderness<Bid>(4000).withTimestampAssigner('dateTime'), 'bid'))
      .where($('auction').mod(5).isEqual(0))
      .window(Tumble.over(lit(10).seconds()).on($('dateTime')).as('$window'))
      .groupBy($('$window'), $('auction'))
      .select($('auction'), $('$window').start().as('window_start'), $('$window').end().as('window_end'), lit(1).count().as('num'), $('price').max().as('top'), $('price').sum().as('total'));
    expect(sqlPlan).toBe(api.explain().split('== Optimised plan ==')[1]);
  });

  it('HAVING filters the window results in the calc after the window', async () => {
    const q = "SELECT auction, window_start, COUNT(*) AS num FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY auction, window_start, window_end HAVING COUNT(*) >= 20 AND MAX(price) > 1000";
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = windowAgg(await bids(), (t) => [[t - (t % 10_000), t - (t % 10_000) + 10_000]], (b) => b.auction)
      .filter((r) => (r.num as number) >= 20 && (r.top as number) > 1000)
      .map((r) => ({ auction: r.auction, window_start: r.window_start, num: r.num }));
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(5);
  });

  it('HOP TVF (slide first, then size) without keys, on both engines', async () => {
    const q = "SELECT window_start, window_end, COUNT(*) AS num, MAX(price) AS top, SUM(price) AS total FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) GROUP BY window_start, window_end";
    const { native } = await onBothEngines((engine) => run(engine, q));
    const hop = (t: number): [number, number][] => {
      const out: [number, number][] = [];
      for (let s = t - (t % 2000); s > t - 6000; s -= 2000) out.push([s, s + 6000]);
      return out;
    };
    expect(sortRows(native)).toEqual(sortRows(windowAgg(await bids(), hop, () => null)));
  });

  it("Flink's group-window functions: GROUP BY key, SESSION(...) with SESSION_START / SESSION_END (Nexmark q11), on both engines", async () => {
    const q = "SELECT B.bidder, COUNT(*) AS bid_count, SESSION_START(B.`dateTime`, INTERVAL '2' SECOND) AS starttime, SESSION_END(B.`dateTime`, INTERVAL '2' SECOND) AS endtime FROM bid B WHERE MOD(B.bidder, 3) = 0 GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '2' SECOND)";
    const { native } = await onBothEngines((engine) => run(engine, q));
    // Sessions per bidder: sorted times, a gap of 2 s or more starts a new session; end = last + gap.
    const by = new Map<number, number[]>();
    for (const b of await bids()) if (b.bidder % 3 === 0) by.set(b.bidder, [...(by.get(b.bidder) ?? []), b.dateTime]);
    const expected: Record<string, unknown>[] = [];
    for (const [bidder, ts] of by) {
      ts.sort((a, b) => a - b);
      let start = ts[0]!;
      let last = ts[0]!;
      let n = 0;
      for (const t of ts) {
        if (t - last >= 2000) {
          expected.push({ bidder, bid_count: n, starttime: start, endtime: last + 2000 });
          start = t;
          n = 0;
        }
        last = t;
        n++;
      }
      expected.push({ bidder, bid_count: n, starttime: start, endtime: last + 2000 });
    }
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(20);
  });

  it('TUMBLE as a group-window function with TUMBLE_START / TUMBLE_END and COUNT(DISTINCT), AVG, MIN', async () => {
    const q = "SELECT channel, TUMBLE_START(`dateTime`, INTERVAL '5' SECOND) AS ws, COUNT(DISTINCT bidder) AS bidders, MIN(price) AS low, AVG(price) AS mean FROM bid GROUP BY TUMBLE(`dateTime`, INTERVAL '5' SECOND), channel";
    const { native } = await onBothEngines((engine) => run(engine, q));
    const acc = new Map<string, { channel: string; ws: number; bidders: Set<number>; low: number; sum: number; n: number }>();
    for (const b of await bids()) {
      const ws = b.dateTime - (b.dateTime % 5000);
      const a = acc.get(`${ws}/${b.channel}`) ?? { channel: b.channel, ws, bidders: new Set<number>(), low: Infinity, sum: 0, n: 0 };
      a.bidders.add(b.bidder);
      a.low = Math.min(a.low, b.price);
      a.sum += b.price;
      a.n++;
      acc.set(`${ws}/${b.channel}`, a);
    }
    const expected = [...acc.values()].map((a) => ({ channel: a.channel, ws: a.ws, bidders: a.bidders.size, low: a.low, mean: a.sum / a.n }));
    const round = (rows: Record<string, unknown>[]) => sortRows(rows.map((r) => ({ ...r, mean: Math.round((r.mean as number) * 1e6) / 1e6 })));
    expect(round(native)).toEqual(round(expected));
  });
});
