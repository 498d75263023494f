/**
 * The CUMULATE and SESSION window TVFs in SQL, on both engines, against DuckDB over the same bids:
 * CUMULATE as one tumbling aggregation per step (unioned), SESSION (with PARTITION BY) as the
 * built-in session windows per key.
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

async function run(engine: EngineName, query: string, plan?: (explain: string) => void): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  const sink = new CollectSink();
  (await tEnv.sqlQuery(query)).toDataStream().sinkTo(sink);
  plan?.(env.explain());
  await env.execute();
  return sink.records;
}

// DuckDB: a bid at t is in the cumulating windows [s, s + k*step) with s = floor(t / max) * max and s + k*step > t.
const cumulating = (step: number, max: number, cols: string): string =>
  `SELECT ${cols}, (dateTime // ${max}) * ${max} AS ws, (dateTime // ${max}) * ${max} + k * ${step} AS we FROM bid, range(1, ${max / step + 1}) r(k) WHERE dateTime < (dateTime // ${max}) * ${max} + k * ${step}`;

describe('SQL CUMULATE and SESSION window TVFs', () => {
  it('CUMULATE (100 ms steps up to 500 ms) per channel: COUNT, SUM, COUNT DISTINCT, MAX equal DuckDB', async () => {
    const q = `SELECT window_start, window_end, channel, COUNT(*) AS num, SUM(price) AS total, COUNT(DISTINCT bidder) AS bidders, MAX(price) AS top
      FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND, INTERVAL '500' MILLISECOND))
      GROUP BY window_start, window_end, channel`;
    const { native } = await onBothEngines((engine) =>
      run(engine, q, (plan) => {
        // One tumbling aggregation of 500 ms per step, their ends 100 ms apart.
        expect(plan.match(/GroupWindowAggregate\(TumblingEventTimeWindows\(500 ms/g)?.length ?? plan).toBe(5);
      }),
    );
    const expected = await duckRows(
      duck,
      `SELECT ws AS window_start, we AS window_end, channel, COUNT(*) AS num, SUM(price) AS total, COUNT(DISTINCT bidder) AS bidders, MAX(price) AS top
       FROM (${cumulating(100, 500, 'channel, price, bidder')}) GROUP BY ALL`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(1000);
  });

  it('window top-N over a CUMULATE aggregation: the top 2 auctions by bids in each cumulating window', async () => {
    const q = `SELECT window_start, window_end, auction, num, rn FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY num DESC) AS rn FROM (
          SELECT window_start, window_end, auction, COUNT(*) AS num
          FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '200' MILLISECOND, INTERVAL '600' MILLISECOND))
          GROUP BY window_start, window_end, auction))
      WHERE rn <= 2`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    const expected = await duckRows(
      duck,
      `SELECT ws AS window_start, we AS window_end, auction, num, rn FROM (
         SELECT *, ROW_NUMBER() OVER (PARTITION BY ws, we ORDER BY num DESC, auction) AS rn
         FROM (SELECT ws, we, auction, COUNT(*) AS num FROM (${cumulating(200, 600, 'auction')}) GROUP BY ALL)) WHERE rn <= 2`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(20);
  });

  it('SESSION with PARTITION BY bidder (100 ms gap): sessions per bidder equal DuckDB', async () => {
    const q = `SELECT window_start, window_end, bidder, COUNT(*) AS num, MAX(price) AS top
      FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND))
      GROUP BY window_start, window_end, bidder`;
    const { native } = await onBothEngines((engine) => run(engine, q, (plan) => expect(plan).toContain('SessionWindow')));
    // Windows [t, t + gap) that touch merge (as Flink's): a bid more than 100 ms after the bidder's previous one starts a new session [first, last + gap).
    const expected = await duckRows(
      duck,
      `WITH marked AS (SELECT bidder, price, dateTime, CASE WHEN dateTime - LAG(dateTime) OVER (PARTITION BY bidder ORDER BY dateTime) <= 100 THEN 0 ELSE 1 END AS starts FROM bid),
            numbered AS (SELECT *, SUM(starts) OVER (PARTITION BY bidder ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS s FROM marked)
       SELECT MIN(dateTime) AS window_start, MAX(dateTime) + 100 AS window_end, bidder, COUNT(*) AS num, MAX(price) AS top FROM numbered GROUP BY bidder, s`,
    );
    expect(sortRows(native)).toEqual(sortRows(expected));
    expect(native.length).toBeGreaterThan(500);
  });

  it('SESSION without PARTITION BY: sessions over all rows of a view (a 3 ms gap), and PARTITION BY (a, b)', async () => {
    const all = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      await tEnv.executeSql('CREATE VIEW few AS SELECT * FROM bid WHERE MOD(auction, 16) = 3');
      const sink = new CollectSink();
      (await tEnv.sqlQuery("SELECT window_start, window_end, COUNT(*) AS num FROM TABLE(SESSION(TABLE few, DESCRIPTOR(`dateTime`), INTERVAL '3' MILLISECOND)) GROUP BY window_start, window_end")).toDataStream().sinkTo(sink);
      await env.execute();
      return sink.records;
    });
    const expectedAll = await duckRows(
      duck,
      `WITH marked AS (SELECT dateTime, CASE WHEN dateTime - LAG(dateTime) OVER (ORDER BY dateTime) <= 3 THEN 0 ELSE 1 END AS starts FROM bid WHERE auction % 16 = 3),
            numbered AS (SELECT *, SUM(starts) OVER (ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS s FROM marked)
       SELECT MIN(dateTime) AS window_start, MAX(dateTime) + 3 AS window_end, COUNT(*) AS num FROM numbered GROUP BY s`,
    );
    expect(sortRows(all.native)).toEqual(sortRows(expectedAll));
    expect(all.native.length).toBeGreaterThan(10);

    const two = await onBothEngines((engine) =>
      run(engine, "SELECT bidder, channel, window_end, COUNT(*) AS num FROM TABLE(SESSION(TABLE bid PARTITION BY (bidder, channel), DESCRIPTOR(`dateTime`), INTERVAL '50' MILLISECOND)) GROUP BY window_start, window_end, channel, bidder"),
    );
    const expectedTwo = await duckRows(
      duck,
      `WITH marked AS (SELECT bidder, channel, dateTime, CASE WHEN dateTime - LAG(dateTime) OVER (PARTITION BY bidder, channel ORDER BY dateTime) <= 50 THEN 0 ELSE 1 END AS starts FROM bid),
            numbered AS (SELECT *, SUM(starts) OVER (PARTITION BY bidder, channel ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS s FROM marked)
       SELECT bidder, channel, MAX(dateTime) + 50 AS window_end, COUNT(*) AS num FROM numbered GROUP BY bidder, channel, s`,
    );
    expect(sortRows(two.native)).toEqual(sortRows(expectedTwo));
  });

  it('window_time (window_end - 1 ms) is a time attribute: a 1 s TUMBLE over 200 ms counts equals the 1 s counts', async () => {
    const cascaded = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      await tEnv.executeSql("CREATE VIEW fine AS SELECT window_start AS ws, window_time, channel, COUNT(*) AS num FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '200' MILLISECOND)) GROUP BY window_start, window_end, channel");
      const sink = new CollectSink();
      (await tEnv.sqlQuery("SELECT window_start, window_end, channel, SUM(num) AS num, MAX(window_time) AS last FROM TABLE(TUMBLE(TABLE fine, DESCRIPTOR(window_time), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, channel")).toDataStream().sinkTo(sink);
      await env.execute();
      return sink.records;
    });
    const expected = await duckRows(
      duck,
      'SELECT (dateTime // 1000) * 1000 AS window_start, (dateTime // 1000) * 1000 + 1000 AS window_end, channel, COUNT(*) AS num, MAX((dateTime // 200) * 200 + 199) AS last FROM bid GROUP BY ALL',
    );
    expect(sortRows(cascaded.native)).toEqual(sortRows(expected));
    expect(cascaded.native.length).toBeGreaterThan(20);
  });

  it("GROUP BY a window aggregation's window columns (window propagation): sessions ending together stay apart, window_end read outside and inside aggregates", async () => {
    // Sessions per bidder (10 ms gap), then per (start, end) and per (start, end, bidder % 4): many
    // sessions share an end with others of another start. window_end is planned as the 1 ms
    // window's end (not a key); inside MAX it is the column.
    const sessions = "SELECT window_start AS ws, window_end AS we, MOD(bidder, 4) AS part, COUNT(*) AS num FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), INTERVAL '10' MILLISECOND)) GROUP BY window_start, window_end, bidder";
    const perWindow = `SELECT ws, we, COUNT(*) AS sessions, MAX(num) AS top, MAX(we) - MIN(ws) AS span FROM (${sessions}) GROUP BY ws, we HAVING we - ws > 10`;
    const perChannel = `SELECT we, part, ws, SUM(num) AS num FROM (${sessions}) GROUP BY we, part, ws`;
    const got = await onBothEngines(async (engine) => ({
      perWindow: await run(engine, perWindow, (plan) => expect(plan).toContain('groupBy=[ws]')),
      perChannel: await run(engine, perChannel, (plan) => expect(plan).toContain('groupBy=[part, ws]')),
    }));
    const sessionsDuck = `WITH marked AS (SELECT bidder, dateTime, CASE WHEN dateTime - LAG(dateTime) OVER (PARTITION BY bidder ORDER BY dateTime) <= 10 THEN 0 ELSE 1 END AS starts FROM bid),
            numbered AS (SELECT *, SUM(starts) OVER (PARTITION BY bidder ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS s FROM marked),
            sessions AS (SELECT MIN(dateTime) AS ws, MAX(dateTime) + 10 AS we, bidder % 4 AS part, COUNT(*) AS num FROM numbered GROUP BY bidder, s)`;
    const expectedWindow = await duckRows(duck, `${sessionsDuck} SELECT ws, we, COUNT(*) AS sessions, MAX(num) AS top, MAX(we) - MIN(ws) AS span FROM sessions GROUP BY ws, we HAVING we - ws > 10`);
    const expectedChannel = await duckRows(duck, `${sessionsDuck} SELECT we, part, ws, SUM(num) AS num FROM sessions GROUP BY we, part, ws`);
    expect(sortRows(got.native.perWindow)).toEqual(sortRows(expectedWindow));
    expect(sortRows(got.native.perChannel)).toEqual(sortRows(expectedChannel));
    // Ends shared by sessions of different starts: the case a key on the end alone would merge.
    const ends = new Map<unknown, Set<unknown>>();
    for (const r of expectedChannel) ends.set(r.we, (ends.get(r.we) ?? new Set()).add(r.ws));
    expect([...ends.values()].filter((s) => s.size > 1).length).toBeGreaterThan(10);
    expect(got.native.perWindow.length).toBeGreaterThan(100);
  });

  it('errors name line and column and the form to write', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    const cases: [string, string][] = [
      ["SELECT window_start, COUNT(*) AS n FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '3' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end", "line 1, column 47: CUMULATE's max size (10000 ms) must be a whole multiple of its step (3000 ms)"],
      ["SELECT window_start, COUNT(*) AS n FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND, INTERVAL '1' HOUR)) GROUP BY window_start, window_end", 'CUMULATE with 3600 steps per window is not supported (at most 100'],
      ["SELECT window_start, COUNT(*) AS n FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, auction", "line 1, column 78: a SESSION window's sessions are per PARTITION BY key: group by exactly its keys (GROUP BY window_start, window_end, bidder)"],
      ["SELECT window_start, COUNT(*) AS n FROM TABLE(SESSION(TABLE bid PARTITION BY biddr, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, bidder", "line 1, column 78: unknown column 'biddr'"],
      ["SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND)) GROUP BY window_start, window_end", 'line 1, column 47: PARTITION BY belongs to the SESSION window TVF'],
      ["SELECT * FROM (SELECT bidder, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price) AS rn FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(`dateTime`), INTERVAL '1' SECOND))) WHERE rn <= 1", 'window top-N directly over SESSION rows is not supported'],
    ];
    for (const [q, msg] of cases) await expect(tEnv.sqlQuery(q), q).rejects.toThrow(msg);
  });
});
