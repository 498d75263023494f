// Watermark alignment: source subtasks of one group advance together (real worker threads).
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob, WatermarkStrategy } from '../../ts/index.js';
import { WatermarkBoard } from '../../ts/runtime/alignment.js';
import { BATCH_SPAN_MS } from '../fixtures/jobs/aligned.js';
import { ENGINES } from '../engines.js';

type Row = { sub: number; ts: number };

async function run(engine: 'native' | 'ts', drift: string, mode: string[] = []) {
  const out = join(tmpdir(), `sluice-align-${process.pid}-${engine}-${drift}.jsonl`);
  rmSync(out, { force: true });
  const result = await runJob(new URL('../fixtures/jobs/aligned.ts', import.meta.url), { engine, parallelism: 2, args: [out, drift, ...mode] });
  const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
  rmSync(out, { force: true });
  // How far the fast subtask's event time ran ahead of the slow one's, in the order the sink got them.
  const last = [-Infinity, -Infinity];
  const end = Math.max(...rows.filter((r) => r.sub === 1).map((r) => r.ts));
  let gap = 0;
  for (const r of rows) {
    last[r.sub] = Math.max(last[r.sub]!, r.ts);
    if (last[1]! > -Infinity && last[1]! < end) gap = Math.max(gap, last[0]! - last[1]!);
  }
  const paused = result.operators.filter((o) => o.alignmentPausedMs !== undefined).map((o) => o.alignmentPausedMs!);
  return { rows, gap, paused };
}

describe.each(ENGINES)('watermark alignment (%s engine)', (engine) => {
  it('keeps the fast source subtask within the drift of the slow one; without it the fast one runs ahead', async () => {
    const free = await run(engine, 'none');
    const aligned = await run(engine, '2000');
    // Without alignment the fast subtask is done long before the slow one.
    expect(free.gap).toBeGreaterThan(40_000);
    expect(free.paused).toEqual([]);
    // With it: the drift, plus what the channels to the sink hold (4 batches each) and one batch.
    expect(aligned.gap).toBeLessThanOrEqual(2000 + 6 * BATCH_SPAN_MS);
    expect(aligned.paused.length).toBe(2);
    expect(Math.max(...aligned.paused)).toBeGreaterThan(20);
    // Same records either way.
    const key = (r: Row) => `${r.sub}/${r.ts}`;
    expect(aligned.rows.map(key).sort()).toEqual(free.rows.map(key).sort());
    expect(aligned.rows.length).toBe(2 * 120 * 100);
  });

  it('an idle source subtask (withIdleness) does not hold the others back', async () => {
    // Subtask 1 is quiet for 1.5 s after its first batch; subtask 0 runs on once it is declared idle.
    const r = await run(engine, '2000', ['idle']);
    expect(r.rows.length).toBe(2 * 120 * 100);
    const fast = r.rows.filter((x) => x.sub === 0);
    const slowFirst = r.rows.findIndex((x) => x.sub === 1 && x.ts >= 100 * 10);
    // All of subtask 0's records reached the sink before subtask 1 woke up.
    expect(r.rows.slice(0, slowFirst).filter((x) => x.sub === 0).length).toBe(fast.length);
  });
});

describe('WatermarkBoard', () => {
  it('wakes a waiting source when another publishes, and an ended source holds no one back', async () => {
    const board = new WatermarkBoard(new SharedArrayBuffer(8 + 2 * 8));
    board.publish(0, 5000);
    board.publish(1, 1000);
    expect(board.lowest([0, 1])).toBe(1000);
    const seen = board.changes();
    const woke = board.changedSince(seen, 5000).then(() => board.lowest([0, 1]));
    setTimeout(() => board.publish(1, 4000), 5);
    expect(await woke).toBe(4000);
    board.publish(1, Infinity);
    expect(board.lowest([0, 1])).toBe(5000);
  });

  it('rejects a bad drift or group at build time', () => {
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withWatermarkAlignment('g', 0)).toThrow(/drift of a whole number of ms above 0/);
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withWatermarkAlignment('', 10)).toThrow(/group name/);
  });
});
