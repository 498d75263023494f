/**
 * WITH (common table expressions), OFFSET (LIMIT n OFFSET m, after ORDER BY or not) and the
 * standard's [OFFSET m ROWS] FETCH {FIRST | NEXT} n ROWS ONLY (LIMIT's semantics) in SQL,
 * on both engines against DuckDB over the same bids. ORDER BY a non-time column with LIMIT is
 * Flink's sort-limit: a top-N over all rows, an updating result (its changes applied give
 * DuckDB's rows); ORDER BY event time with LIMIT / OFFSET stays append-only.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, SqlError, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';
import { duckRows, duckWithBids, sortRows, type Duck } from './duck.js';
import { applied, type Change } from './changes.js';

const EVENTS = 20_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());



/** The query's rows: records of an append-only result in order, or an updating one's changes applied (sorted). */
async function run(engine: EngineName, query: string): Promise<{ updating: boolean; rows: string[] }> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const t = await tEnv.sqlQuery(query);
  if (t.isUpdating()) {
    const sink = new CollectSink<Change>();
    t.toChangelogStream().sinkTo(sink);
    await env.execute();
    return { updating: true, rows: applied(sink.records) };
  }
  const sink = new CollectSink();
  t.toDataStream().sinkTo(sink);
  await env.execute();
  return { updating: false, rows: sink.records.map((r) => JSON.stringify(r)) };
}

describe('SQL WITH', () => {
  it('two CTEs, the second reading the first with a column list, joined to nothing else: equals DuckDB', async () => {
    const q = `WITH big AS (SELECT auction, bidder, price FROM bid WHERE price > 5000),
                    counts (a, n, top) AS (SELECT auction, COUNT(*), MAX(price) FROM big GROUP BY auction)
               SELECT a, n, top FROM counts WHERE n > 1`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    expect(native.updating).toBe(true);
    const expected = await duckRows(duck, q);
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBeGreaterThan(10);
  });

  it('a CTE keeps its event time: a TUMBLE window over it', async () => {
    const q = "WITH cheap AS (SELECT auction, price, `dateTime` FROM bid WHERE price < 1000) SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE cheap, DESCRIPTOR(`dateTime`), INTERVAL '100' MILLISECOND)) GROUP BY window_start, window_end";
    const { native } = await onBothEngines((engine) => run(engine, q));
    expect(native.updating).toBe(false);
    const expected = await duckRows(duck, 'SELECT (dateTime // 100) * 100 AS window_start, COUNT(*) AS n FROM bid WHERE price < 1000 GROUP BY ALL');
    expect([...native.rows].sort()).toEqual(sortRows(expected));
    expect(native.rows.length).toBeGreaterThan(10);
  });

  it('a ranking CTE: the updating top-N read from a WITH name', async () => {
    const q = 'WITH ranked AS (SELECT auction, price, bidder, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY price DESC) AS rn FROM bid) SELECT bidder, price, rn FROM ranked WHERE rn <= 2';
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(duck, 'WITH ranked AS (SELECT auction, price, bidder, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY price DESC, auction, channel, url, dateTime, extra) AS rn FROM bid) SELECT bidder, price, rn FROM ranked WHERE rn <= 2');
    expect(native.rows).toEqual(sortRows(expected));
  });
});

describe('SQL OFFSET', () => {
  it('ORDER BY price DESC LIMIT 5 OFFSET 3: a sort-limit (updating) equal to DuckDB', async () => {
    const q = 'SELECT auction, bidder, price FROM bid ORDER BY price DESC, auction LIMIT 5 OFFSET 3';
    const { native } = await onBothEngines((engine) => run(engine, q));
    expect(native.updating).toBe(true);
    const expected = await duckRows(duck, 'SELECT auction, bidder, price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra LIMIT 5 OFFSET 3');
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBe(5);
  });

  it('ORDER BY event time LIMIT 4 OFFSET 10 (append-only, in order), and LIMIT 3 OFFSET 2 without ORDER BY (arrival order)', async () => {
    const sorted = await onBothEngines((engine) => run(engine, 'SELECT `dateTime`, auction, price FROM bid ORDER BY `dateTime`, price LIMIT 4 OFFSET 10'));
    expect(sorted.native.updating).toBe(false);
    const expected = await duckRows(duck, 'SELECT dateTime, auction, price FROM bid ORDER BY dateTime, price, auction LIMIT 4 OFFSET 10');
    expect(sorted.native.rows).toEqual(expected.map((r) => JSON.stringify(r)));
    const first = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid LIMIT 3 OFFSET 2'));
    const bids = (await generatedBids(EVENTS)).slice(2, 5).map((b) => JSON.stringify({ auction: b.auction, price: b.price }));
    expect(first.native.rows).toEqual(bids);
  });
});

describe('SQL FETCH FIRST / NEXT', () => {
  it('ORDER BY price DESC OFFSET 3 ROWS FETCH NEXT 5 ROWS ONLY: the same sort-limit as LIMIT 5 OFFSET 3, equal to DuckDB', async () => {
    const q = 'SELECT auction, bidder, price FROM bid\nORDER BY price DESC, auction\nOFFSET 3 ROWS\nFETCH NEXT 5 ROWS ONLY';
    const { native } = await onBothEngines((engine) => run(engine, q));
    expect(native.updating).toBe(true);
    const expected = await duckRows(duck, 'SELECT auction, bidder, price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra OFFSET 3 ROWS FETCH NEXT 5 ROWS ONLY');
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBe(5);
  });

  it('FETCH FIRST n ROWS ONLY after ORDER BY event time, FETCH FIRST ROW ONLY (one row) and OFFSET 2 ROW FETCH FIRST 3 ROWS ONLY without ORDER BY, LIMIT 3 OFFSET 2 ROWS', async () => {
    const sorted = await onBothEngines((engine) => run(engine, 'SELECT `dateTime`, auction, price FROM bid ORDER BY `dateTime`, price fetch first 4 rows only'));
    expect(sorted.native.updating).toBe(false);
    const expected = await duckRows(duck, 'SELECT dateTime, auction, price FROM bid ORDER BY dateTime, price, auction FETCH FIRST 4 ROWS ONLY');
    expect(sorted.native.rows).toEqual(expected.map((r) => JSON.stringify(r)));
    expect(sorted.native.rows.length).toBe(4);
    const bids = (await generatedBids(EVENTS)).map((b) => JSON.stringify({ auction: b.auction, price: b.price }));
    const one = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid FETCH FIRST ROW ONLY'));
    expect(one.native.rows).toEqual(bids.slice(0, 1));
    const skipped = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid OFFSET 2 ROW FETCH FIRST 3 ROWS ONLY'));
    expect(skipped.native.rows).toEqual(bids.slice(2, 5));
    const limit = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid LIMIT 3 OFFSET 2 ROWS'));
    expect(limit.native.rows).toEqual(bids.slice(2, 5));
  });
});

describe('SQL OFFSET alone', () => {
  it('OFFSET m ROWS without LIMIT or FETCH: every row after the first m, without ORDER BY (arrival order), after a temporal sort, and in a sort-limit (updating), equal to DuckDB', async () => {
    const bids = (await generatedBids(EVENTS)).map((b) => JSON.stringify({ auction: b.auction, price: b.price }));
    const plain = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid OFFSET 18000 ROWS'));
    expect(plain.native.rows).toEqual(bids.slice(18000));
    expect(plain.native.rows.length).toBeGreaterThan(10);
    const sorted = await onBothEngines((engine) => run(engine, 'SELECT `dateTime`, auction, price FROM bid ORDER BY `dateTime`, price OFFSET 18000'));
    expect(sorted.native.updating).toBe(false);
    const expected = await duckRows(duck, 'SELECT dateTime, auction, price FROM bid ORDER BY dateTime, price, auction OFFSET 18000');
    expect(sorted.native.rows).toEqual(expected.map((r) => JSON.stringify(r)));
    const ranked = await onBothEngines((engine) => run(engine, 'SELECT auction, bidder, price FROM bid ORDER BY price DESC, auction OFFSET 18000 ROWS'));
    expect(ranked.native.updating).toBe(true);
    const low = await duckRows(duck, 'SELECT auction, bidder, price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra OFFSET 18000');
    expect(ranked.native.rows).toEqual(sortRows(low));
    expect(ranked.native.rows.length).toBeGreaterThan(10);
  });
});

describe('SQL WITH / OFFSET errors', () => {
  it('name line and column and what to write', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    const cases: [string, number, number, string][] = [
      ['WITH x (a, b) AS (SELECT auction FROM bid)\nSELECT a FROM x', 1, 9, 'WITH x names 2 columns, its query has 1 (auction)'],
      ['WITH x AS (SELECT auction FROM bid)\nSELECT price FROM x', 2, 8, "unknown column 'price'"],
      ['SELECT auction, price FROM bid ORDER BY price', 1, 41, 'or add LIMIT n for a top-N'],
      ['SELECT auction FROM bid ORDER BY `dateTime`\nOFFSET -5', 2, 1, 'OFFSET takes a whole number of rows'],
      ['SELECT auction FROM bid ORDER BY `dateTime`\nFETCH FIRST 5 ROWS', 2, 1, 'FETCH is written FETCH {FIRST | NEXT} [n] {ROW | ROWS} ONLY'],
      ['SELECT auction FROM bid\nORDER BY `dateTime` OFFSET x ROWS FETCH NEXT 5 ROWS ONLY', 2, 21, 'OFFSET takes a whole number of rows'],
    ];
    const got: [string, number, number, string][] = [];
    for (const [sql, line, col, text] of cases) {
      const e = await tEnv.sqlQuery(sql).then(() => null, (x: unknown) => x);
      expect(e, sql).toBeInstanceOf(SqlError);
      const err = e as SqlError;
      got.push([sql, err.line, err.column, err.message.includes(text) ? text : err.message]);
    }
    expect(got).toEqual(cases);
  });
});
