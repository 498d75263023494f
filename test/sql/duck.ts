// Shared by the SQL tests checked against DuckDB (@duckdb/node-api): the generated bids in a
// DuckDB table `bid` (dateTime as BIGINT ms), and queries' rows with BIGINTs as numbers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { generatedBids } from './bids.js';

export type Duck = Awaited<ReturnType<DuckDBInstance['connect']>>;

/** A DuckDB connection with the bids of `events` Nexmark events as table `bid`. */
export async function duckWithBids(events: number): Promise<Duck> {
  const duck = await (await DuckDBInstance.create(':memory:')).connect();
  const f = join(mkdtempSync(join(tmpdir(), 'sluice-duck-')), 'bid.jsonl');
  writeFileSync(f, (await generatedBids(events)).map((r) => JSON.stringify(r)).join('\n') + '\n');
  await duck.run(`CREATE TABLE bid AS SELECT * FROM read_json('${f}', format = 'newline_delimited', columns = {auction: 'BIGINT', bidder: 'BIGINT', price: 'BIGINT', channel: 'VARCHAR', url: 'VARCHAR', dateTime: 'BIGINT', extra: 'VARCHAR'})`);
  return duck;
}

export async function duckRows(duck: Duck, sql: string): Promise<Record<string, unknown>[]> {
  const rows = (await duck.runAndReadAll(sql)).getRowObjects();
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
}

export const sortRows = (rows: readonly Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
