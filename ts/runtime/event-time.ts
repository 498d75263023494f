/** Event time as the runtime checks it: every timestamp within ±2^53 ms, where both engines compute windows exactly. */

import { BadValueError } from '../batch/builder.js';
import { firstInexact, i32View, maxExactI64 } from '../batch/i64.js';

export const HI_EXACT = 2097152; // 2^21: |ms| < 2^53

/**
 * The highest event time of a batch, checking every timestamp is within ±2^53 ms (where both
 * engines compute windows exactly); -Infinity for an empty batch.
 */
export function maxEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  // A source's batch is checked where it enters the job and again by its watermark generator:
  // scan it once.
  const known = checked.get(et);
  if (known !== undefined && known.n === n) return known.max;
  const max = scanEventTime(et, n, origin, firstPosition, field);
  checked.set(et, { n, max });
  return max;
}

const checked = new WeakMap<BigInt64Array, { n: number; max: number }>();

function scanEventTime(et: BigInt64Array, n: number, origin: string, firstPosition: number, field: string): number {
  const v = i32View(et);
  const max = maxExactI64(v, n);
  if (Number.isNaN(max)) {
    const bad = firstInexact(v, n);
    throw new BadValueError(origin, firstPosition + bad, field, `timestamp ${et[bad]} ms is outside ±2^53 ms`);
  }
  return max;
}

