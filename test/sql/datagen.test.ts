/**
 * The datagen connector in SQL (Flink's options), on both engines: random fields within their
 * ranges, sequences, deterministic values (the same rows in every run: a function of seed,
 * field and row number), bounded by number-of-rows or the sequence, paced by rows-per-second,
 * a window aggregation over a sequence timestamp checked against the rows themselves, and
 * option errors at their line and column.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const DDL = `CREATE TABLE g (
  id BIGINT, v INT, name STRING, score DOUBLE, ok BOOLEAN, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '20000', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000000',
  'fields.v.min' = '1', 'fields.v.max' = '10',
  'fields.name.length' = '6',
  'fields.score.min' = '-1.5', 'fields.score.max' = '2.5',
  'fields.ts.kind' = 'sequence', 'fields.ts.start' = '1000000', 'fields.ts.end' = '9000000'
)`;

async function query(engine: EngineName, ddl: string, q: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(ddl);
  const sink = new CollectSink();
  (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe("SQL 'connector' = 'datagen'", () => {
  it('random fields within their ranges, sequences, the same rows on both engines and in every run', async () => {
    const { native } = await onBothEngines((engine) => query(engine, DDL, 'SELECT * FROM g'));
    expect(native).toHaveLength(20_000);
    native.forEach((r, i) => {
      expect(r.id).toBe(i + 1);
      expect(r.ts).toBe(1_000_000 + i);
      expect(Number.isInteger(r.v) && (r.v as number) >= 1 && (r.v as number) <= 10).toBe(true);
      expect(r.name).toMatch(/^[A-Za-z0-9]{6}$/);
      expect((r.score as number) >= -1.5 && (r.score as number) <= 2.5).toBe(true);
      expect(typeof r.ok).toBe('boolean');
    });
    // Spread over the range: every v occurs, about a tenth each; both booleans about half.
    for (let v = 1; v <= 10; v++) expect(native.filter((r) => r.v === v).length).toBeGreaterThan(1500);
    expect(native.filter((r) => r.ok === true).length).toBeGreaterThan(9000);
    expect(new Set(native.map((r) => r.name)).size).toBeGreaterThan(19_000);
    // Deterministic: a second run gives the same rows; another seed other values.
    expect(await query('ts', DDL, 'SELECT * FROM g')).toEqual(native);
    const other = await query('ts', DDL.replace("'connector' = 'datagen',", "'connector' = 'datagen', 'seed' = '7',"), 'SELECT v, name FROM g');
    expect(other.map((r) => r.name)).not.toEqual(native.map((r) => r.name));
  });

  it('a sequence bounds the table; a window aggregation over it equals the rows counted directly', async () => {
    const ddl = DDL.replace("'number-of-rows' = '20000', ", '').replace("'fields.id.end' = '1000000'", "'fields.id.end' = '35000'");
    const rows = await query('native', ddl, 'SELECT v, ts FROM g');
    expect(rows).toHaveLength(35_000);
    const { native } = await onBothEngines((engine) => query(engine, ddl, "SELECT window_start, v, COUNT(*) AS n, SUM(v) AS s FROM TABLE(TUMBLE(TABLE g, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, v"));
    const expected = new Map<string, { window_start: number; v: number; n: number; s: number }>();
    for (const r of rows) {
      const ws = Math.floor((r.ts as number) / 10_000) * 10_000;
      const k = `${ws}/${r.v}`;
      const e = expected.get(k) ?? { window_start: ws, v: r.v as number, n: 0, s: 0 };
      e.n++;
      e.s += r.v as number;
      expected.set(k, e);
    }
    const key = (r: Record<string, unknown>): string => `${r.window_start}/${r.v}`;
    expect([...native].sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual([...expected.values()].sort((a, b) => (key(a) < key(b) ? -1 : 1)));
  });

  it('rows-per-second paces the source', async () => {
    const ddl = "CREATE TABLE p (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000', 'number-of-rows' = '1000', 'fields.id.kind' = 'sequence', 'fields.id.start' = '0', 'fields.id.end' = '999')";
    const t0 = Date.now();
    const rows = await query('native', ddl, 'SELECT id FROM p');
    // 1000 rows at 2000 a second cannot take less than half a second.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('option errors name line, column and what to write', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    const cases: [string, string][] = [
      ["CREATE TABLE a (x BIGINT) WITH ('connector' = 'datagen', 'fields.y.kind' = 'random')", "line 1, column 58: 'fields.y.kind': the table has no column 'y'; its columns are: x"],
      ["CREATE TABLE a (x BIGINT) WITH ('connector' = 'datagen', 'fields.x.kind' = 'sequenze')", "line 1, column 76: 'fields.x.kind' is 'random' or 'sequence', got 'sequenze'"],
      ["CREATE TABLE a (x BIGINT) WITH ('connector' = 'datagen', 'fields.x.kind' = 'sequence', 'fields.x.start' = '1')", "line 1, column 47: datagen field 'x' (i64): a sequence needs a start and an end"],
      ["CREATE TABLE a (x INT) WITH ('connector' = 'datagen', 'fields.x.min' = '5', 'fields.x.max' = '1')", "datagen field 'x' (i32): max (1) is below min (5)"],
      ["CREATE TABLE a (x INT) WITH ('connector' = 'datagen', 'fields.x.min' = '1.5')", "line 1, column 72: 'fields.x.min' must be a whole number, got '1.5'"],
      ["CREATE TABLE a (x INT) WITH ('connector' = 'datagen', 'rows-per-sec' = '5')", "line 1, column 55: connector 'datagen' has no option 'rows-per-sec'; its options are: connector, rows-per-second"],
    ];
    for (const [ddl, msg] of cases) await expect(tEnv.executeSql(ddl), ddl).rejects.toThrow(msg);
  });
});
