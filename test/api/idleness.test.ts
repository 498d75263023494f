import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agg, FileSource, StreamEnvironment, TumblingEventTimeWindows, WatermarkStrategy, type Row } from '../../ts/index.js';

const SCHEMA = { k: 'i64', t: 'timestamp' } as const;
type Ev = { k: number; t: number };
const records: Ev[] = Array.from({ length: 50 }, (_, i) => ({ k: i % 3, t: i * 100 }));

/**
 * Windowed counts over a finite input unioned with an empty watched directory: all of them, or
 * (with `waitMs`) those seen within that time.
 */
async function resultsWhileRunning(engine: 'native' | 'ts', idleMs: number | null, waitMs: number | null): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-idle-'));
  const env = StreamEnvironment.create({ engine, batchSize: 10 });
  let strategy = WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t');
  if (idleMs !== null) strategy = strategy.withIdleness(idleMs);
  const quiet = env.fromSource(FileSource.watch(dir, { format: 'jsonl', schema: SCHEMA, pollIntervalMs: 20 }), strategy);
  const it = env
    .fromRecords(records, SCHEMA, WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner('t'))
    .union(quiet)
    .keyBy('k')
    .window(TumblingEventTimeWindows.of(1000))
    .aggregate({ n: agg.count() })
    .collect();
  const seen: Row[] = [];
  // Only a test expecting nothing waits a fixed time: a busy machine can delay results, never make them appear.
  const deadline = waitMs === null ? new Promise<'timeout'>(() => undefined) : new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), waitMs));
  for (;;) {
    const next = await Promise.race([it.next(), deadline]);
    if (next === 'timeout' || next.done === true) break;
    seen.push(next.value);
    if (seen.length === 15) break; // 5 windows x 3 keys: everything the finite input can produce
  }
  await it.return!();
  return seen;
}

describe('idle inputs', () => {
  for (const engine of ['native', 'ts'] as const) {
    it(`an idle input stops holding back the watermark (withIdleness), on the ${engine} engine`, async () => {
      const rows = await resultsWhileRunning(engine, 100, null);
      expect(rows).toHaveLength(15);
      expect(rows.reduce((s, r) => s + (r.n as number), 0)).toBe(50);
    });
  }

  it('without withIdleness an empty input holds the windows back (the minimum over inputs)', async () => {
    expect(await resultsWhileRunning('ts', null, 600)).toEqual([]);
  });

  it('withIdleness rejects a non-positive time', () => {
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withIdleness(0)).toThrow('withIdleness needs a whole number of ms above 0');
  });
});
