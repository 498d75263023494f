/**
 * The Nexmark queries in SQL (examples/nexmark-sql/*.sql), run as `sluice sql` runs them, on
 * both engines, each against DuckDB (@duckdb/node-api) running the query over the same
 * generated bids: an independent SQL engine as the oracle.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, planSql, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';

const EVENTS = 20_000;
/** q5, q7, q8 and q19-window run on a slower timeline (50 events per second of event time: 400 s, 40 windows of 10 s). */
const SLOW = 50;
const SLOW_QUERIES = new Set(['q5', 'q7', 'q8', 'q19-window']);
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-nexmark-sql-'));

/** The example with a small event count and its blackhole sink replaced by a JSON Lines file. */
function script(name: string, out: string): string {
  const rate = SLOW_QUERIES.has(name) ? `, 'event-rate' = '${SLOW}'` : '';
  const text = readFileSync(join(root, 'examples', 'nexmark-sql', `${name}.sql`), 'utf8');
  expect(text).toContain("'connector' = 'blackhole'");
  return text.replace(/'events' = '\d+'/g, `'events' = '${EVENTS}'${rate}`).replace("'connector' = 'blackhole'", `'connector' = 'filesystem', 'path' = '${out}', 'format' = 'json'`);
}

const readRows = (file: string): Record<string, unknown>[] => readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
const sorted = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

async function runExample(name: string, engine: EngineName): Promise<Record<string, unknown>[]> {
  const out = join(dir, `${name}-${engine}.jsonl`);
  const env = StreamEnvironment.create({ engine });
  expect(await planSql(TableEnvironment.create(env), script(name, out))).toBe(1);
  await env.execute(name);
  return readRows(out);
}

let duck: Awaited<ReturnType<DuckDBInstance['connect']>>;

const COLUMNS = {
  bid: "auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', url: 'VARCHAR', dateTime: 'BIGINT', extra: 'VARCHAR'",
  person: "id: 'BIGINT', name: 'VARCHAR', emailAddress: 'VARCHAR', creditCard: 'VARCHAR', city: 'VARCHAR', state: 'VARCHAR', dateTime: 'BIGINT', extra: 'VARCHAR'",
  auction: "id: 'BIGINT', itemName: 'VARCHAR', description: 'VARCHAR', initialBid: 'BIGINT', reserve: 'BIGINT', dateTime: 'BIGINT', expires: 'BIGINT', seller: 'BIGINT', category: 'BIGINT', extra: 'VARCHAR'",
} as const;

beforeAll(async () => {
  duck = await (await DuckDBInstance.create(':memory:')).connect();
  // The generator's events at both rates, through JSON Lines files into DuckDB tables
  // (bid, person, auction; bid_slow, person_slow, auction_slow).
  for (const [suffix, rate] of [['', undefined], ['_slow', SLOW]] as const) {
    for (const kind of ['bid', 'person', 'auction'] as const) {
      const o = { events: EVENTS, ...(rate === undefined ? {} : { eventRatePerSec: rate }) };
      const source = kind === 'bid' ? NexmarkSource.bids(o) : kind === 'person' ? NexmarkSource.persons(o) : NexmarkSource.auctions(o);
      const env = StreamEnvironment.create({ engine: 'native' });
      const sink = new CollectSink<object>();
      env.fromSource(source as NexmarkSource<object>).sinkTo(sink);
      await env.execute();
      const f = join(dir, `${kind}${suffix}.jsonl`);
      writeFileSync(f, sink.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await duck.run(`CREATE TABLE ${kind}${suffix} AS SELECT * FROM read_json('${f}', format = 'newline_delimited', columns = {${COLUMNS[kind]}})`);
    }
  }
});

afterAll(() => duck?.closeSync());

async function oracle(sql: string): Promise<Record<string, unknown>[]> {
  const rows = (await duck.runAndReadAll(sql)).getRowObjects();
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

const ORACLE: Readonly<Record<string, string>> = {
  q0: 'SELECT auction, bidder, price, dateTime AS "dateTime", extra FROM bid',
  q1: 'SELECT auction, bidder, 0.908::DOUBLE * price AS price, dateTime AS "dateTime", extra FROM bid',
  q2: 'SELECT auction, price FROM bid WHERE auction % 123 = 0',
  // Sessions per bidder: a bid 10 s or more after the bidder's previous one starts a new session.
  q11: `WITH marked AS (
          SELECT bidder, dateTime, CASE WHEN dateTime - LAG(dateTime) OVER (PARTITION BY bidder ORDER BY dateTime) < 10000 THEN 0 ELSE 1 END AS starts FROM bid),
        numbered AS (SELECT bidder, dateTime, SUM(starts) OVER (PARTITION BY bidder ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS session FROM marked)
        SELECT bidder, COUNT(*) AS bid_count, MIN(dateTime) AS starttime, MAX(dateTime) + 10000 AS endtime FROM numbered GROUP BY bidder, session`,
  // Windows of 10 s every 2 s: a bid at t is in the windows starting at floor(t / 2 s) * 2 s - k * 2 s, k = 0..4.
  q5: `WITH w AS (SELECT auction, (dateTime // 2000) * 2000 - k * 2000 AS ws FROM bid_slow, range(5) r(k)),
        c AS (SELECT auction, ws, COUNT(*) AS num FROM w GROUP BY auction, ws),
        m AS (SELECT ws, MAX(num) AS maxn FROM c GROUP BY ws)
        SELECT c.auction, c.num FROM c JOIN m ON c.ws = m.ws AND c.num >= m.maxn`,
  // The sink's columns are (auction, bidder, price, ...) and the query's (auction, price, bidder, ...): by position, as in the suite.
  q7: `SELECT B.auction, B.price AS bidder, B.bidder AS price, B.dateTime AS "dateTime", B.extra
        FROM bid_slow B JOIN (SELECT MAX(price) AS maxprice, (dateTime // 10000) * 10000 + 10000 AS dt FROM bid_slow GROUP BY dateTime // 10000) B1
        ON B.price = B1.maxprice WHERE B.dateTime BETWEEN B1.dt - 10000 AND B1.dt`,
  q8: `SELECT P.id, P.name, P.starttime AS stime
        FROM (SELECT id, name, (dateTime // 10000) * 10000 AS starttime FROM person_slow GROUP BY ALL) P
        JOIN (SELECT seller, (dateTime // 10000) * 10000 AS starttime FROM auction_slow GROUP BY ALL) A
        ON P.id = A.seller AND P.starttime = A.starttime`,
  // Ties in price broken by the bid's other columns, as Sluice's window top-N documents.
  'q19-window': `SELECT auction, bidder, price, dateTime AS "dateTime", we AS window_end, rank_number FROM (
        SELECT *, (dateTime // 10000) * 10000 + 10000 AS we,
          ROW_NUMBER() OVER (PARTITION BY dateTime // 10000, auction ORDER BY price DESC, bidder, channel, url, dateTime, extra) AS rank_number FROM bid_slow)
        WHERE rank_number <= 10`,
  'window-counts': 'SELECT auction, (dateTime // 10000) * 10000 AS window_start, (dateTime // 10000) * 10000 + 10000 AS window_end, COUNT(*) AS num, MAX(price) AS top FROM bid GROUP BY ALL',
};

describe('Nexmark in SQL against DuckDB', () => {
  for (const name of Object.keys(ORACLE)) {
    it(`${name}.sql on both engines equals DuckDB over the same bids`, async () => {
      const { native } = await onBothEngines(async (engine) => sorted(await runExample(name, engine)));
      const expected = sorted(await oracle(ORACLE[name]!));
      expect(native.length).toBe(expected.length);
      expect(native).toEqual(expected);
      expect(native.length).toBeGreaterThan(20);
    });
  }

  it('sluice sql runs a script with the same progress and metrics as a TypeScript job', () => {
    const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
    if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
    const results: Record<string, string[]> = {};
    // Native at parallelism 2 (worker threads rebuild the job from the script), TS at 1.
    for (const [engine, parallelism] of [['native', '2'], ['ts', '1']] as const) {
      const out = join(dir, `cli-q2-${engine}.jsonl`);
      const file = join(dir, `q2-${engine}.sql`);
      writeFileSync(file, script('q2', out));
      const metrics = join(dir, `metrics-${engine}.json`);
      const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', engine, '--parallelism', parallelism, '--metrics-json', metrics], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`job 'q2-${engine}' starting on the ${engine} engine at parallelism ${parallelism}`);
      expect(r.stderr).toMatch(/Calc\(select=\[auction, price\], where=\[\(\(auction % 123\) = 0\)\]\): in \d+, out \d+/);
      const m = JSON.parse(readFileSync(metrics, 'utf8')) as { operators: { name: string; recordsIn: number }[] };
      expect(m.operators.some((o) => o.name.startsWith('Calc(') && o.recordsIn > 0)).toBe(true);
      results[engine] = sorted(readRows(out));
    }
    expect(results.ts).toEqual(results.native);
    expect(results.native!.length).toBeGreaterThan(30);
  });

  it('sluice sql at parallelism 2 runs the windows and the join of q7 on worker threads, equal to DuckDB', async () => {
    const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
    if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
    const out = join(dir, 'cli-q7-p2.jsonl');
    const file = join(dir, 'q7-p2.sql');
    writeFileSync(file, script('q7', out));
    const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', 'native', '--parallelism', '2', '--no-progress'], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('at parallelism 2');
    const rows = sorted(readRows(out));
    expect(rows).toEqual(sorted(await oracle(ORACLE.q7!)));
    expect(rows.length).toBeGreaterThan(30);
  });
});
