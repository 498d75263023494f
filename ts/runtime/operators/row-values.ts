/**
 * Rows as arrays of JavaScript values, for the operators that keep input rows (the regular join,
 * the non-windowed top-N): reading them from columns and comparing them.
 */

import type { Column } from '../../batch/column.js';
import { valueReader } from '../../batch/record-batch.js';

export type Values = unknown[];

/** Row i's value of `col`; i64 and timestamps stay bigint (exact, and equal to what state keeps). */
export function columnReader(col: Column, name: string): (i: number) => unknown {
  if (col.type === 'i64' || col.type === 'timestamp') {
    const v = col.values;
    const validity = col.validity;
    return validity === null ? (i) => v[i]! : (i) => ((validity[i >>> 3]! & (1 << (i & 7))) === 0 ? null : v[i]!);
  }
  return valueReader(col, name);
}

/** The same values in every column (NaN equal to NaN, as a retraction must find its row). */
export function sameRow(a: Values, b: Values): boolean {
  for (let i = 0; i < a.length; i++) if (!(a[i] === b[i] || Object.is(a[i], b[i]))) return false;
  return true;
}
