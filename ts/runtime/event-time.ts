/** Event time as the runtime checks it: every timestamp within ±2^53 ms, where both engines compute windows exactly. */

import { BadValueError } from '../batch/builder.js';
import { firstInexact, i32View, knownExactMax, maxExactI64, noteExactMax } from '../batch/i64.js';

/**
 * The highest event time of a batch, checking every timestamp is within ±2^53 ms (where both
 * engines compute windows exactly); -Infinity for an empty batch.
 */
export function maxEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  // A source's batch is checked where it enters the job and again by its watermark generator:
  // scan it once (or not at all when the native engine found the maximum as it made the batch).
  const known = knownExactMax(et, n);
  if (known !== undefined) return known;
  const max = scanEventTime(et, n, origin, firstPosition, field);
  noteExactMax(et, n, max);
  return max;
}

function scanEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  const v = i32View(et);
  const max = maxExactI64(v, n);
  if (Number.isNaN(max)) {
    const bad = firstInexact(v, n);
    throw new BadValueError(origin, firstPosition + bad, field, `timestamp ${et[bad]} ms is outside ±2^53 ms`);
  }
  return max;
}

