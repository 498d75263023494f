/**
 * Sub-plan reuse (Flink's table.optimizer.reuse-sub-plan-enabled): a query naming the same
 * window aggregation twice (Nexmark q5's counts per auction and window) computes it once and
 * feeds both consumers; aggregations that differ in anything stay apart. Results on both
 * engines, against the counts computed here from the same bids.
 */

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, StreamEnvironment, TableEnvironment, planSql, type Bid, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const EVENTS = 20_000;
/** 50 events per second of event time: 400 s, many windows. */
const RATE = 50;
const root = resolve(import.meta.dirname, '../..');

const ddl = `CREATE TABLE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING,
  \`dateTime\` TIMESTAMP(3), extra STRING,
  WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'events' = '${EVENTS}', 'event-rate' = '${RATE}')`;

async function bids(): Promise<Bid[]> {
  const env = StreamEnvironment.create({ engine: 'native' });
  const sink = new CollectSink<Bid>();
  env.fromSource(NexmarkSource.bids({ events: EVENTS, eventRatePerSec: RATE })).sinkTo(sink);
  await env.execute();
  return sink.records;
}

/** Plans `select` over the bid table: its rows (sorted, as JSON) and the graph's window aggregations. */
async function run(engine: EngineName, select: string): Promise<{ rows: string[]; windowAggregates: string[] }> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await planSql(tEnv, ddl);
  const sink = new CollectSink<object>();
  (await tEnv.sqlQuery(select)).toDataStream().sinkTo(sink);
  const windowAggregates = env.graph.nodes.filter((n) => n.op.kind === 'windowAggregate').map((n) => n.name);
  await env.execute();
  return { rows: sink.records.map((r) => JSON.stringify(r)).sort(), windowAggregates };
}

/** Counts of `keep` bids per auction and window (size, slide), keyed `auction,start`. */
function counts(all: readonly Bid[], size: number, slide: number, keep: (b: Bid) => boolean = () => true): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of all) {
    if (!keep(b)) continue;
    for (let s = b.dateTime - (b.dateTime % slide); s > b.dateTime - size; s -= slide) {
      const k = `${b.auction},${s}`;
      out.set(k, (out.get(k) ?? 0) + 1);
    }
  }
  return out;
}

describe('sub-plan reuse', () => {
  it('Nexmark q5 counts per auction and window once, for both of its subqueries; its hot items equal those counted here', async () => {
    const text = readFileSync(join(root, 'examples', 'nexmark-sql', 'q5.sql'), 'utf8');
    const select = text.slice(text.indexOf('SELECT', text.indexOf('INSERT INTO'))).replace(/;\s*$/, '');
    const { native } = await onBothEngines((engine) => run(engine, select));
    // One HOP count (the max per window is the other aggregation).
    expect(native.windowAggregates.filter((n) => n.includes('SlidingEventTimeWindows'))).toHaveLength(1);
    expect(native.windowAggregates).toHaveLength(2);
    const c = counts(await bids(), 10_000, 2_000);
    const max = new Map<number, number>();
    for (const [k, n] of c) {
      const start = Number(k.split(',')[1]);
      max.set(start, Math.max(max.get(start) ?? 0, n));
    }
    const expected = [...c].filter(([k, n]) => n >= max.get(Number(k.split(',')[1]))!).map(([k, num]) => JSON.stringify({ auction: Number(k.split(',')[0]), num }));
    expect(expected.length).toBeGreaterThan(100);
    expect(native.rows).toEqual(expected.sort());
  });

  const side = (alias: string, agg: string, where: string, slide: number) => `(
    SELECT auction, ${agg} AS num, window_start, window_end
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '${slide}' SECOND, INTERVAL '10' SECOND))
    ${where}
    GROUP BY auction, window_start, window_end
  ) AS ${alias}`;
  const joined = (a: string, b: string) => `SELECT A.auction, A.num, B.num AS num2, A.window_start FROM ${a} JOIN ${b}
    ON A.auction = B.auction AND A.window_start = B.window_start AND A.window_end = B.window_end`;

  it.each([
    ['the same aggregation', "count(*)", '', "count(*)", '', 1],
    ['a filter before one', "count(*)", '', "count(*)", 'WHERE price > 10000000', 2],
    ['another aggregate', "count(*)", '', "count(bidder)", '', 2],
    // Both filters are shown as (price > 10000000); the second compares as doubles.
    ['the same filter written with a double', "count(*)", 'WHERE price > 10000000', "count(*)", 'WHERE price > 1e7', 2],
  ] as const)('a self-join of windowed counts per auction, with %s: shared only when the aggregations are equal', async (_what, aggA, whereA, aggB, whereB, aggregates) => {
    const { native } = await onBothEngines((engine) => run(engine, joined(side('A', aggA, whereA, 2), side('B', aggB, whereB, 2))));
    expect(native.windowAggregates).toHaveLength(aggregates);
    const all = await bids();
    const filtered = (where: string) => (where === '' ? undefined : (x: Bid) => x.price > 10_000_000);
    const a = counts(all, 10_000, 2_000, filtered(whereA));
    const b = counts(all, 10_000, 2_000, filtered(whereB));
    const expected = [...a].flatMap(([k, num]) => {
      const num2 = b.get(k);
      if (num2 === undefined) return [];
      const [auction, start] = k.split(',').map(Number);
      return [JSON.stringify({ auction, num, num2, window_start: start })];
    });
    expect(expected.length).toBeGreaterThan(whereA === '' ? 100 : 10);
    if (whereA !== whereB && whereA === '') expect(expected.some((r) => JSON.parse(r).num !== JSON.parse(r).num2)).toBe(true);
    expect(native.rows).toEqual(expected.sort());
  });

  it('a different slide is a different aggregation', async () => {
    const { native } = await onBothEngines((engine) => run(engine, joined(side('A', 'count(*)', '', 2), side('B', 'count(*)', '', 5))));
    expect(native.windowAggregates).toHaveLength(2);
    // Windows of both slides that start and end together: every 10 s.
    const all = await bids();
    const a = counts(all, 10_000, 2_000);
    const expected = [...a].filter(([k]) => Number(k.split(',')[1]) % 10_000 === 0).map(([k, num]) => {
      const [auction, start] = k.split(',').map(Number);
      return JSON.stringify({ auction, num, num2: num, window_start: start });
    });
    expect(expected.length).toBeGreaterThan(10);
    expect(native.rows).toEqual(expected.sort());
  });
});
