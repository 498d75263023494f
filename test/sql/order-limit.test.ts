/**
 * ORDER BY (event time first, ascending: a temporal sort) and LIMIT, as Flink's streaming SQL
 * allows them, on both engines against DuckDB over the same bids, in order (ties broken by the
 * row's other columns, as documented); errors for the forms a stream cannot sort.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';
import { duckRows, duckWithBids, type Duck } from './duck.js';

const EVENTS = 20_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());

async function run(engine: EngineName, q: string, parallelism?: number): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine, ...(parallelism === undefined ? {} : { parallelism }) });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const sink = new CollectSink();
  (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('SQL ORDER BY event time and LIMIT', () => {
  it('ORDER BY `dateTime`, price DESC: every row, in the order DuckDB sorts them', async () => {
    const q = 'SELECT auction, bidder, price, channel, `dateTime` FROM bid WHERE MOD(auction, 7) = 0 ORDER BY `dateTime`, price DESC';
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(duck, 'SELECT auction, bidder, price, channel, dateTime AS "dateTime" FROM bid WHERE auction % 7 = 0 ORDER BY dateTime, price DESC, auction, bidder, channel');
    expect(native).toEqual(expected);
    expect(native.length).toBeGreaterThan(1000);
  });

  it('ORDER BY a window aggregation’s window_end, then its count, with LIMIT', async () => {
    const q = `SELECT window_end, auction, num FROM (
        SELECT window_start, window_end, auction, COUNT(*) AS num FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND))
        GROUP BY window_start, window_end, auction)
      ORDER BY window_end, num DESC LIMIT 40`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(duck, 'SELECT (dateTime // 100) * 100 + 100 AS window_end, auction, COUNT(*) AS num FROM bid GROUP BY ALL ORDER BY window_end, num DESC, auction LIMIT 40');
    expect(native).toEqual(expected);
  });

  it('LIMIT alone: the first rows as they arrive (at parallelism 1, the generator order)', async () => {
    const { native } = await onBothEngines((engine) => run(engine, 'SELECT auction, price FROM bid WHERE price > 1000 LIMIT 25', 1));
    const bids = await generatedBids(EVENTS);
    expect(native).toEqual(bids.filter((b) => b.price > 1000).slice(0, 25).map((b) => ({ auction: b.auction, price: b.price })));
  });

  it('errors say what a stream can sort', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(100));
    const cases: [string, string][] = [
      ['SELECT auction, `dateTime` FROM bid ORDER BY price', "line 1, column 46: unknown column 'price'; the columns are: auction, dateTime"],
      ['SELECT price, `dateTime` FROM bid ORDER BY price, `dateTime`', 'line 1, column 44: a streaming ORDER BY sorts on event time first, ascending: ORDER BY dateTime, ...'],
      ['SELECT price, `dateTime` FROM bid ORDER BY `dateTime` DESC', 'line 1, column 44: a streaming ORDER BY sorts on event time first, ascending: ORDER BY dateTime'],
      ['SELECT price FROM bid ORDER BY price', "line 1, column 32: a streaming ORDER BY sorts on event time first, and this query has no event-time column"],
      ['SELECT price FROM bid LIMIT 1 + 1', "line 1, column 29: LIMIT takes a whole number of rows, e.g. LIMIT 10; got '1 + 1'"],
    ];
    for (const [q, msg] of cases) await expect(tEnv.sqlQuery(q), q).rejects.toThrow(msg);
  });
});
