/**
 * Window top-N in SQL (ROW_NUMBER() OVER (PARTITION BY window_start, window_end ... ORDER BY ...)
 * with the rank limited in the enclosing WHERE), over a window TVF's rows and over a window
 * aggregation's result, on both engines, against DuckDB ranking the same bids (with the ties
 * broken as Sluice documents: the row's other columns in order, ascending).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from './bids.js';
import { duckRows, duckWithBids, sortRows, type Duck } from './duck.js';

const EVENTS = 30_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());

async function run(engine: EngineName, query: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const sink = new CollectSink();
  (await tEnv.sqlQuery(query)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('SQL window top-N', () => {
  it('over TUMBLE rows: the first 3 bids per 100 ms window by channel, ties broken by the other columns, equals DuckDB', async () => {
    const q = `SELECT * FROM (
        SELECT auction, bidder, price, channel, window_start, window_end,
               ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY channel) AS rownum
        FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND)))
      WHERE rownum <= 3`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(
      duck,
      `SELECT auction, bidder, price, channel, ws AS window_start, ws + 100 AS window_end, rownum FROM (
         SELECT *, (dateTime // 100) * 100 AS ws,
           ROW_NUMBER() OVER (PARTITION BY dateTime // 100 ORDER BY channel, auction, bidder, price, url, dateTime, extra) AS rownum FROM bid)
       WHERE rownum <= 3`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(20);
    // One window's rows come together, in rank order.
    expect(native.slice(0, 3).map((r) => r.rownum)).toEqual([1, 2, 3]);
  });

  it('after a HOP window aggregation, per channel, with another condition in the WHERE, equals DuckDB', async () => {
    const q = `SELECT window_start, window_end, channel, auction, num, rownum FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, channel ORDER BY num DESC) AS rownum FROM (
          SELECT window_start, window_end, channel, auction, COUNT(*) AS num
          FROM TABLE(HOP(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND, INTERVAL '200' MILLISECOND))
          GROUP BY window_start, window_end, channel, auction))
      WHERE rownum <= 2 AND num > 1`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(
      duck,
      `WITH w AS (SELECT channel, auction, (dateTime // 100) * 100 - k * 100 AS ws FROM bid, range(2) r(k)),
            c AS (SELECT ws, channel, auction, COUNT(*) AS num FROM w GROUP BY ALL),
            r AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY ws, channel ORDER BY num DESC, auction) AS rownum FROM c)
       SELECT ws AS window_start, ws + 200 AS window_end, channel, auction, num, rownum FROM r WHERE rownum <= 2 AND num > 1`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(200);
  });

  it('rownum = 1 over a TUMBLE aggregation (the top auction per window), as a view', async () => {
    const q = `SELECT window_start, auction, num FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY num DESC, auction ASC) AS rk FROM counts)
      WHERE rk = 1`;
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      await tEnv.executeSql("CREATE VIEW counts AS SELECT window_start, window_end, auction, COUNT(*) AS num FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '200' MILLISECOND)) GROUP BY window_start, window_end, auction");
      const sink = new CollectSink();
      (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
      await env.execute();
      return sink.records;
    });
    const expected = await duckRows(
      duck,
      `SELECT ws AS window_start, auction, num FROM (
         SELECT ws, auction, num, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY num DESC, auction) AS rk
         FROM (SELECT (dateTime // 200) * 200 AS ws, auction, COUNT(*) AS num FROM bid GROUP BY ALL)) WHERE rk = 1`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(10);
  });
});

describe('SQL window top-N over a ranking view', () => {
  it('CREATE VIEW ranked AS SELECT ..., ROW_NUMBER() ...; SELECT ... FROM ranked r WHERE rn <= 2 equals the subquery form', async () => {
    const agg = "SELECT window_start, window_end, auction, COUNT(*) AS num FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '200' MILLISECOND)) GROUP BY window_start, window_end, auction";
    const ranking = `SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rn FROM (${agg})`;
    const viaView = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      await tEnv.executeSql(`CREATE VIEW ranked AS ${ranking}`);
      const sink = new CollectSink();
      (await tEnv.sqlQuery('SELECT r.window_start, r.auction, r.num, rn FROM ranked r WHERE rn <= 2 AND r.num > 1')).toDataStream().sinkTo(sink);
      await env.execute();
      return sink.records;
    });
    const direct = await run('native', `SELECT window_start, auction, num, rn FROM (${ranking}) WHERE rn <= 2 AND num > 1`);
    expect(sortRows(viaView.native)).toEqual(sortRows(direct));
    expect(direct.length).toBeGreaterThan(10);
  });
});

describe('SQL window top-N columns', () => {
  it("SELECT * of a TVF's rows has the table's columns, window_start, window_end and the rank", async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    const t = await tEnv.sqlQuery("SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND))) WHERE rownum <= 1");
    expect(t.getSchema().names()).toEqual(['auction', 'bidder', 'price', 'channel', 'url', 'dateTime', 'extra', 'window_start', 'window_end', 'rownum']);
    expect(t.getSchema().field('rownum').type).toBe('i64');
  });
});

describe('SQL window top-N errors', () => {
  it('name line and column and the form to write', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    await tEnv.executeSql(bidDdl(1000));
    const tvf = "TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND))";
    const cases: [string, string][] = [
      [`SELECT * FROM (SELECT price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn FROM ${tvf})`, 'line 1, column 16: window top-N needs a limit on the rank in the enclosing WHERE'],
      [`SELECT * FROM (SELECT price, SUM(price) OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn FROM ${tvf}) WHERE rn <= 2`, 'line 1, column 30: SUM(price): only ROW_NUMBER(), RANK() and DENSE_RANK() are supported with OVER'],
      [`SELECT * FROM (SELECT price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM ${tvf}) WHERE rn <= 2`, 'line 1, column 49: window top-N partitions by the window: PARTITION BY window_start, window_end'],
      [`SELECT price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn FROM bid`, 'line 1, column 15: OVER windows are supported only as window top-N'],
      [`SELECT * FROM (SELECT price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY prise DESC) AS rn FROM ${tvf}) WHERE rn <= 2`, "unknown column 'prise'; the columns are: auction, bidder, price"],
      [`SELECT * FROM (SELECT price, ROW_NUMBER() OVER (PARTITION BY bidder ORDER BY price DESC) AS rn FROM bid) WHERE rn <= 0`, 'line 1, column 118: compare rn with a whole number of at least 1'],
      [`SELECT * FROM (SELECT price, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rn FROM ${tvf}) WHERE rn >= 2`, 'window top-N needs a limit on the rank in the enclosing WHERE'],
    ];
    for (const [q, msg] of cases) await expect(tEnv.sqlQuery(q), q).rejects.toThrow(msg);
  });
});
