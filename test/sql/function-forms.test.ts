/**
 * EXTRACT(unit FROM ts) and SUBSTRING(s FROM a [FOR b]), the keyword forms the grammar lacks
 * (rewritten in place before parsing), on both engines against JavaScript's own UTC date parts
 * and string slicing; string literals untouched; errors inside them at their own positions.
 */

import { describe, expect, it } from 'vitest';
import { CollectSink, StreamEnvironment, TableEnvironment, type EngineName } from '../../ts/index.js';
import { onBothEngines } from '../engines.js';
import { bidDdl } from './bids.js';

const DDL = `CREATE TABLE g (x BIGINT, s STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '5000', 'rows-per-second' = '100000000',
  'fields.x.min' = '-2208988800000', 'fields.x.max' = '4102444800000', 'fields.s.length' = '12')`;

async function run(engine: EngineName, q: string): Promise<Record<string, unknown>[]> {
  const env = StreamEnvironment.create({ engine });
  const tEnv = TableEnvironment.create(env);
  // Instants from 1900 to 2100, so every unit varies.
  await tEnv.executeSql(DDL);
  await tEnv.executeSql('CREATE VIEW v AS SELECT x, CAST(x AS TIMESTAMP(3)) AS t, s FROM g');
  const sink = new CollectSink();
  (await tEnv.sqlQuery(q)).toDataStream().sinkTo(sink);
  await env.execute();
  return sink.records;
}

describe('EXTRACT and SUBSTRING keyword forms', () => {
  it('equal JavaScript date parts and slices, on both engines', async () => {
    const q = `SELECT x,
        EXTRACT(YEAR FROM t) AS y, EXTRACT(QUARTER FROM t) AS q, EXTRACT(MONTH FROM t) AS mo,
        EXTRACT(DAY FROM t) AS d, EXTRACT(DOW FROM t) AS dow, EXTRACT(DOY FROM t) AS doy,
        EXTRACT(HOUR FROM t) AS h, extract ( minute from t ) AS mi, EXTRACT(SECOND FROM t) AS sec,
        s, SUBSTRING(s FROM 2 FOR 3) AS c, SUBSTRING(s FROM 1 + 2) AS u, SUBSTRING(SUBSTRING(s FROM 5) FROM 2 FOR 4) AS uu,
        'EXTRACT(DAY FROM x) SUBSTRING(a FROM 1)' AS lit
      FROM v WHERE EXTRACT(MONTH FROM t) <> 13`;
    const { native } = await onBothEngines((engine) => run(engine, q));
    expect(native).toHaveLength(5000);
    const years = new Set<number>();
    for (const r of native) {
      const ms = r.x as number;
      const d = new Date(ms);
      years.add(d.getUTCFullYear());
      const start = Date.UTC(d.getUTCFullYear(), 0, 1);
      const s = r.s as string;
      expect(r).toMatchObject({
        y: d.getUTCFullYear(),
        q: Math.floor(d.getUTCMonth() / 3) + 1,
        mo: d.getUTCMonth() + 1,
        d: d.getUTCDate(),
        dow: d.getUTCDay() + 1,
        doy: Math.floor((ms - start) / 86_400_000) + 1,
        h: d.getUTCHours(),
        mi: d.getUTCMinutes(),
        sec: d.getUTCSeconds(),
        c: s.slice(1, 4),
        u: s.slice(2),
        uu: s.slice(4).slice(1, 5),
        lit: 'EXTRACT(DAY FROM x) SUBSTRING(a FROM 1)',
      });
    }
    expect(years.size).toBeGreaterThan(150);
  });

  it('errors inside them name their own line and column', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    await tEnv.executeSql(bidDdl(100));
    await expect(tEnv.sqlQuery('SELECT EXTRACT(HOUR FROM datetim) FROM bid')).rejects.toThrow("line 1, column 26: unknown column 'datetim'");
    await expect(tEnv.sqlQuery('SELECT\n  SUBSTRING(channel FROM 2 FOR prise) FROM bid')).rejects.toThrow("line 2, column 32: unknown column 'prise'");
  });
});
