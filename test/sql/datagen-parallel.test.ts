/**
 * The datagen connector at parallelism above 1: subtask i of n generates rows i, i + n, ...,
 * so the subtasks' rows together are the rows of one subtask. `sluice sql` runs one script at
 * parallelism 1 and 2 on both engines (worker threads); its rows, a GROUP BY's changes (print,
 * applied) and a window aggregation are equal across runs and equal to DuckDB over the rows of
 * the parallelism-1 run. The reader's splits move between subtasks on a rescaled restore:
 * every row exactly once.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { DataGenSource, Schema, selectEngine, type EngineName, type RecordBatch } from '../../ts/index.js';
import { duckRows, sortRows } from './duck.js';
import { applied, printedChanges } from './changes.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-datagen-p-'));

function script(tag: string): string {
  return `CREATE TABLE g (
  id BIGINT, v INT, name STRING, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
  'connector' = 'datagen', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '30000',
  'fields.v.min' = '1', 'fields.v.max' = '10', 'fields.name.length' = '3',
  'fields.ts.kind' = 'sequence', 'fields.ts.start' = '1000000', 'fields.ts.end' = '9000000'
);
CREATE TABLE all_rows (id BIGINT, v INT, name STRING, ts BIGINT) WITH ('connector' = 'filesystem', 'path' = '${join(dir, `rows-${tag}.jsonl`)}', 'format' = 'json');
CREATE TABLE windows (window_start BIGINT, v INT, n BIGINT, s BIGINT) WITH ('connector' = 'filesystem', 'path' = '${join(dir, `win-${tag}.jsonl`)}', 'format' = 'json');
CREATE TABLE per_v (v INT, n BIGINT, s BIGINT, lo BIGINT) WITH ('connector' = 'print');
INSERT INTO all_rows SELECT id, v, name, CAST(ts AS BIGINT) FROM g;
INSERT INTO windows SELECT CAST(window_start AS BIGINT), v, COUNT(*), SUM(id) FROM TABLE(TUMBLE(TABLE g, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, v;
INSERT INTO per_v SELECT v, COUNT(*), SUM(id), MIN(id) FROM g GROUP BY v;
`;
}

const readRows = (file: string): Record<string, unknown>[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);


interface Run {
  rows: string[];
  windows: string[];
  perV: string[];
}

function runCli(engine: EngineName, parallelism: number): Run {
  const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
  const tag = `${engine}-${parallelism}`;
  const file = join(dir, `dg-${tag}.sql`);
  writeFileSync(file, script(tag));
  const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', engine, '--parallelism', String(parallelism), '--no-progress'], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toContain(`on the ${engine} engine at parallelism ${parallelism}`);
  // The source runs as `parallelism` subtasks, each with its share of the rows.
  const shares = [...r.stderr.matchAll(/#\d+ g: in 0, out (\d+)/g)].map((m) => Number(m[1]));
  expect(shares).toEqual(Array<number>(parallelism).fill(30_000 / parallelism));
  return { rows: sortRows(readRows(join(dir, `rows-${tag}.jsonl`))), windows: sortRows(readRows(join(dir, `win-${tag}.jsonl`))), perV: applied(printedChanges(r.stdout)) };
}

describe("SQL 'connector' = 'datagen' at parallelism 2", () => {
  it('the subtasks generate the rows of one subtask: rows, a window aggregation and a GROUP BY equal at parallelism 1 and 2 on both engines, and DuckDB', async () => {
    const one = runCli('native', 1);
    const two = runCli('native', 2);
    const twoTs = runCli('ts', 2);
    expect(one.rows).toHaveLength(30_000);
    expect(two.rows).toEqual(one.rows);
    expect(twoTs.rows).toEqual(one.rows);
    expect(two.windows).toEqual(one.windows);
    expect(twoTs.windows).toEqual(one.windows);
    expect(two.perV).toEqual(one.perV);
    expect(twoTs.perV).toEqual(one.perV);

    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    try {
      await duck.run(`CREATE TABLE g AS SELECT * FROM read_json('${join(dir, 'rows-native-1.jsonl')}', format = 'newline_delimited', columns = {id: 'BIGINT', v: 'INTEGER', name: 'VARCHAR', ts: 'BIGINT'})`);
      const windows = await duckRows(duck, 'SELECT (ts // 2000) * 2000 AS window_start, v, COUNT(*) AS n, SUM(id) AS s FROM g GROUP BY ALL');
      expect(two.windows).toEqual(sortRows(windows));
      const perV = await duckRows(duck, 'SELECT v, COUNT(*) AS n, SUM(id) AS s, MIN(id) AS lo FROM g GROUP BY v');
      expect(two.perV).toEqual(sortRows(perV));
      expect(two.perV).toHaveLength(10);
      const ids = await duckRows(duck, 'SELECT COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi FROM g');
      expect(ids).toEqual([{ d: 30_000, lo: 1, hi: 30_000 }]);
    } finally {
      duck.closeSync();
    }
  }, 120_000);

  it("a rescaled restore deals the splits out: 2 subtasks' positions continued by 3 give every row exactly once", async () => {
    const engine = selectEngine('ts');
    const src = new DataGenSource(Schema.from({ id: 'i64' }), { rowsPerSecond: Infinity, fields: { id: { kind: 'sequence', start: 0, end: 9_999 } } });
    const ids: number[] = [];
    const take = (b: RecordBatch | null): boolean => {
      if (b === null) return false;
      for (const r of b.toRecords()) ids.push(Number(r.id));
      return true;
    };
    const positions: unknown[] = [];
    for (let s = 0; s < 2; s++) {
      const reader = src.open({ engine, batchSize: 300, projection: null, subtask: s, parallelism: 2 });
      // Unequal progress: subtask 0 three batches, subtask 1 five.
      for (let k = 0; k < 3 + 2 * s; k++) expect(take(await reader.next())).toBe(true);
      positions.push(reader.checkpoint!());
    }
    for (let s = 0; s < 3; s++) {
      const reader = src.open({ engine, batchSize: 256, projection: null, subtask: s, parallelism: 3 });
      reader.restoreRescaled!(positions);
      while (take(await reader.next()));
    }
    expect(ids).toHaveLength(10_000);
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });
});
