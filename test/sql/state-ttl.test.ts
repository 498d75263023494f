/**
 * Idle state retention (`SET 'table.exec.state.ttl'`, `TableConfig`) end to end, on both
 * engines: the updating GROUP BY, the regular join and the updating top-N forget a key whose
 * state was not written for the TTL (processing time), silently, so its next row starts again;
 * without the TTL the same input continues the old state. And state in a checkpoint keeps its
 * last write time: restored after the TTL elapsed, it is expired.
 *
 * No timing luck: the source emits its first phase, then waits until the job's output shows the
 * phase was processed, notes the wall clock then, and emits the next phase only when the clock
 * passed that moment plus the TTL. Every write of the first phase happened before the noted
 * moment, so the operators (whose clock is the same wall clock, read per batch) see it expired.
 * Nothing asserts a duration.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, Schema, SqlError, StreamEnvironment, TableEnvironment, TableError, type EngineName, type RecordBatch, type Source, type SourceReader } from '../../ts/index.js';
import { batchFromRecords } from '../../ts/batch/builder.js';
import { onBothEngines } from '../engines.js';
import { applied, type Change } from './changes.js';

const schema = Schema.from({ side: 'utf8', k: 'utf8', v: 'i64' });
type In = { side: string; k: string; v: number };

interface Phase {
  readonly rows: readonly In[];
  /** Emitted once this is true (polled between empty batches). */
  readonly after?: () => boolean;
}

/** Emits each phase as one batch once its gate opens; its position (phases emitted) is checkpointed. */
class PhasedSource implements Source {
  readonly name = 'phases';
  readonly schema = schema;
  readonly hasEventTime = false;
  readonly supportsProjection = false;
  constructor(private readonly phases: readonly Phase[]) {}
  open(): SourceReader {
    let p = 0;
    return {
      next: async (): Promise<RecordBatch | null> => {
        const phase = this.phases[p];
        if (phase === undefined) return null;
        if (phase.after !== undefined && !phase.after()) {
          await new Promise((r) => setTimeout(r, 5));
          return batchFromRecords([], schema);
        }
        p++;
        return batchFromRecords(phase.rows, schema);
      },
      close: () => undefined,
      checkpoint: () => p,
      restore: (pos) => {
        p = pos as number;
      },
    };
  }
}

/** A gate that opens `ttlMs` after `seen()` first became true (as the wall clock tells). */
function afterTtl(seen: () => boolean, ttlMs: number): () => boolean {
  let at: number | null = null;
  return () => {
    if (at === null) {
      if (!seen()) return false;
      at = Date.now();
    }
    return Date.now() > at + ttlMs;
  };
}

const show = (r: Change): string => `${r.rowKind} ${Object.entries(r).filter(([k]) => k !== 'rowKind').map(([, v]) => String(v)).join(' ')}`;


const QUERIES = {
  group: 'SELECT k, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY k',
  join: "SELECT l.k, l.v AS a, r.v AS b FROM (SELECT k, v FROM t WHERE side = 'L') l LEFT JOIN (SELECT k, v FROM t WHERE side = 'R') r ON l.k = r.k",
  rank: 'SELECT k, v FROM (SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t) WHERE rn <= 2',
} as const;

/** How the TTL is set: SQL's SET, TableConfig.set, setIdleStateRetention. */
type How = 'set' | 'config' | 'retention';

async function setTtl(tEnv: TableEnvironment, how: How, ms: number): Promise<void> {
  if (how === 'set') await tEnv.executeSql(`SET 'table.exec.state.ttl' = '${ms} ms'`);
  else if (how === 'config') tEnv.getConfig().set('table.exec.state.ttl', `${ms}ms`);
  else tEnv.getConfig().setIdleStateRetention(ms);
}

async function run(engine: EngineName, query: string, phases: (sink: CollectSink<Change>) => Phase[], ttl: { how: How; ms: number } | null, checkpoints?: { dir: string; restore: boolean }): Promise<Change[]> {
  const env = StreamEnvironment.create({ engine, batchSize: 512 });
  if (checkpoints !== undefined) env.enableCheckpointing(60_000, { dir: checkpoints.dir });
  const tEnv = TableEnvironment.create(env);
  const sink = new CollectSink<Change>();
  tEnv.createTemporaryView('t', tEnv.fromDataStream(env.fromSource(new PhasedSource(phases(sink)))));
  if (ttl !== null) await setTtl(tEnv, ttl.how, ttl.ms);
  (await tEnv.sqlQuery(query)).toChangelogStream().sinkTo(sink);
  await env.execute('ttl', checkpoints?.restore === true ? { restoreFrom: checkpoints.dir } : {});
  return sink.records;
}

const TTL = 300;

describe("SQL state TTL ('table.exec.state.ttl')", () => {
  it('GROUP BY (SET): a key idle for the TTL starts again with +I; without a TTL it continues with -U/+U', async () => {
    const phases = (sink: CollectSink<Change>): Phase[] => [
      { rows: [{ side: '', k: 'a', v: 1 }, { side: '', k: 'a', v: 2 }, { side: '', k: 'b', v: 5 }] },
      { rows: [{ side: '', k: 'a', v: 10 }, { side: '', k: 'c', v: 1 }], after: afterTtl(() => sink.batches.length > 0 && sink.records.length >= 2, TTL) },
    ];
    const ttl = await onBothEngines((engine) => run(engine, QUERIES.group, phases, { how: 'set', ms: TTL }));
    expect(ttl.native.map(show)).toEqual(['+I a 2 3', '+I b 1 5', '+I a 1 10', '+I c 1 1']);
    const none = await onBothEngines((engine) => run(engine, QUERIES.group, phases, null));
    expect(none.native.map(show)).toEqual(['+I a 2 3', '+I b 1 5', '-U a 2 3', '+U a 3 13', '+I c 1 1']);
  });

  it('LEFT JOIN (TableConfig.set): rows written TTL ago stop matching, a new left row is padded; without a TTL it matches', async () => {
    const phases = (sink: CollectSink<Change>): Phase[] => [
      { rows: [{ side: 'L', k: 'x', v: 1 }, { side: 'R', k: 'x', v: 100 }] },
      { rows: [{ side: 'L', k: 'x', v: 2 }], after: afterTtl(() => applied(sink.records, { lenient: true }).includes(JSON.stringify({ k: 'x', a: 1, b: 100 })), TTL) },
    ];
    // The first phase's two rows reach the join's two inputs in either order (padded then
    // retracted, or joined at once): compared as the table the changes give, and the last change.
    const outcome = async (engine: EngineName, ttl: { how: How; ms: number } | null) => {
      const changes = await run(engine, QUERIES.join, phases, ttl);
      return { table: applied(changes, { lenient: true }), last: show(changes.at(-1)!) };
    };
    const ttl = await onBothEngines((engine) => outcome(engine, { how: 'config', ms: TTL }));
    expect(ttl.native).toEqual({ table: [JSON.stringify({ k: 'x', a: 1, b: 100 }), JSON.stringify({ k: 'x', a: 2, b: null })], last: '+I x 2 null' });
    const none = await onBothEngines((engine) => outcome(engine, null));
    expect(none.native).toEqual({ table: [JSON.stringify({ k: 'x', a: 1, b: 100 }), JSON.stringify({ k: 'x', a: 2, b: 100 })], last: '+I x 2 100' });
  });

  it('updating top-N (setIdleStateRetention): a partition idle for the TTL starts from an empty top 2; without a TTL a lower row changes nothing', async () => {
    const phases = (sink: CollectSink<Change>): Phase[] => [
      { rows: [{ side: '', k: 'a', v: 5 }, { side: '', k: 'a', v: 7 }, { side: '', k: 'a', v: 1 }] },
      { rows: [{ side: '', k: 'a', v: 3 }, { side: '', k: 'b', v: 4 }], after: afterTtl(() => sink.records.length >= 2, TTL) },
    ];
    const ttl = await onBothEngines((engine) => run(engine, QUERIES.rank, phases, { how: 'retention', ms: TTL }));
    expect(ttl.native.map(show)).toEqual(['+I a 7', '+I a 5', '+I a 3', '+I b 4']);
    const none = await onBothEngines((engine) => run(engine, QUERIES.rank, phases, null));
    expect(none.native.map(show)).toEqual(['+I a 7', '+I a 5', '+I b 4']);
  });

  it.each(['group', 'join', 'rank'] as const)('%s: a checkpoint keeps the last write times: restored after the TTL elapsed the state is expired, restored with a long TTL it continues', async (name) => {
    const first: In[] = name === 'join' ? [{ side: 'L', k: 'x', v: 1 }, { side: 'R', k: 'x', v: 100 }] : [{ side: '', k: 'a', v: 5 }, { side: '', k: 'a', v: 7 }];
    const second: In[] = name === 'join' ? [{ side: 'L', k: 'x', v: 2 }] : [{ side: '', k: 'a', v: 6 }];
    const phases = (): Phase[] => [{ rows: first }, { rows: second }];
    const results = await onBothEngines(async (engine) => {
      const out: Record<string, string[]> = {};
      for (const ms of [2000, 3_600_000]) {
        const dir = mkdtempSync(join(tmpdir(), `sluice-ttl-${name}-`));
        // The first run: the first phase only (its final checkpoint holds the state).
        await run(engine, QUERIES[name], () => [{ rows: first }], { how: 'set', ms }, { dir, restore: false });
        const ended = Date.now();
        if (ms === 2000) while (Date.now() <= ended + ms) await new Promise((r) => setTimeout(r, 20));
        out[ms] = (await run(engine, QUERIES[name], phases, { how: 'set', ms }, { dir, restore: true })).map(show);
      }
      return out;
    });
    const expired = { group: ['+I a 1 6'], join: ['+I x 2 null'], rank: ['+I a 6'] }[name];
    const kept = { group: ['-U a 2 12', '+U a 3 18'], join: ['+I x 2 100'], rank: ['-D a 5', '+I a 6'] }[name];
    expect(results.native[2000]).toEqual(expired);
    expect(results.native[3_600_000]).toEqual(kept);
  }, 60_000);

  it('bad settings are errors at the statement', async () => {
    const tEnv = TableEnvironment.create(StreamEnvironment.create({ engine: 'ts' }));
    const e1 = await tEnv.executeSql("SET 'table.exec.state.ttl' = 'forever'").then(() => null, (x: unknown) => x);
    expect(e1).toBeInstanceOf(SqlError);
    expect((e1 as SqlError).message).toContain("line 1, column 30: table.exec.state.ttl: 'forever' is not a duration in whole milliseconds; write a number and a unit, e.g. '500 ms'");
    const e2 = await tEnv.executeSql("SET\n  'table.exec.state.tll' = '1 h'").then(() => null, (x: unknown) => x);
    expect((e2 as SqlError).message).toContain("line 2, column 3: unknown option 'table.exec.state.tll'; the options are: 'table.exec.state.ttl'");
    expect(() => tEnv.getConfig().setIdleStateRetention(-1)).toThrow(TableError);
    tEnv.getConfig().set('table.exec.state.ttl', '2 min');
    expect(tEnv.getConfig().getIdleStateRetention()).toBe(120_000);
    tEnv.getConfig().set('table.exec.state.ttl', '1d');
    expect(tEnv.getConfig().getIdleStateRetention()).toBe(86_400_000);
  });
});
