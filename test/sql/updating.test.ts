/**
 * Updating queries in SQL (Flink's changelog semantics), on both engines, against DuckDB over
 * the same generated events: GROUP BY without a window (COUNT, SUM, MIN, MAX, AVG, COUNT
 * DISTINCT, HAVING), SELECT DISTINCT, regular joins (inner, LEFT / RIGHT / FULL OUTER, with
 * retractions), an aggregation over an outer join, and Nexmark q3 and q4 as in
 * examples/nexmark-sql. The changes (toChangelogStream) applied as inserts and retractions must
 * give DuckDB's batch result; every retraction must retract a row that is there.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectSink, NexmarkSource, planSql, SqlError, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { applied, type Change } from './changes.js';

const EVENTS = 20_000;
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-updating-sql-'));
const q = (s: string): string => s.replaceAll('`', '');

const DDL = [
  `CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, \`dateTime\` TIMESTAMP(3), extra STRING,
     WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'events' = '${EVENTS}')`,
  `CREATE TABLE auction (id BIGINT, itemName STRING, description STRING, initialBid BIGINT, reserve BIGINT, \`dateTime\` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra STRING,
     WATERMARK FOR \`dateTime\` AS \`dateTime\` - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark', 'kind' = 'auction', 'events' = '${EVENTS}')`,
  `CREATE TABLE person (id BIGINT, name STRING, emailAddress STRING, creditCard STRING, city STRING, state STRING, \`dateTime\` TIMESTAMP(3), extra STRING)
     WITH ('connector' = 'nexmark', 'kind' = 'person', 'events' = '${EVENTS}')`,
];

const COLUMNS = {
  bid: "auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', url: 'VARCHAR', dateTime: 'BIGINT', extra: 'VARCHAR'",
  person: "id: 'BIGINT', name: 'VARCHAR', emailAddress: 'VARCHAR', creditCard: 'VARCHAR', city: 'VARCHAR', state: 'VARCHAR', dateTime: 'BIGINT', extra: 'VARCHAR'",
  auction: "id: 'BIGINT', itemName: 'VARCHAR', description: 'VARCHAR', initialBid: 'BIGINT', reserve: 'BIGINT', dateTime: 'BIGINT', expires: 'BIGINT', seller: 'BIGINT', category: 'BIGINT', extra: 'VARCHAR'",
} as const;

let duck: Awaited<ReturnType<DuckDBInstance['connect']>>;

beforeAll(async () => {
  duck = await (await DuckDBInstance.create(':memory:')).connect();
  for (const kind of ['bid', 'person', 'auction'] as const) {
    const o = { events: EVENTS };
    const source = kind === 'bid' ? NexmarkSource.bids(o) : kind === 'person' ? NexmarkSource.persons(o) : NexmarkSource.auctions(o);
    const env = StreamEnvironment.create({ engine: 'native' });
    const sink = new CollectSink<object>();
    env.fromSource(source as NexmarkSource<object>).sinkTo(sink);
    await env.execute();
    const f = join(dir, `${kind}.jsonl`);
    writeFileSync(f, sink.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await duck.run(`CREATE TABLE ${kind} AS SELECT * FROM read_json('${f}', format = 'newline_delimited', columns = {${COLUMNS[kind]}})`);
  }
});

afterAll(() => duck?.closeSync());

/** Floats rounded to 6 decimals: the engines and DuckDB may sum in another order. */
const canon = (r: Record<string, unknown>): string => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v])));

async function oracle(sql: string): Promise<string[]> {
  const rows = (await duck.runAndReadAll(sql)).getRowObjects();
  return rows.map((r) => canon(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])))).sort();
}



async function changes(engine: EngineName, query: string, ddl: readonly string[] = DDL): Promise<{ rows: string[]; kinds: string[]; plan: string }> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  const tEnv = TableEnvironment.create(env);
  for (const d of ddl) await tEnv.executeSql(d);
  const sink = new CollectSink<Change>();
  (await tEnv.sqlQuery(query)).toChangelogStream().sinkTo(sink);
  const plan = env.explain().replace(/engine: \w+/, 'engine: either');
  await env.execute();
  return { rows: applied(sink.records, { key: canon }), kinds: [...new Set(sink.records.map((c) => c.rowKind))].sort(), plan };
}

const CASES: readonly { readonly name: string; readonly sql: string; readonly duck?: string; readonly kinds: readonly string[]; readonly rows?: number }[] = [
  {
    name: 'GROUP BY with COUNT, SUM, MIN, MAX, AVG, COUNT DISTINCT and HAVING',
    sql: 'SELECT auction, COUNT(*) AS n, SUM(price) AS total, MIN(price) AS low, MAX(price) AS high, AVG(price) AS mean, COUNT(DISTINCT bidder) AS bidders FROM bid WHERE MOD(auction, 3) = 0 GROUP BY auction HAVING COUNT(*) > 3',
    kinds: ['+I', '+U', '-U'],
  },
  {
    name: 'an aggregation without GROUP BY (one group, on one subtask)',
    sql: 'SELECT COUNT(*) AS n, SUM(price) AS total, MAX(price) AS top, COUNT(DISTINCT auction) AS auctions FROM bid WHERE MOD(bidder, 5) = 1',
    kinds: ['+I', '+U', '-U'],
    rows: 1,
  },
  {
    name: 'SELECT DISTINCT over expressions',
    sql: 'SELECT DISTINCT MOD(bidder, 7) AS b, channel FROM bid',
    duck: 'SELECT DISTINCT bidder % 7 AS b, channel FROM bid',
    kinds: ['+I'],
  },
  {
    name: 'an inner regular join (FROM a, b WHERE) with conditions on each side',
    sql: 'SELECT A.id, A.category, P.name FROM auction A, person P WHERE A.seller = P.id AND A.category = 11 AND P.id > 1005',
    kinds: ['+I'],
  },
  {
    name: 'LEFT OUTER JOIN: padded rows retracted when their match arrives',
    sql: 'SELECT A.id, P.name, P.state FROM auction A LEFT JOIN person P ON A.seller = P.id',
    kinds: ['+I', '-D'],
  },
  {
    name: 'RIGHT JOIN',
    sql: 'SELECT P.id, A.id AS auction FROM auction A RIGHT OUTER JOIN person P ON A.seller = P.id',
    kinds: ['+I', '-D'],
  },
  {
    name: 'FULL OUTER JOIN with WHERE on its result',
    sql: 'SELECT P.id AS person, A.id AS auction, A.category FROM person P FULL JOIN auction A ON P.id = A.seller WHERE A.category IS NULL OR A.category <> 12',
    kinds: ['+I', '-D'],
  },
  {
    name: 'GROUP BY over a LEFT JOIN (consuming its retractions)',
    sql: 'SELECT P.state, COUNT(A.id) AS auctions, COUNT(*) AS n, MAX(A.reserve) AS top FROM person P LEFT JOIN auction A ON P.id = A.seller GROUP BY P.state',
    kinds: ['+I', '+U', '-U'],
  },
];

describe('updating SQL against DuckDB', () => {
  for (const c of CASES) {
    it(`${c.name}, on both engines`, async () => {
      const { native } = await onBothEngines((engine) => changes(engine, c.sql));
      expect(native.kinds).toEqual([...c.kinds].sort());
      const expected = await oracle(c.duck ?? q(c.sql));
      expect(native.rows.length).toBe(expected.length);
      expect(native.rows).toEqual(expected);
      expect(native.rows.length).toBeGreaterThanOrEqual(c.rows ?? 4);
    });
  }

  it('Nexmark q3 (examples/nexmark-sql/q3.sql: a regular join, append-only) on both engines equals DuckDB', async () => {
    const { native } = await onBothEngines(async (engine) => {
      const out = join(dir, `q3-${engine}.jsonl`);
      const text = readFileSync(join(root, 'examples', 'nexmark-sql', 'q3.sql'), 'utf8')
        .replace(/'events' = '\d+'/g, `'events' = '${EVENTS}'`)
        .replace("'connector' = 'blackhole'", `'connector' = 'filesystem', 'path' = '${out}', 'format' = 'json'`);
      const env = StreamEnvironment.create({ engine });
      expect(await planSql(TableEnvironment.create(env), text)).toBe(1);
      expect(env.explain()).toContain('Join(joinType=[INNER], where=[seller = id])');
      await env.execute('q3');
      return readFileSync(out, 'utf8').trim().split('\n').map((l) => canon(JSON.parse(l) as Record<string, unknown>)).sort();
    });
    const expected = await oracle("SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P on A.seller = P.id WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')");
    expect(native).toEqual(expected);
    expect(native.length).toBeGreaterThan(20);
  });

  it('Nexmark q4 (examples/nexmark-sql/q4.sql: a regular join, two updating GROUP BYs) on both engines equals DuckDB', async () => {
    const text = readFileSync(join(root, 'examples', 'nexmark-sql', 'q4.sql'), 'utf8').replace(/'events' = '\d+'/g, `'events' = '${EVENTS}'`);
    const statements = text.split(';').map((s) => s.replace(/--.*$/gm, '').trim()).filter((s) => s !== '');
    const ddl = statements.filter((s) => /^CREATE TABLE (auction|bid)\b/.test(s));
    const select = statements.find((s) => s.startsWith('INSERT INTO'))!.replace(/^INSERT INTO \w+\s*/, '');
    const { native } = await onBothEngines((engine) => changes(engine, select, ddl));
    expect(native.kinds).toEqual(['+I', '+U', '-U']);
    expect(native.plan).toMatch(/GroupAggregate\(groupBy=\[id, category\][\s\S]*GroupAggregate\(groupBy=\[category\]/);
    const expected = await oracle(`SELECT Q.category, AVG(Q.final) AS EXPR$1 FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
      WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category`);
    expect(native.rows).toEqual(expected);
    expect(native.rows.length).toBe(5);
  });

  it('refuses at planning, with line and column, what cannot consume updates', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    for (const d of DDL) await tEnv.executeSql(d);
    await tEnv.executeSql(`CREATE TABLE sink1 (auction BIGINT, n BIGINT) WITH ('connector' = 'filesystem', 'path' = '${join(dir, 'never.jsonl')}', 'format' = 'json')`);
    await tEnv.executeSql('CREATE VIEW counts AS SELECT auction, COUNT(*) AS n, MAX(`dateTime`) AS ts FROM bid GROUP BY auction');
    const cases: [string, number, number, string][] = [
      ['INSERT INTO sink1\nSELECT auction, COUNT(*) FROM bid GROUP BY auction', 2, 1, "Table sink 'sink1' (connector 'filesystem') doesn't support consuming update and delete changes which is produced by node GroupAggregate(groupBy=[auction]"],
      ["SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE counts, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end", 1, 42, "the TUMBLE window doesn't support consuming update and delete changes, which node GroupAggregate(groupBy=[auction]"],
      ['SELECT A.id FROM auction A LEFT JOIN person P ON A.seller = P.id AND P.id > 5', 1, 50, "an outer join's ON takes only equalities between the sides' columns"],
      ['SELECT auction, price FROM bid GROUP BY auction', 1, 17, "the column 'price' is neither grouped nor aggregated"],
    ];
    const got: [string, number, number, string][] = [];
    for (const [sql, line, col, text] of cases) {
      const e = await (sql.startsWith('INSERT') ? tEnv.executeSql(sql) : tEnv.sqlQuery(sql)).then(() => null, (x: unknown) => x);
      expect(e, sql).toBeInstanceOf(SqlError);
      const err = e as SqlError;
      got.push([sql, err.line, err.column, err.message.includes(text) ? text : err.message]);
    }
    expect(got).toEqual(cases);
  });
});

describe('updating SQL under sluice sql', () => {
  it("q4 into a 'print' table: +I/-U/+U lines whose final state equals DuckDB, natively at parallelism 2 and on the TS engine", async () => {
    const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
    const file = join(dir, 'q4-print.sql');
    writeFileSync(file, readFileSync(join(root, 'examples', 'nexmark-sql', 'q4.sql'), 'utf8').replace(/'events' = '\d+'/g, `'events' = '${EVENTS}'`).replace("'connector' = 'blackhole'", "'connector' = 'print'"));
    const expected = await oracle(`SELECT Q.category AS id, AVG(Q.final) AS final FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
      WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires GROUP BY A.id, A.category) Q GROUP BY Q.category`);
    for (const [engine, parallelism] of [['native', '2'], ['ts', '1']] as const) {
      const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', engine, '--parallelism', parallelism, '--no-progress'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(new Set(lines.map((l) => l.slice(0, 2)))).toEqual(new Set(['+I', '-U', '+U']));
      const changes = lines.map((l) => ({ rowKind: l.slice(0, 2), ...(JSON.parse(l.slice(3)) as Record<string, unknown>) }));
      expect(applied(changes, { key: canon }), engine).toEqual(expected);
    }
  });
});
