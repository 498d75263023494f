/**
 * GROUP BY expressions (GROUP BY price / 100, a CASE) in the updating aggregation and in window
 * aggregations, the same expression in the select list and HAVING reading the group's key; on
 * both engines against DuckDB over the same bids.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, SqlError, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from './bids.js';
import { duckRows, duckWithBids, sortRows, type Duck } from './duck.js';
import { applied, type Change } from './changes.js';

const EVENTS = 20_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());



async function run(engine: EngineName, query: string, updating: boolean): Promise<string[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const t = await tEnv.sqlQuery(query);
  if (updating) {
    const sink = new CollectSink<Change>();
    t.toChangelogStream().sinkTo(sink);
    await env.execute();
    return applied(sink.records);
  }
  const sink = new CollectSink();
  t.toDataStream().sinkTo(sink);
  await env.execute();
  return sortRows(sink.records);
}

describe('SQL GROUP BY expressions', () => {
  it('updating: GROUP BY price / 100 with the expression selected and in HAVING', async () => {
    const q = 'SELECT price / 100 AS bucket, COUNT(*) AS n, MAX(bidder) AS top FROM bid GROUP BY price / 100 HAVING price / 100 < 50 AND COUNT(*) > 2';
    const { native } = await onBothEngines((engine) => run(engine, q, true));
    const expected = await duckRows(duck, 'SELECT price // 100 AS bucket, COUNT(*) AS n, MAX(bidder) AS top FROM bid GROUP BY price // 100 HAVING price // 100 < 50 AND COUNT(*) > 2');
    expect(native).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(5);
  });

  it('updating: GROUP BY a column and a CASE, the CASE inside another expression of the select list', async () => {
    const q = "SELECT channel, CONCAT('band-', CASE WHEN price > 10000 THEN 'high' ELSE 'low' END) AS band, SUM(price) AS total FROM bid GROUP BY channel, CASE WHEN price > 10000 THEN 'high' ELSE 'low' END";
    const { native } = await onBothEngines((engine) => run(engine, q, true));
    const expected = await duckRows(duck, "SELECT channel, CONCAT('band-', CASE WHEN price > 10000 THEN 'high' ELSE 'low' END) AS band, SUM(price) AS total FROM bid GROUP BY channel, CASE WHEN price > 10000 THEN 'high' ELSE 'low' END");
    expect(native).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(4);
  });

  it('window: TUMBLE GROUP BY window_start, window_end, MOD(auction, 10)', async () => {
    const q = "SELECT window_start, MOD(auction, 10) AS m, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '100' MILLISECOND)) GROUP BY window_start, window_end, MOD(auction, 10)";
    const { native } = await onBothEngines((engine) => run(engine, q, false));
    const expected = await duckRows(duck, 'SELECT (dateTime // 100) * 100 AS window_start, auction % 10 AS m, COUNT(*) AS n FROM bid GROUP BY ALL');
    expect(native).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(20);
  });

  it('refuses a column that is only inside a grouped expression, at its line and column', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    const e = await tEnv.sqlQuery('SELECT price, COUNT(*) FROM bid\nGROUP BY price / 100').then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(SqlError);
    expect([(e as SqlError).line, (e as SqlError).column]).toEqual([1, 8]);
    expect((e as SqlError).message).toContain("the column 'price' is neither grouped nor aggregated");
  });
});
