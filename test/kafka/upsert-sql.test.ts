// Flink's 'upsert-kafka' SQL connector (a sink) against the real broker, on both engines: an
// updating query INSERTed INTO a table with PRIMARY KEY (...) NOT ENFORCED writes each change
// as a record keyed by the key's JSON, updates as the new value, deletes as tombstones (null
// values), update-befores not at all. Read back with the client (every record of a key is in
// one partition, in order), the latest value per key equals DuckDB's result over the same
// bids. The planner refuses an updating query into an append-only sink, and an upsert-kafka
// table without a primary key, with Flink's messages at their line and column.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SqlError, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from '../sql/bids.js';
import { duckRows, duckWithBids, type Duck } from '../sql/duck.js';
import { createTopic, readCommitted, uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const EVENTS = 10_000;
const work = mkdtempSync(join(tmpdir(), 'sluice-upsert-kafka-'));
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());

/** Runs `INSERT INTO out_t <query>` into a fresh upsert-kafka topic; the topic's records. */
async function upsertRun(engine: EngineName, columns: string, query: string, extra = '', checkpoints = false): Promise<{ key: string | null; value: string }[]> {
  const topic = `upsert-${engine}-${uid()}`;
  await createTopic(bootstrap, topic, 3);
  const env = StreamEnvironment.create({ engine, batchSize: 256 });
  if (checkpoints) env.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  await tEnv.executeSql(`CREATE TABLE out_t (${columns}) WITH ('connector' = 'upsert-kafka', 'topic' = '${topic}', 'properties.bootstrap.servers' = '${bootstrap}', 'key.format' = 'json', 'value.format' = 'json'${extra})`);
  await tEnv.executeSql(`INSERT INTO out_t ${query}`);
  return (await readCommitted(bootstrap, topic, checkpoints)).map((r) => ({ key: r.key, value: r.value }));
}

/** The table the records leave: per key its last value; a tombstone (the reader gives '' for a null value) deletes it. */
function latest(records: readonly { key: string | null; value: string }[]): { table: Map<string, unknown>; tombstones: number } {
  const table = new Map<string, unknown>();
  let tombstones = 0;
  for (const r of records) {
    expect(r.key, 'every upsert record has a key').not.toBeNull();
    if (r.value === '') {
      expect(table.has(r.key!), `a tombstone for a key that is not there: ${r.key}`).toBe(true);
      table.delete(r.key!);
      tombstones++;
    } else table.set(r.key!, JSON.parse(r.value));
  }
  return { table, tombstones };
}

describe("SQL 'connector' = 'upsert-kafka'", () => {
  it('an updating GROUP BY: one record per change, the last value per auction equals DuckDB; EXCEPT_KEY values', async () => {
    const out = await onBothEngines(async (engine) => {
      const records = await upsertRun(engine, 'auction BIGINT, n BIGINT, top BIGINT, PRIMARY KEY (auction) NOT ENFORCED', 'SELECT auction, COUNT(*), MAX(price) FROM bid GROUP BY auction', ", 'value.fields-include' = 'EXCEPT_KEY'");
      const { table, tombstones } = latest(records);
      expect(tombstones).toBe(0);
      // More records than keys: the updates (the -U's are not written).
      expect(records.length).toBeGreaterThan(table.size);
      return [...table].map(([k, v]) => JSON.stringify({ ...(JSON.parse(k) as object), ...(v as object) })).sort();
    });
    const expected = (await duckRows(duck, 'SELECT auction, COUNT(*) AS n, MAX(price) AS top FROM bid GROUP BY auction')).map((r) => JSON.stringify(r)).sort();
    expect(out.native).toEqual(expected);
  });

  it('a top 3 by price (ORDER BY ... LIMIT: deletes as tombstones), keyed by three columns, exactly-once with checkpoints', async () => {
    const out = await onBothEngines(async (engine) => {
      const records = await upsertRun(
        engine,
        'auction BIGINT, bidder BIGINT, `dateTime` TIMESTAMP(3), price BIGINT, PRIMARY KEY (auction, bidder, `dateTime`) NOT ENFORCED',
        'SELECT auction, bidder, `dateTime`, price FROM bid ORDER BY price DESC, auction LIMIT 3',
        `, 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-${uid()}'`,
        true,
      );
      const { table, tombstones } = latest(records);
      expect(tombstones).toBeGreaterThan(0);
      for (const [k, v] of table) expect(JSON.parse(k)).toEqual({ auction: (v as { auction: number }).auction, bidder: (v as { bidder: number }).bidder, dateTime: (v as { dateTime: number }).dateTime });
      return [...table.values()].map((v) => JSON.stringify(v)).sort();
    });
    const expected = (await duckRows(duck, 'SELECT auction, bidder, dateTime, price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra LIMIT 3')).map((r) => JSON.stringify(r)).sort();
    expect(out.native).toEqual(expected);
  });

  it("refuses with Flink's messages at line and column: no primary key, ENFORCED, an updating query into 'kafka'", async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(1000));
    await tEnv.executeSql(`CREATE TABLE plain (auction BIGINT, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'x', 'properties.bootstrap.servers' = '${bootstrap}', 'format' = 'json')`);
    const cases: [string, number, number, string][] = [
      [`CREATE TABLE u1 (a BIGINT, b BIGINT)\nWITH ('connector' = 'upsert-kafka', 'topic' = 't', 'properties.bootstrap.servers' = '${bootstrap}', 'key.format' = 'json', 'value.format' = 'json')`, 1, 1, "'upsert-kafka' tables require to define a PRIMARY KEY constraint"],
      [`CREATE TABLE u2 (a BIGINT,\n  PRIMARY KEY (a)) WITH ('connector' = 'print')`, 2, 3, "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint"],
      [`CREATE TABLE u3 (a BIGINT, PRIMARY KEY (b) NOT ENFORCED) WITH ('connector' = 'print')`, 1, 28, "PRIMARY KEY: no column 'b'; the columns are: a"],
      ['INSERT INTO plain\nSELECT auction, COUNT(*) FROM bid GROUP BY auction', 2, 1, "Table sink 'plain' (connector 'kafka') doesn't support consuming update and delete changes which is produced by node GroupAggregate(groupBy=[auction]"],
    ];
    const got: [string, number, number, string][] = [];
    for (const [sql, line, col, text] of cases) {
      const e = await tEnv.executeSql(sql).then(() => null, (x: unknown) => x);
      expect(e, sql).toBeInstanceOf(SqlError);
      const err = e as SqlError;
      got.push([sql, err.line, err.column, err.message.includes(text) ? text : err.message]);
    }
    expect(got).toEqual(cases);
  });
});
