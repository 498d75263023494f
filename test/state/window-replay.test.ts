// Checkpoints of the built-in session windows, at the operator: a restore replays the input kept
// for the sessions still open, each batch at the watermark it arrived at.
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../ts/batch/builder.js';
import { rowReader, type RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { selectEngine } from '../../ts/engine/select.js';
import { Operator } from '../../ts/runtime/operator.js';
import { WindowAggregateOperator } from '../../ts/runtime/operators/window-aggregate.js';
import { InputReplay } from '../../ts/runtime/replay/input-replay.js';
import { ENGINES, requireNative } from '../engines.js';

class Collect extends Operator {
  readonly rows: unknown[] = [];
  processBatch(b: RecordBatch): void {
    const read = rowReader(b);
    for (let i = 0; i < b.length; i++) this.rows.push(read(i));
  }
}

const input = Schema.from({ k: 'i64', t: 'timestamp' });

function batch(rows: [number, number][]): RecordBatch {
  const b = new BatchBuilder(input, rows.length);
  rows.forEach(([k, t], i) => b.append({ k, t }, 'test', i, t));
  return b.finish();
}

function operator(engineName: 'native' | 'ts'): { op: WindowAggregateOperator; out: Collect } {
  const engine = selectEngine(engineName);
  const window = { kind: 'session', gapMs: 10 } as const;
  const agg = engine.createWindowAggregator({ input, keyFields: [0], window, aggregates: [{ name: 'n', kind: 'count', field: null }] });
  const replay = new InputReplay({ engine, window, lateness: 0, keyFields: [0], name: 'sessions' }, () => agg.earliestStart());
  const op = new WindowAggregateOperator(1, 'sessions', { agg, window, gap: null, lateTag: null, memory: null, partialRecords: null, replay });
  const out = new Collect(2, 'collect');
  op.addOutput(out);
  return { op, out };
}

describe.each(ENGINES)('session windows restored from a checkpoint (%s engine)', (engine) => {
  it('a session that began after an older one of the key fired stays apart after a restore', async () => {
    if (engine === 'native') requireNative();
    const run = async (checkpointAfter: number | null) => {
      let { op, out } = operator(engine);
      const emitted: unknown[] = [];
      const steps: (() => Promise<void> | void)[] = [
        // Key 1: session [0, 15). Key 2's record keeps this batch in the checkpoint (its session is open).
        () => op.processBatch(batch([[1, 0], [1, 2], [1, 5], [2, 16]]), 0),
        () => op.processWatermark(15, 0), // fires key 1's [0, 15): 3 records
        () => op.processBatch(batch([[1, 14]]), 0), // [14, 24): apart, as [0, 15) is gone (not late: 23 > 15)
        () => op.processBatch(batch([[1, 20]]), 0), // [14, 30)
      ];
      for (let i = 0; i < steps.length; i++) {
        await steps[i]!();
        if (i === checkpointAfter) {
          const state = structuredClone(op.snapshotState());
          const watermark = op.watermark;
          emitted.push(...out.rows);
          ({ op, out } = operator(engine));
          op.restoreWatermark(watermark);
          op.restoreState(state);
        }
      }
      await op.processWatermark(Infinity, 0);
      return [...emitted, ...out.rows];
    };
    const expected = [
      { k: 1, windowStart: 0, windowEnd: 15, n: 3 },
      { k: 2, windowStart: 16, windowEnd: 26, n: 1 },
      { k: 1, windowStart: 14, windowEnd: 30, n: 2 },
    ];
    expect(await run(null)).toEqual(expected);
    // Restored after each step: replayed in one go, [0, 15) and [14, 24) would merge into one session.
    for (const at of [0, 1, 2, 3]) expect(await run(at)).toEqual(expected);
  });
});
