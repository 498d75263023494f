/**
 * Filter pushdown into the Nexmark source: the generator builds only the rows a query's WHERE
 * keeps, and the watermark goes on as if the rows it dropped had been read downstream (the
 * same watermark a process function sees record by record, with and without the pushdown);
 * `table.optimizer.source.predicate-pushdown-enabled` turns it off; a filter that can fail
 * stays in its calc. On both engines.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName, type JobResult } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from './bids.js';
import { expectPushedAsNot, watermarksSeen } from '../watermarks-seen.js';

const EVENTS = 200_000;
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sluice-pushdown-'));

/** The kept bids of `query`, each with the watermark its process function saw; the plan and the result. */
async function sqlSeen(engine: EngineName, pushdown: boolean, query: string): ReturnType<typeof watermarksSeen> {
  // Small batches: most of them hold no row the filter keeps.
  const env = StreamEnvironment.create({ engine, batchSize: 500 });
  const tEnv = TableEnvironment.create(env);
  await tEnv.executeSql(bidDdl(EVENTS));
  if (!pushdown) await tEnv.executeSql("SET 'table.optimizer.source.predicate-pushdown-enabled' = 'false'");
  const table = await tEnv.sqlQuery(query);
  return watermarksSeen(env, table.toDataStream<{ auction: number; price: number }>());
}

const watermarksOf = (r: JobResult) => r.operators.find((o) => o.name === 'bid timestamps/watermarks')!;

describe('SQL: filter pushdown into the Nexmark source', () => {
  it('builds only the kept rows, and every record sees the watermark it sees without the pushdown', async () => {
    const query = "SELECT auction, price FROM bid WHERE MOD(auction, 211) = 3 AND channel <> 'Apple'";
    await onBothEngines(async (engine) => {
      const pushed = await sqlSeen(engine, true, query);
      const kept = await sqlSeen(engine, false, query);
      expect(pushed.plan).toContain("[filters (((auction % 211) = 3) AND (channel <> 'Apple'))]");
      expectPushedAsNot(pushed, kept, 'bid');
      // Its watermark generator saw up to the last bid.
      expect(watermarksOf(pushed.result).maxEventTime).toBe(watermarksOf(kept.result).maxEventTime);
      return pushed.seen;
    });
  });

  it('gives the same windows at parallelism 2, the source split in two (sluice sql on worker threads)', async () => {
    const cli = join(root, 'dist', 'ts', 'cli', 'main.js');
    if (!existsSync(cli)) throw new Error('run `npm run build` first (the test runs dist/ts/cli/main.js)');
    const run = (engine: EngineName, pushdown: boolean): string[] => {
      const out = join(dir, `win-${engine}-${pushdown}.jsonl`);
      const file = join(dir, `win-${engine}-${pushdown}.sql`);
      writeFileSync(
        file,
        `SET 'table.optimizer.source.predicate-pushdown-enabled' = '${pushdown}';
${bidDdl(EVENTS)};
CREATE TABLE out_t (window_start BIGINT, bids BIGINT, top BIGINT) WITH ('connector' = 'filesystem', 'path' = '${out}', 'format' = 'json');
INSERT INTO out_t SELECT CAST(window_start AS BIGINT), COUNT(*), MAX(price)
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(\`dateTime\`), INTERVAL '2' SECOND))
  WHERE MOD(bidder, 13) = 2 AND url NOT LIKE '%apple%' GROUP BY window_start, window_end;`,
      );
      const r = spawnSync(process.execPath, [cli, 'sql', file, '--engine', engine, '--parallelism', '2', '--no-progress'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain('at parallelism 2');
      // Each subtask's source emits only the rows it keeps.
      const shares = [...r.stderr.matchAll(/#\d+ bid: in 0, out (\d+)/g)].map((m) => Number(m[1]));
      expect(shares.length).toBe(2);
      if (pushdown) expect(shares.reduce((a, b) => a + b)).toBeLessThan(EVENTS / 10);
      else expect(shares.reduce((a, b) => a + b)).toBe((EVENTS * 46) / 50);
      return readFileSync(out, 'utf8').trim().split('\n').sort();
    };
    await onBothEngines(async (engine) => {
      const pushed = run(engine, true);
      expect(pushed).toEqual(run(engine, false));
      expect(pushed.length).toBeGreaterThan(5);
      return pushed;
    });
  });

  it('leaves a filter that can fail in its calc (its error names the record there), and the filters of a source read twice', async () => {
    const env = StreamEnvironment.create({ engine: 'ts' });
    const tEnv = TableEnvironment.create(env);
    await tEnv.executeSql(bidDdl(EVENTS));
    (await tEnv.sqlQuery('SELECT auction FROM bid WHERE 100 / (auction - 1000) > 1')).toDataStream().sinkTo(new CollectSink());
    (await tEnv.sqlQuery('SELECT auction FROM bid WHERE MOD(auction, 7) = 1')).toDataStream().sinkTo(new CollectSink());
    // Two consumers of one source: neither filter is pushed (the source's rows are both's).
    expect(env.explain()).not.toContain('[filters');
    const one = StreamEnvironment.create({ engine: 'ts' });
    const t1 = TableEnvironment.create(one);
    await t1.executeSql(bidDdl(EVENTS));
    (await t1.sqlQuery('SELECT auction FROM bid WHERE 100 / (auction - 1000) > 1')).toDataStream().sinkTo(new CollectSink());
    expect(one.explain()).not.toContain('[filters');
  });

  it('takes only true or false for the option', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await expect(tEnv.executeSql("SET 'table.optimizer.source.predicate-pushdown-enabled' = 'yes'")).rejects.toThrow(/'yes' is not a boolean; write 'true' or 'false'/);
  });
});
