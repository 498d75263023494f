/** Input held by the kernel cases: a few batches used in turn instead of all of a run's rows. */

import type { RecordBatch } from '../ts/batch/record-batch.js';

/** Batches a kernel case keeps (8192 rows each: 512 Ki rows, a few tens of MB). */
export const HELD_BATCHES = 64;

/**
 * `batches` again and again until `rows` rows went through: a kernel case's input without
 * holding all of it, whose heap the garbage collector would keep marking during the timing, and
 * which the case would otherwise stream from main memory, where a job's batches come warm from
 * the operator before.
 */
export function* inTurn(batches: readonly RecordBatch[], rows: number): Generator<RecordBatch> {
  for (let done = 0, k = 0; done < rows; k++) {
    const b = batches[k % batches.length]!;
    yield b;
    done += b.length;
  }
}
