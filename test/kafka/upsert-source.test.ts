// Reading an 'upsert-kafka' table (Flink's upsert-kafka source and ChangelogNormalize) from the
// real broker, on both engines: per key the last value, as +I for a key's first value, -U/+U for
// a later one, -D for a tombstone of a key that is there (a tombstone for a key that is not:
// nothing). Hand-written records give the exact changelog; a topic written by Sluice's own
// upsert-kafka sink (a top 3 with deletes), read back, gives DuckDB's rows, and a GROUP BY over
// the read table consumes its retractions. Bad records fail the job naming topic, partition and offset.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from '../sql/bids.js';
import { duckRows, duckWithBids, type Duck } from '../sql/duck.js';
import { createTopic, produce, uid } from './helpers.js';
import { applied, type Change } from '../sql/changes.js';

const bootstrap = inject('kafkaBootstrap');
const EVENTS = 10_000;
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());

const show = (r: Change): string => `${r.rowKind} ${Object.entries(r).filter(([k]) => k !== 'rowKind').map(([, v]) => JSON.stringify(v)).join(' ')}`;


const upsertTable = (name: string, columns: string, topic: string, extra = ''): string =>
  `CREATE TABLE ${name} (${columns}) WITH ('connector' = 'upsert-kafka', 'topic' = '${topic}', 'properties.bootstrap.servers' = '${bootstrap}', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset'${extra})`;

async function read(engine: EngineName, ddl: string, query: string): Promise<Change[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 256 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(ddl);
  const t = await tEnv.sqlQuery(query);
  expect(t.isUpdating()).toBe(true);
  const sink = new CollectSink<Change>();
  t.toChangelogStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe("SQL reading 'connector' = 'upsert-kafka'", () => {
  it('hand-written upserts and tombstones: the exact changelog (ChangelogNormalize), EXCEPT_KEY values', async () => {
    const topic = `upsert-src-${uid()}`;
    await createTopic(bootstrap, topic, 2);
    const k = (id: number, region: string): string => JSON.stringify({ id, region });
    await produce(bootstrap, topic, [
      { partition: 0, key: k(1, 'eu'), value: JSON.stringify({ name: 'ann', score: 10 }) },
      { partition: 0, key: k(2, 'us'), value: JSON.stringify({ name: 'bob', score: 7 }) },
      { partition: 0, key: k(1, 'eu'), value: JSON.stringify({ name: 'ann', score: 12 }) },
      // A tombstone for a key that is not there: nothing.
      { partition: 0, key: k(9, 'eu'), value: null },
      { partition: 0, key: k(2, 'us'), value: null },
      // The same key's JSON written differently (order, spacing) is the same key.
      { partition: 0, key: '{ "region": "eu", "id": 1 }', value: JSON.stringify({ name: null, score: 13 }) },
      { partition: 0, key: k(2, 'us'), value: JSON.stringify({ name: 'bo', score: 1 }) },
      { partition: 1, key: k(3, 'ap'), value: JSON.stringify({ name: 'cy', score: 5 }) },
    ]);
    const ddl = upsertTable('users', 'id BIGINT, region STRING, name STRING, score INT, PRIMARY KEY (id, region) NOT ENFORCED', topic, ", 'value.fields-include' = 'EXCEPT_KEY'");
    const out = await onBothEngines(async (engine) => {
      const changes = await read(engine, ddl, 'SELECT * FROM users');
      // Partitions are read concurrently: the order within each key is what is fixed.
      return { p0: changes.filter((c) => c.id !== 3).map(show), p1: changes.filter((c) => c.id === 3).map(show) };
    });
    expect(out.native.p0).toEqual([
      '+I 1 "eu" "ann" 10',
      '+I 2 "us" "bob" 7',
      '-U 1 "eu" "ann" 10',
      '+U 1 "eu" "ann" 12',
      '-D 2 "us" "bob" 7',
      '-U 1 "eu" "ann" 12',
      '+U 1 "eu" null 13',
      '+I 2 "us" "bo" 1',
    ]);
    expect(out.native.p1).toEqual(['+I 3 "ap" "cy" 5']);
  });

  it("a topic written by the upsert-kafka sink (a top 3: updates and tombstones) read back equals DuckDB's rows; a GROUP BY over it consumes the retractions", async () => {
    const topic = `upsert-roundtrip-${uid()}`;
    await createTopic(bootstrap, topic, 3);
    {
      const env = StreamEnvironment.create({ engine: 'native', batchSize: 256 });
      const tEnv = TableEnvironment.create(env);
      await tEnv.executeSql(bidDdl(EVENTS));
      await tEnv.executeSql(`CREATE TABLE top3 (auction BIGINT, bidder BIGINT, \`dateTime\` TIMESTAMP(3), price BIGINT, PRIMARY KEY (auction, bidder, \`dateTime\`) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '${topic}', 'properties.bootstrap.servers' = '${bootstrap}', 'key.format' = 'json', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY')`);
      await tEnv.executeSql('INSERT INTO top3 SELECT auction, bidder, `dateTime`, price FROM bid ORDER BY price DESC, auction LIMIT 3');
    }
    // A bid is unique by (auction, bidder, dateTime): the key of each row of the top 3.
    const ddl = upsertTable('top3', 'auction BIGINT, bidder BIGINT, `dateTime` TIMESTAMP(3), price BIGINT, PRIMARY KEY (auction, bidder, `dateTime`) NOT ENFORCED', topic, ", 'value.fields-include' = 'EXCEPT_KEY'");
    const rows = await onBothEngines(async (engine) => {
      const changes = await read(engine, ddl, 'SELECT * FROM top3');
      expect(changes.some((c) => c.rowKind === '-D')).toBe(true);
      return applied(changes);
    });
    const expected = (await duckRows(duck, 'SELECT auction, bidder, dateTime, price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra LIMIT 3')).map((r) => JSON.stringify(r)).sort();
    expect(rows.native).toEqual(expected);
    const agg = await onBothEngines(async (engine) => applied(await read(engine, ddl, 'SELECT COUNT(*) AS n, SUM(price) AS s FROM top3')));
    const sum = (await duckRows(duck, 'SELECT COUNT(*) AS n, SUM(price) AS s FROM (SELECT price FROM bid ORDER BY price DESC, auction, bidder, channel, url, dateTime, extra LIMIT 3)'))[0]!;
    expect(agg.native).toEqual([JSON.stringify({ n: sum.n, s: Number(sum.s) })]);
  });

  it("with a state TTL a key without records for the TTL is forgotten (its next value +I, its tombstone nothing); without one it is kept", async () => {
    const TTL = 500;
    const changes = await onBothEngines(async (engine) => {
      const out: Record<string, string[]> = {};
      for (const ttl of [TTL, 0]) {
        const topic = `upsert-ttl-${uid()}`;
        await createTopic(bootstrap, topic, 1);
        await produce(bootstrap, topic, [
          { partition: 0, key: JSON.stringify({ id: 1 }), value: JSON.stringify({ id: 1, v: 'a' }) },
          { partition: 0, key: JSON.stringify({ id: 2 }), value: JSON.stringify({ id: 2, v: 'b' }) },
        ]);
        const env = StreamEnvironment.create({ engine, batchSize: 256 });
        const tEnv = TableEnvironment.create(env);
        if (ttl > 0) await tEnv.executeSql(`SET 'table.exec.state.ttl' = '${ttl} ms'`);
        // Bounded at offset 5: the job reads the two records above, then waits for the three below.
        await tEnv.executeSql(upsertTable('t', 'id BIGINT, v STRING, PRIMARY KEY (id) NOT ENFORCED', topic).replace("'latest-offset'", "'specific-offsets', 'scan.bounded.specific-offsets' = 'partition:0,offset:5'"));
        const sink = new CollectSink<Change>();
        (await tEnv.sqlQuery('SELECT * FROM t')).toChangelogStream().sinkTo(sink);
        const job = env.execute();
        // The first two records were processed once their changes are out; then the TTL elapses (wall clock, as the job's).
        while (sink.records.length < 2) await new Promise((r) => setTimeout(r, 10));
        const seen = Date.now();
        while (Date.now() <= seen + ttl) await new Promise((r) => setTimeout(r, 10));
        await produce(bootstrap, topic, [
          { partition: 0, key: JSON.stringify({ id: 1 }), value: JSON.stringify({ id: 1, v: 'c' }) },
          { partition: 0, key: JSON.stringify({ id: 2 }), value: null },
          { partition: 0, key: JSON.stringify({ id: 3 }), value: JSON.stringify({ id: 3, v: 'd' }) },
        ]);
        await job;
        out[ttl] = sink.records.map(show);
      }
      return out;
    });
    expect(changes.native[TTL]).toEqual(['+I 1 "a"', '+I 2 "b"', '+I 1 "c"', '+I 3 "d"']);
    expect(changes.native[0]).toEqual(['+I 1 "a"', '+I 2 "b"', '-U 1 "a"', '+U 1 "c"', '-D 2 "b"', '+I 3 "d"']);
  });

  it('a value that does not fit the columns fails the job, naming topic, partition, offset and column', async () => {
    const topic = `upsert-bad-${uid()}`;
    await createTopic(bootstrap, topic, 1);
    await produce(bootstrap, topic, [
      { partition: 0, key: JSON.stringify({ id: 1 }), value: JSON.stringify({ id: 1, score: 5 }) },
      { partition: 0, key: JSON.stringify({ id: 2 }), value: JSON.stringify({ id: 2, score: 9007199254740993 }) },
    ]);
    const ddl = upsertTable('s', 'id BIGINT, score BIGINT, PRIMARY KEY (id) NOT ENFORCED', topic);
    for (const engine of ['native', 'ts'] as const) {
      await expect(read(engine, ddl, 'SELECT * FROM s')).rejects.toThrow(`upsert-kafka table s: topic ${topic} partition 0 offset 1: column 'score' (i64) got 9007199254740992; write a whole number within ±(2^53 - 1)`);
    }
  });
});
