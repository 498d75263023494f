/**
 * UNION ALL in SQL and the Table API's unionAll, on both engines: rows of both sides (the right
 * side's columns named as the left's), event time kept through the union (a window over a
 * UNION ALL view), and errors naming both sides' columns.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $, CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';
import { duckRows, duckWithBids, sortRows, type Duck } from './duck.js';

const EVENTS = 20_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());

async function run(engine: EngineName, statements: readonly string[], query: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  for (const s of statements) await tEnv.executeSql(s);
  const sink = new CollectSink();
  (await tEnv.sqlQuery(query)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('UNION ALL', () => {
  it('SQL: the rows of both sides, named by the left side, equal a plain computation', async () => {
    const q = `SELECT auction, price FROM bid WHERE MOD(auction, 10) = 0
      UNION ALL SELECT bidder AS b, price * 2 FROM bid WHERE MOD(bidder, 10) = 1
      UNION ALL (SELECT auction, -price FROM bid WHERE price > 90000000)`;
    const { native } = await onBothEngines((engine) => run(engine, [], q));
    const bids = await generatedBids(EVENTS);
    const expected = [
      ...bids.filter((b) => b.auction % 10 === 0).map((b) => ({ auction: b.auction, price: b.price })),
      ...bids.filter((b) => b.bidder % 10 === 1).map((b) => ({ auction: b.bidder, price: b.price * 2 })),
      ...bids.filter((b) => b.price > 90_000_000).map((b) => ({ auction: b.auction, price: -b.price })),
    ];
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(1000);
  });

  it('SQL: a window aggregation over a UNION ALL view keeps the event time, equal to DuckDB', async () => {
    const view = "CREATE VIEW merged AS SELECT auction AS k, price, `dateTime` FROM bid WHERE MOD(auction, 3) = 0 UNION ALL SELECT bidder, price, `dateTime` FROM bid WHERE MOD(bidder, 3) = 0";
    const q = "SELECT k, window_start, COUNT(*) AS num, SUM(price) AS total FROM TABLE(TUMBLE(TABLE merged, DESCRIPTOR(`dateTime`), INTERVAL '100' MILLISECOND)) GROUP BY k, window_start, window_end";
    const { native } = await onBothEngines((engine) => run(engine, [view], q));
    const expected = await duckRows(
      duck,
      `SELECT k, (dateTime // 100) * 100 AS window_start, COUNT(*) AS num, SUM(price) AS total FROM (
         SELECT auction AS k, price, dateTime FROM bid WHERE auction % 3 = 0 UNION ALL SELECT bidder, price, dateTime FROM bid WHERE bidder % 3 = 0) GROUP BY ALL`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(100);
  });

  it('Table API unionAll: same rows as SQL; mismatched columns are an error naming both sides', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      const bid = await tEnv.sqlQuery('SELECT * FROM bid');
      const a = bid.where($('auction').mod(10).isEqual(0)).select($('auction'), $('price'));
      const b = bid.where($('bidder').mod(10).isEqual(1)).select($('bidder').as('auction'), $('price'));
      const sink = new CollectSink();
      a.unionAll(b).toDataStream().sinkTo(sink);
      expect(() => a.unionAll(bid.select($('channel'), $('price')))).toThrow(
        "unionAll: the tables' columns differ: (auction i64 NOT NULL, price i64 NOT NULL) and (channel utf8 NOT NULL, price i64 NOT NULL); select the same column names and types on both sides",
      );
      await env.execute();
      return sink.records;
    });
    const bids = await generatedBids(EVENTS);
    const expected = [...bids.filter((b) => b.auction % 10 === 0).map((b) => ({ auction: b.auction, price: b.price })), ...bids.filter((b) => b.bidder % 10 === 1).map((b) => ({ auction: b.bidder, price: b.price }))];
    expect(sortRows(native)).toEqual(sortRows(expected));
  });

  it('SQL errors name the line and column of the set operation and both sides', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    const cases: [string, string][] = [
      ['SELECT auction, price FROM bid\nUNION ALL SELECT channel, price FROM bid', "line 2, column 1: UNION ALL: column 1 is 'auction' BIGINT NOT NULL on the left and 'channel' STRING NOT NULL on the right; CAST one side to the other's type. The left's columns: (auction BIGINT NOT NULL, price BIGINT NOT NULL); the right's: (channel STRING NOT NULL, price BIGINT NOT NULL)"],
      ['SELECT auction, price FROM bid UNION ALL SELECT auction FROM bid', 'line 1, column 32: UNION ALL: the left query has 2 columns (auction BIGINT NOT NULL, price BIGINT NOT NULL), the right 1 (auction BIGINT NOT NULL)'],
      ['SELECT auction FROM bid UNION SELECT auction FROM bid', 'line 1, column 25: UNION is not supported (it removes duplicates: an updating operation); the nearest supported form is UNION ALL'],
      ['SELECT auction FROM bid EXCEPT SELECT auction FROM bid', 'line 1, column 25: EXCEPT is not supported'],
    ];
    for (const [q, msg] of cases) await expect(tEnv.sqlQuery(q), q).rejects.toThrow(msg);
  });
});
