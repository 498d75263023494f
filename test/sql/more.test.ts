/**
 * The rest of the SQL surface, on both engines against plain computations: views (CREATE VIEW
 * and the Table API's createTemporaryView), `t.*`, IS TRUE, the simple CASE, SUBSTR, time-unit
 * functions, timestamp +/- INTERVAL, a zero-delay WATERMARK over a CSV file with a window,
 * and the print connector through `sluice sql`.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { $, CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-more-'));
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const rows = Array.from({ length: 200 }, (_, k) => ({ id: k, kind: ['a', 'b', 'c'][k % 3]!, ok: k % 4 === 0 ? null : k % 4 === 1, at: T0 + k * 700 }));
const csv = join(dir, 'events.csv');
writeFileSync(csv, 'id,kind,ok,at\n' + rows.map((r) => `${r.id},${r.kind},${r.ok === null ? '' : r.ok},${r.at}`).join('\n') + '\n');
const DDL = `CREATE TABLE events (id BIGINT, kind STRING, ok BOOLEAN, \`at\` TIMESTAMP(3), WATERMARK FOR \`at\` AS \`at\`)
  WITH ('connector' = 'filesystem', 'path' = '${csv}', 'format' = 'csv')`;

async function query(engine: EngineName, statements: readonly string[], q: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 64 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(DDL);
  tEnv.createTemporaryView('small', (await tEnv.sqlQuery('SELECT * FROM events')).where($('id').isLess(50)));
  for (const s of statements) await tEnv.executeSql(s);
  const sink = new CollectSink();
  (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('more SQL', () => {
  it('views, t.*, IS TRUE, simple CASE, SUBSTR, HOUR/MINUTE, timestamp + INTERVAL and case-insensitive names', async () => {
    const view = "CREATE VIEW odd AS SELECT e.*, CASE kind WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS code FROM events AS e WHERE MOD(id, 2) = 1";
    const q = "SELECT ID, code, ok IS TRUE AS yes, ok IS NOT FALSE AS notno, SUBSTR(kind || 'xyz', 2, 2) AS s, HOUR(`at`) AS h, MINUTE(`at`) AS m, `at` + INTERVAL '1' MINUTE AS later FROM odd WHERE id > 20";
    const { native } = await onBothEngines((engine) => query(engine, [view], q));
    const expected = rows
      .filter((r) => r.id % 2 === 1 && r.id > 20)
      .map((r) => ({ id: r.id, code: r.kind === 'a' ? 1 : r.kind === 'b' ? 2 : null, yes: r.ok === true, notno: r.ok !== false, s: `${r.kind}xyz`.slice(1, 3), h: new Date(r.at).getUTCHours(), m: new Date(r.at).getUTCMinutes(), later: r.at + 60_000 }));
    expect(native).toEqual(expected);
  });

  it('a Table API view in SQL, and a window over a CSV table whose WATERMARK has no delay', async () => {
    const q = "SELECT kind, window_start, COUNT(*) AS n, MAX(id) AS last_id FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(`at`), INTERVAL '30' SECOND)) GROUP BY kind, window_start, window_end";
    const { native } = await onBothEngines((engine) => query(engine, [], q));
    const acc = new Map<string, { kind: string; window_start: number; n: number; last_id: number }>();
    for (const r of rows) {
      const ws = r.at - (r.at % 30_000);
      const a = acc.get(`${r.kind}/${ws}`) ?? { kind: r.kind, window_start: ws, n: 0, last_id: -1 };
      a.n++;
      a.last_id = Math.max(a.last_id, r.id);
      acc.set(`${r.kind}/${ws}`, a);
    }
    const sort = (x: Record<string, unknown>[]) => x.map((r) => JSON.stringify(r)).sort();
    expect(sort(native)).toEqual(sort([...acc.values()]));
    const { native: fromView } = await onBothEngines((engine) => query(engine, [], 'SELECT id FROM small WHERE kind = \'c\''));
    expect(fromView).toEqual(rows.filter((r) => r.id < 50 && r.kind === 'c').map((r) => ({ id: r.id })));
  });

  it("the 'print' connector writes +I rows to stdout under sluice sql", () => {
    const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
    if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
    const file = join(dir, 'print.sql');
    writeFileSync(file, `${DDL};\nCREATE TABLE out_p (id BIGINT, kind STRING) WITH ('connector' = 'print');\nINSERT INTO out_p SELECT id, UPPER(kind) FROM events WHERE id < 3;\n`);
    const out: Record<string, string> = {};
    for (const engine of ['native', 'ts']) {
      const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', engine, '--parallelism', '1', '--no-progress'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      out[engine] = r.stdout;
    }
    expect(out.native).toBe('+I {"id":0,"kind":"A"}\n+I {"id":1,"kind":"B"}\n+I {"id":2,"kind":"C"}\n');
    expect(out.ts).toBe(out.native);
  });
});
