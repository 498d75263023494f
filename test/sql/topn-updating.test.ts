/**
 * The non-windowed (updating) top-N in SQL, Flink's Rank node: ROW_NUMBER / RANK / DENSE_RANK
 * OVER (PARTITION BY k ORDER BY x) limited in the enclosing WHERE, over an append-only and over
 * an updating input, on both engines. The changes (toChangelogStream) applied as inserts and
 * retractions must give DuckDB's batch ranking of the same bids (ties broken as Sluice
 * documents: the row's other columns in order, ascending), every retraction retracting a row
 * that is there; with the rank in the output, updates pair -U/+U on the same rank.
 * Also RANK and DENSE_RANK in window top-N, and Nexmark's q19 (examples/nexmark-sql/q19.sql).
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from './bids.js';
import { duckRows, duckWithBids, sortRows, type Duck } from './duck.js';
import { applied, type Change } from './changes.js';

const EVENTS = 20_000;
const root = resolve(import.meta.dirname, '../..');
let duck: Duck;
beforeAll(async () => {
  duck = await duckWithBids(EVENTS);
});
afterAll(() => duck?.closeSync());



async function changes(engine: EngineName, query: string, ddl: readonly string[] = [bidDdl(EVENTS)]): Promise<{ rows: string[]; kinds: string[]; records: Change[]; plan: string }> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  const tEnv = TableEnvironment.create(env);
  for (const d of ddl) await tEnv.executeSql(d);
  const sink = new CollectSink<Change>();
  (await tEnv.sqlQuery(query)).toChangelogStream().sinkTo(sink);
  const plan = env.explain().replace(/engine: \w+/, 'engine: either');
  await env.execute();
  return { rows: applied(sink.records), kinds: [...new Set(sink.records.map((c) => c.rowKind))].sort(), records: sink.records, plan };
}

const TIES = 'bidder, price, channel, url, dateTime, extra';

describe('SQL updating top-N against DuckDB', () => {
  it('ROW_NUMBER per auction by price (Nexmark q19 as a query), on both engines: +I, and -U/+U pairs on the same rank', async () => {
    const q = 'SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid) WHERE rank_number <= 10';
    const { native } = await onBothEngines((engine) => changes(engine, q));
    expect(native.plan).toContain('Rank(rankType=[ROW_NUMBER], rankRange=[rankStart=1, rankEnd=10], partitionBy=[auction], orderBy=[price DESC]');
    expect(native.kinds).toEqual(['+I', '+U', '-U']);
    // Every -U is followed by the +U of the same auction and rank.
    native.records.forEach((c, i) => {
      if (c.rowKind !== '-U') return;
      const next = native.records[i + 1]!;
      expect([next.rowKind, next.auction, next.rank_number]).toEqual(['+U', c.auction, c.rank_number]);
    });
    const expected = await duckRows(duck, `SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, ${TIES.replace('price, ', '')}) AS rank_number FROM bid) WHERE rank_number <= 10`);
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBeGreaterThan(500);
  });

  it('RANK without the rank in the output (ranks 2..3, ties share a rank): +I and -D only', async () => {
    const q = 'SELECT channel, auction, bidder, price FROM (SELECT channel, auction, bidder, price, RANK() OVER (PARTITION BY channel ORDER BY price DESC) AS r FROM bid) WHERE r <= 3 AND r >= 2';
    const { native } = await onBothEngines((engine) => changes(engine, q));
    expect(native.kinds).toEqual(['+I', '-D']);
    const expected = await duckRows(duck, 'SELECT channel, auction, bidder, price FROM (SELECT *, RANK() OVER (PARTITION BY channel ORDER BY price DESC) AS r FROM bid) WHERE r <= 3 AND r >= 2');
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBeGreaterThan(3);
  });

  it('DENSE_RANK over an updating input (a GROUP BY count): the top 2 counts per channel, consuming -U/+U', async () => {
    const q = `SELECT * FROM (
        SELECT channel, bidder, n, DENSE_RANK() OVER (PARTITION BY channel ORDER BY n DESC) AS dr
        FROM (SELECT channel, bidder, COUNT(*) AS n FROM bid GROUP BY channel, bidder))
      WHERE dr <= 2`;
    const { native } = await onBothEngines((engine) => changes(engine, q));
    expect(native.plan).toMatch(/GroupAggregate[\s\S]*Rank\(rankType=\[DENSE_RANK\]/);
    expect(native.kinds).toContain('-D');
    const expected = await duckRows(
      duck,
      'SELECT * FROM (SELECT channel, bidder, n, DENSE_RANK() OVER (PARTITION BY channel ORDER BY n DESC) AS dr FROM (SELECT channel, bidder, COUNT(*) AS n FROM bid GROUP BY channel, bidder)) WHERE dr <= 2',
    );
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBeGreaterThan(4);
  });

  it('a global top 5 (no PARTITION BY, one subtask), with a condition in the ranking query, the rank a condition outside', async () => {
    const q = 'SELECT auction, price, rn FROM (SELECT auction, price, bidder, ROW_NUMBER() OVER (ORDER BY price ASC, auction DESC) AS rn FROM bid WHERE MOD(bidder, 3) = 1) WHERE rn <= 5 AND rn <> 2';
    const { native } = await onBothEngines((engine) => changes(engine, q));
    const expected = await duckRows(duck, 'SELECT auction, price, rn FROM (SELECT auction, price, bidder, ROW_NUMBER() OVER (ORDER BY price ASC, auction DESC, bidder, channel, url, dateTime, extra) AS rn FROM bid WHERE bidder % 3 = 1) WHERE rn <= 5 AND rn <> 2');
    expect(native.rows).toEqual(sortRows(expected));
    expect(native.rows.length).toBe(4);
  });

  it('Nexmark q19 (examples/nexmark-sql/q19.sql): its changes equal DuckDB on both engines, and under sluice sql at parallelism 2 into a print table', async () => {
    const text = readFileSync(join(root, 'examples', 'nexmark-sql', 'q19.sql'), 'utf8').replace(/'events' = '\d+'/g, `'events' = '${EVENTS}'`);
    expect(text).toContain("'connector' = 'blackhole'");
    const expected = sortRows(await duckRows(duck, `SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, ${TIES.replace('price, ', '')}) AS rank_number FROM bid) WHERE rank_number <= 10`));
    const { native } = await onBothEngines(async (engine) => {
      const env = StreamEnvironment.create({ engine });
      const tEnv = TableEnvironment.create(env);
      const statements = text.split(';').map((s) => s.replace(/--.*$/gm, '').trim()).filter((s) => s !== '');
      await tEnv.executeSql(statements.find((s) => s.startsWith('CREATE TABLE bid'))!);
      const select = statements.find((s) => s.startsWith('INSERT INTO'))!.replace(/^INSERT INTO \w+\s*/, '');
      const sink = new CollectSink<Change>();
      (await tEnv.sqlQuery(select)).toChangelogStream().sinkTo(sink);
      await env.execute();
      return applied(sink.records);
    });
    expect(native).toEqual(expected);

    const file = join(mkdtempSync(join(tmpdir(), 'sluice-q19-')), 'q19-print.sql');
    writeFileSync(file, text.replace("'connector' = 'blackhole'", "'connector' = 'print'"));
    const r = spawnSync(process.execPath, [join(root, 'dist', 'ts', 'cli', 'main.js'), 'sql', file, '--engine', 'native', '--parallelism', '2', '--no-progress'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(new Set(lines.map((l) => l.slice(0, 2)))).toEqual(new Set(['+I', '-U', '+U']));
    expect(applied(lines.map((l) => ({ rowKind: l.slice(0, 2), ...(JSON.parse(l.slice(3)) as Record<string, unknown>) })))).toEqual(expected);
  });
});

describe('SQL window top-N with RANK and DENSE_RANK', () => {
  for (const fn of ['RANK', 'DENSE_RANK'] as const) {
    it(`${fn}() per 100 ms TUMBLE window by channel equals DuckDB`, async () => {
      const q = `SELECT * FROM (
          SELECT auction, bidder, channel, window_start, window_end,
                 ${fn}() OVER (PARTITION BY window_start, window_end ORDER BY channel) AS r
          FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '100' MILLISECOND)))
        WHERE r <= 2`;
      const { native } = await onBothEngines(async (engine) => {
        const env = StreamEnvironment.create({ engine });
        const tEnv = TableEnvironment.create(env);
        await tEnv.executeSql(bidDdl(EVENTS));
        const sink = new CollectSink();
        (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
        await env.execute();
        return sink.records;
      });
      const expected = await duckRows(
        duck,
        `SELECT auction, bidder, channel, ws AS window_start, ws + 100 AS window_end, r FROM (
           SELECT *, (dateTime // 100) * 100 AS ws, ${fn}() OVER (PARTITION BY dateTime // 100 ORDER BY channel) AS r FROM bid)
         WHERE r <= 2`,
      );
      expect(sortRows(native)).toEqual(sortRows(expected));
      expect(native.length).toBeGreaterThan(20);
    });
  }
});
