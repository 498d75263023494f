/**
 * Flink SQL on both engines: CREATE TABLE with the nexmark and filesystem connectors and a
 * WATERMARK, SELECT with expressions / CASE / CAST / functions / subqueries, INSERT INTO,
 * planned as the same Table operations (one calc) as the Table API; each result against an
 * independent computation over the same events.
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { $, CollectSink, ifThenElse, lit, NexmarkSource, SqlError, StreamEnvironment, TableEnvironment, type Bid, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl, generatedBids } from './bids.js';

const EVENTS = 20_000;
const BID_DDL = bidDdl(EVENTS);
const bids = (): Promise<Bid[]> => generatedBids(EVENTS);

async function sqlRows(engine: EngineName, ddl: readonly string[], query: string, check?: (env: StreamEnvironment) => void): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  for (const d of ddl) await tEnv.executeSql(d);
  const t = await tEnv.sqlQuery(query);
  const sink = new CollectSink();
  t.toDataStream().sinkTo(sink);
  check?.(env);
  await env.execute();
  return sink.records;
}

describe('SQL: CREATE TABLE, SELECT, INSERT INTO', () => {
  it('a SELECT with expressions, CASE, CAST, functions and a subquery runs as one calc, with the columns pushed into the generator, on both engines', async () => {
    const query = `SELECT auction, euros, size, tag FROM (
        SELECT auction, 0.908 * price AS euros,
          CASE WHEN price > 10000000 THEN 'big' WHEN price > 1000000 THEN 'mid' ELSE 'small' END AS size,
          UPPER(SUBSTRING(channel, 1, 3)) || '-' || CAST(MOD(bidder, 10) AS STRING) AS tag, price
        FROM bid B
        WHERE MOD(B.auction, 7) = 0 AND channel IS NOT NULL AND price BETWEEN 100 AND 50000000
      ) AS t WHERE t.size <> 'mid'`;
    const { native } = await onBothEngines((engine) =>
      sqlRows(engine, [BID_DDL], query, (env) => {
        const plan = env.explain();
        expect(plan.match(/Calc\(/g)?.length).toBe(1);
        expect(plan).toContain('[reads auction, bidder, price, channel, dateTime]');
      }),
    );
    const size = (p: number): string => (p > 10_000_000 ? 'big' : p > 1_000_000 ? 'mid' : 'small');
    const expected = (await bids())
      .filter((b) => b.auction % 7 === 0 && b.price >= 100 && b.price <= 50_000_000 && size(b.price) !== 'mid')
      .map((b) => ({ auction: b.auction, euros: 0.908 * b.price, size: size(b.price), tag: `${[...b.channel].slice(0, 3).join('').toUpperCase()}-${b.bidder % 10}` }));
    expect(native).toEqual(expected);
    expect(native.length).toBeGreaterThan(50);
  });

  it('SQL and the Table API build the same plan', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    await tEnv.executeSql(BID_DDL);
    const sql = await tEnv.sqlQuery("SELECT auction, price * 2 AS p2, CASE WHEN price > 100 THEN 'a' ELSE 'b' END AS c FROM bid WHERE MOD(auction, 123) = 0");
    const api = (await tEnv.sqlQuery('SELECT * FROM bid')).where($('auction').mod(123).isEqual(0)).select($('auction'), $('price').times(2).as('p2'), ifThenElse($('price').isGreater(100), 'a', 'b').as('c'));
    const plan = (t: typeof sql): string => t.explain().split('== Optimised plan ==')[1]!;
    expect(plan(sql)).toBe(plan(api));
    expect(plan(sql)).toContain('Calc(select=[auction, (price * 2) AS p2, CASE WHEN (price > 100) THEN \'a\' ELSE \'b\' END AS c], where=[((auction % 123) = 0)])');
    void lit;
  });

  it('reads JSON and CSV files and writes INSERT INTO results to a file, identically on both engines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sql-'));
    const rows = Array.from({ length: 300 }, (_, k) => ({ id: k, name: ['ann', 'Bob', 'cy', null][k % 4], score: (k * 37) % 101, ts: 1_700_000_000_000 + k * 500 }));
    writeFileSync(join(dir, 'in.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(dir, 'in.csv'), 'id,name,score,ts\n' + rows.map((r) => `${r.id},${r.name ?? ''},${r.score},${r.ts}`).join('\n') + '\n');
    const { native } = await onBothEngines(async (engine) => {
      const out: Record<string, string> = {};
      for (const format of ['json', 'csv'] as const) {
        const env = StreamEnvironment.create({ engine });
        const tEnv = TableEnvironment.create(env);
        const file = join(dir, `out-${format}-${engine}.jsonl`);
        const result = await tEnv.executeSql(`
          CREATE TABLE people (id BIGINT NOT NULL, name STRING, score INT, ts BIGINT) WITH ('connector' = 'filesystem', 'path' = '${join(dir, format === 'json' ? 'in.jsonl' : 'in.csv')}', 'format' = '${format}');
          CREATE TABLE out_t (id BIGINT, who STRING, grade STRING, score DOUBLE) WITH ('connector' = 'filesystem', 'path' = '${file}', 'format' = 'json');
          INSERT INTO out_t
          SELECT id, COALESCE(LOWER(name), 'nobody'), CASE WHEN score >= 50 THEN 'pass' ELSE 'fail' END, score
          FROM people WHERE score % 3 <> 0 AND (name IS NULL OR name LIKE '%n%' OR id IN (1, 2, 3))`);
        expect(result.kind).toBe('job');
        out[format] = readFileSync(file, 'utf8');
      }
      expect(out.csv).toBe(out.json);
      return out.json;
    });
    const expected = rows
      .filter((r) => r.score % 3 !== 0 && (r.name === null || r.name.includes('n') || [1, 2, 3].includes(r.id)))
      .map((r) => JSON.stringify({ id: r.id, who: r.name === null ? 'nobody' : r.name.toLowerCase(), grade: r.score >= 50 ? 'pass' : 'fail', score: r.score }))
      .join('\n');
    expect(native!.trim()).toBe(expected);
  });
});
