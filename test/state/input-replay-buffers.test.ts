// The copies a window keeps for its checkpoints take the buffers of dropped copies again
// (InputReplay's HeapBuffers): what a snapshot holds must be the kept batches, whatever was
// dropped and reused since, and independent of the shared memory the batches came in.
import { describe, expect, it } from 'vitest';
import { RecordBatch } from '../../ts/batch/record-batch.js';
import { Schema } from '../../ts/batch/schema.js';
import { selectEngine } from '../../ts/engine/select.js';
import { InputReplay } from '../../ts/runtime/replay/input-replay.js';
import { ENGINES } from '../engines.js';

const input = Schema.from({ k: 'i64', t: 'timestamp' });

/** Batch i: 50 + i rows with times in [1000 i, 1000 i + 999], in shared memory (borrowed, as an exchange segment's). */
function borrowed(i: number): { batch: RecordBatch; memory: SharedArrayBuffer } {
  const n = 50 + i;
  const memory = new SharedArrayBuffer(16 * n);
  const k = new BigInt64Array(memory, 0, n);
  const t = new BigInt64Array(memory, 8 * n, n);
  for (let r = 0; r < n; r++) {
    k[r] = BigInt(i * 1000 + r);
    t[r] = BigInt(i * 1000 + ((r * 37) % 1000));
  }
  const batch = new RecordBatch(input, [{ type: 'i64', values: k, validity: null }, { type: 'timestamp', values: t, validity: null }], n, t);
  return { batch, memory };
}

const rows = (b: RecordBatch): string[] => Array.from({ length: b.length }, (_, r) => `${(b.columns[0]!.values as BigInt64Array)[r]}@${b.eventTime![r]}`);

describe.each(ENGINES)('a window\'s kept input (%s engine)', (name) => {
  it('snapshots the batches still needed, after others were dropped and their buffers taken again', () => {
    const engine = selectEngine(name);
    const replay = new InputReplay({ engine, window: { kind: 'tumbling', sizeMs: 1000, offsetMs: 0 }, lateness: 0, keyFields: [0], name: 'window' }, () => 0);
    const want: string[][] = [];
    const retain = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const { batch, memory } = borrowed(i);
        if (i >= 5) want.push(rows(batch));
        replay.retain(batch, -Infinity);
        // The shared memory is used again by its owner: the kept copy must not see it.
        new Uint8Array(memory).fill(0xee);
      }
    };
    retain(0, 10);
    // Batches 0-4 are complete (their windows end by 4999): dropped, their buffers free.
    replay.advance(4999);
    retain(10, 20);
    // Encoded now (as a checkpoint does), decoded as a restore does.
    const kept = replay.restore(replay.snapshot());
    expect(kept.map((b) => rows(b.batch))).toEqual(want);
  });
});
