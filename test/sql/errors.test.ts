/**
 * SQL errors name the line and column of the SQL text and say what to do: syntax errors,
 * unknown columns (listing the columns there are), unknown tables and functions (naming the
 * nearest), unsupported constructs (naming the nearest supported one).
 */

import { describe, expect, it } from 'vitest';
import { SqlError, StreamEnvironment, TableEnvironment } from '../../ts/index.js';

const BID_DDL = `CREATE TABLE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, \`dateTime\` TIMESTAMP(3), extra STRING,
  WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND
) WITH ('connector' = 'nexmark', 'events' = '1000')`;

async function tEnv(): Promise<TableEnvironment> {
  const t = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
  await t.executeSql(BID_DDL);
  await t.executeSql("CREATE TABLE sink_t (a BIGINT, b STRING) WITH ('connector' = 'blackhole')");
  return t;
}

async function error(f: () => Promise<unknown>): Promise<SqlError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof SqlError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('SQL errors', () => {
  it('name line and column, and say what to do', async () => {
    const t = await tEnv();
    const cases: [string, number, number, string][] = [
      ['SELECT auction,\n  prize FROM bid', 2, 3, "unknown column 'prize'; the columns are: auction, bidder, price, channel, url, dateTime, extra"],
      ['SELECT auction FROM bid\nWHERE MOD(bidder, 2) = 0 AND x.price > 1', 2, 30, "unknown table 'x' in x.price; the tables here are: bid"],
      ['SELECT auction FROM bids', 1, 21, "unknown table 'bids'; did you mean 'bid'?"],
      ['SELECT UPPR(channel) FROM bid', 1, 8, 'unknown function UPPR; the nearest supported one is UPPER'],
      ['WITH x (a, b) AS (SELECT auction FROM bid) SELECT a FROM x', 1, 9, 'WITH x names 2 columns, its query has 1 (auction)'],
      ["SELECT window_start, COUNT(*) FROM TABLE(CUMULATE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '3' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end", 1, 42, "CUMULATE's max size (10000 ms) must be a whole multiple of its step (3000 ms)"],
      ['SELECT auction, price FROM bid GROUP BY auction', 1, 17, "the column 'price' is neither grouped nor aggregated; add it to GROUP BY or aggregate it (e.g. MAX(price))"],
      ['SELECT a.auction FROM bid a LEFT JOIN bid b ON a.auction = b.auction AND a.price > 5', 1, 48, "an outer join's ON takes only equalities between the sides' columns"],
      ["SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(url), INTERVAL '2' SECOND)) GROUP BY window_start, window_end", 1, 71, "windows run on the table's event time 'dateTime'"],
      ['SELECT CAST(price AS DECIMAL(10, 2)) FROM bid', 1, 22, 'type DECIMAL(10, 2) is not supported; the nearest supported type is DOUBLE'],
      ['SELECT auction FROM bid WHERE price > ', 1, 39, 'the statement is incomplete'],
      ['SELECT auction, dateTime FROM bid', 1, 17, 'quote it with backticks (`dateTime`)'],
      ["SELECT bidder, COUNT(*) FROM TABLE(\n  SESSION(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) GROUP BY bidder, window_start, window_end", 2, 3, "a SESSION window's sessions are per PARTITION BY key: group by exactly its keys (GROUP BY window_start, window_end), or partition by the grouped keys (SESSION(TABLE t PARTITION BY bidder"],
      ['SELECT EXTRACT(MILLENNIUM FROM `dateTime`) FROM bid', 1, 8, 'EXTRACT(MILLENNIUM FROM `dateTime`): EXTRACT takes one of the units YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, HOUR, MINUTE, SECOND'],
      ['SELECT auction,\n  channel || 1 AS x FROM bid', 2, 3, 'CONCAT(channel, 1): needs strings, got utf8, i32; CAST the others to utf8'],
      ['SELECT auction FROM bid WHERE channel + 1 > 2', 1, 31, '(channel + 1): '],
    ];
    const got = [];
    for (const [sql, , , text] of cases) {
      const e = await error(() => t.sqlQuery(sql));
      got.push([sql, e.line, e.column, e.message.includes(text) ? text : e.message]);
    }
    expect(got).toEqual(cases);
  });

  it('in DDL and INSERT INTO', async () => {
    const t = await tEnv();
    const cases: [string, number, number, string][] = [
      ["CREATE TABLE x (a BIGINT) WITH ('connector' = 'kafkaa')", 1, 47, "connector 'kafkaa' is not supported in SQL; the nearest is 'kafka'"],
      ["CREATE TABLE x (a BIGINT) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'evnts' = '5')", 1, 74, "connector 'nexmark' has no option 'evnts'; its options are: connector, kind, events"],
      ["CREATE TABLE bid2 (auction INT) WITH ('connector' = 'nexmark', 'kind' = 'bid')", 1, 20, "the Nexmark bid column 'auction' is BIGINT, declared INT"],
      ["CREATE TABLE x (a BIGINT, ts BIGINT, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'blackhole')", 1, 27, 'the column must be TIMESTAMP(3), it is BIGINT'],
      ['INSERT INTO sink_t SELECT auction FROM bid', 1, 20, 'INSERT INTO sink_t: the query has 1 columns (auction), the table 2 (a, b)'],
      ['INSERT INTO sink_t SELECT auction, price FROM bid', 1, 20, "column 2 'price' is BIGINT, the table's 'b' is STRING; CAST it in the query"],
      ['INSERT INTO bid SELECT * FROM bid', 1, 13, "connector 'nexmark') is a source only"],
    ];
    const got = [];
    for (const [sql, , , text] of cases) {
      const e = await error(() => t.executeSql(sql));
      got.push([sql, e.line, e.column, e.message.includes(text) ? text : e.message]);
    }
    expect(got).toEqual(cases);
  });
});
