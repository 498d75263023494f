// Flink's Kafka SQL connector options on KafkaSource/KafkaSink against the real broker, on both
// engines: INSERT INTO a kafka table (json, keyed, exactly-once with checkpoints; csv) from a
// datagen table, read back with the client's own read_committed consumer and with a bounded
// kafka table (earliest-offset .. latest-offset) under a window aggregation, both checked
// against the generated rows; option errors at their line and column.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { createTopic, readCommitted, uid } from './helpers.js';

const bootstrap = inject('kafkaBootstrap');
const work = mkdtempSync(join(tmpdir(), 'sluice-kafka-sql-'));

const GEN = `CREATE TABLE gen (id BIGINT, k INT, ts TIMESTAMP(3)) WITH (
  'connector' = 'datagen', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '2999',
  'fields.k.min' = '0', 'fields.k.max' = '4',
  'fields.ts.kind' = 'sequence', 'fields.ts.start' = '0', 'fields.ts.end' = '2999')`;

const kafkaTable = (name: string, topic: string, format: 'json' | 'csv', extra: string): string => `CREATE TABLE ${name} (id BIGINT, k INT, ts TIMESTAMP(3)${extra.includes('WATERMARK') ? ", WATERMARK FOR ts AS ts - INTERVAL '0' SECOND" : ''}) WITH (
  'connector' = 'kafka', 'topic' = '${topic}', 'properties.bootstrap.servers' = '${bootstrap}',
  'format' = '${format}'${extra.replace('WATERMARK', '')})`;

async function generated(): Promise<{ id: number; k: number; ts: number }[]> {
  const env = StreamEnvironment.create({ engine: 'native' });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(GEN);
  const sink = new CollectSink<{ id: number; k: number; ts: number }>();
  (await tEnv.sqlQuery('SELECT * FROM gen')).toDataStream<{ id: number; k: number; ts: number }>().sinkTo(sink);
  await env.execute();
  return sink.records;
}

async function roundTrip(engine: EngineName, format: 'json' | 'csv', sinkOptions: string, checkpoints: boolean): Promise<{ topic: string; windows: Record<string, unknown>[] }> {
  const topic = `sql-${format}-${engine}-${uid()}`;
  await createTopic(bootstrap, topic, 3);
  const env = StreamEnvironment.create({ engine, batchSize: 256 });
  if (checkpoints) env.enableCheckpointing(50, { dir: join(work, `chk-${uid()}`) });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(GEN);
  await tEnv.executeSql(kafkaTable('out_t', topic, format, sinkOptions));
  await tEnv.executeSql('INSERT INTO out_t SELECT id, k, ts FROM gen');
  // Read back, bounded at the end offsets when the job starts.
  const env2 = StreamEnvironment.create({ engine });
  const tEnv2 = TableEnvironment.create(env2);
  await tEnv2.executeSql(kafkaTable('in_t', topic, format, "WATERMARK, 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset'"));
  const sink = new CollectSink();
  (await tEnv2.sqlQuery("SELECT k, window_start, COUNT(*) AS n, SUM(id) AS s FROM TABLE(TUMBLE(TABLE in_t, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end")).toDataStream().sinkTo(sink);
  await env2.execute();
  const key = (r: Record<string, unknown>): string => `${r.window_start}/${r.k}`;
  return { topic, windows: [...sink.records].sort((a, b) => (key(a) < key(b) ? -1 : 1)) };
}

function expectedWindows(rows: readonly { id: number; k: number; ts: number }[]): Record<string, unknown>[] {
  const m = new Map<string, { k: number; window_start: number; n: number; s: number }>();
  for (const r of rows) {
    const ws = Math.floor(r.ts / 1000) * 1000;
    const e = m.get(`${ws}/${r.k}`) ?? { k: r.k, window_start: ws, n: 0, s: 0 };
    e.n++;
    e.s += r.id;
    m.set(`${ws}/${r.k}`, e);
  }
  const key = (r: Record<string, unknown>): string => `${r.window_start}/${r.k}`;
  return [...m.values()].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

describe("SQL 'connector' = 'kafka'", () => {
  it('json, keyed, exactly-once: INSERT INTO a kafka table, read back by the client and by a bounded kafka table under a window', async () => {
    const rows = await generated();
    expect(rows).toHaveLength(3000);
    const out = await onBothEngines(async (engine) => {
      const { topic, windows } = await roundTrip(engine, 'json', `, 'key.fields' = 'k', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-${uid()}'`, true);
      const records = await readCommitted(bootstrap, topic, true);
      // Every row once, keyed by k.
      const values = records.map((r) => JSON.parse(r.value) as { id: number; k: number; ts: number }).sort((a, b) => a.id - b.id);
      expect(values).toEqual(rows);
      for (const r of records) expect(r.key).toBe(String((JSON.parse(r.value) as { k: number }).k));
      return windows;
    });
    expect(out.native).toEqual(expectedWindows(rows));
  });

  it('csv, at-least-once, round-robin', async () => {
    const rows = await generated();
    const out = await onBothEngines(async (engine) => {
      const { topic, windows } = await roundTrip(engine, 'csv', ", 'sink.delivery-guarantee' = 'at-least-once', 'sink.partitioner' = 'round-robin'", false);
      const records = await readCommitted(bootstrap, topic, true);
      expect(records.map((r) => r.value.split(',').map(Number)).sort((a, b) => a[0]! - b[0]!)).toEqual(rows.map((r) => [r.id, r.k, r.ts]));
      return windows;
    });
    expect(out.native).toEqual(expectedWindows(rows));
  });

  it('option errors name line, column and what to write', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    const base = `'connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '${bootstrap}', 'format' = 'json'`;
    const cases: [string, string][] = [
      ["CREATE TABLE a (x BIGINT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "line 1, column 1: CREATE TABLE a: the kafka connector needs 'properties.bootstrap.servers' = 'host:port'"],
      [`CREATE TABLE a (x BIGINT) WITH (${base}, 'scan.startup.mode' = 'earliest')`, "'scan.startup.mode' = 'earliest' is not one of earliest-offset, latest-offset, group-offsets, timestamp, specific-offsets"],
      [`CREATE TABLE a (x BIGINT) WITH (${base}, 'scan.startup.mode' = 'earliest-offset', 'sink.delivery-guarantee' = 'exactly-once')`, "'exactly-once' needs 'sink.transactional-id-prefix'"],
      [`CREATE TABLE a (x BIGINT) WITH (${base}, 'scan.startup.mode' = 'earliest-offset', 'key.fields' = 'y')`, "'key.fields': no column 'y'; the columns are: x"],
      [`CREATE TABLE a (x BIGINT) WITH (${base}, 'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0;offset:3')`, "'scan.startup.specific-offsets': 'partition:0' is not 'partition:<n>,offset:<n>'"],
      [`CREATE TABLE a (x BIGINT) WITH (${base}, 'properties.acks' = 'all')`, "connector 'kafka' has no option 'properties.acks'"],
    ];
    for (const [ddl, msg] of cases) await expect(tEnv.executeSql(ddl), ddl).rejects.toThrow(msg);
    await tEnv.executeSql(`CREATE TABLE semi (x BIGINT) WITH ('connector' = 'kafka', 'topic' = 't', 'properties.bootstrap.servers' = '${bootstrap}', 'format' = 'csv', 'csv.field-delimiter' = ';')`);
    await tEnv.executeSql("CREATE TABLE xs (x BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1')");
    await expect(tEnv.executeSql('INSERT INTO semi SELECT x FROM xs')).rejects.toThrow("INSERT INTO semi: the kafka sink writes CSV with ',' only");
    // A table only written to needs no start; reading one needs a group for 'group-offsets'.
    await tEnv.executeSql(`CREATE TABLE a (x BIGINT) WITH (${base})`);
    await expect(tEnv.sqlQuery('SELECT x FROM a')).rejects.toThrow("line 1, column 1: reading a from 'group-offsets' (Flink's default 'scan.startup.mode') needs 'properties.group.id'; or set 'scan.startup.mode' = 'earliest-offset'");
  });
});
