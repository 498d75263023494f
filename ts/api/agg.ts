/** Built-in aggregates for `aggregate({ name: agg.x(...) })`: computed natively, exactly. */

import type { AggKind } from '../engine/engine.js';

export interface AggregateCall<F extends string = string> {
  readonly kind: AggKind;
  readonly field: F | null;
}

export const agg = {
  /** Rows in the window (with a field: its non-null values). */
  count<F extends string>(field?: F): AggregateCall<F> {
    return { kind: 'count', field: field ?? null };
  },
  /** Sum of non-null values: f64 for f64 fields, exact i64 for integers (overflow is an error). */
  sum<F extends string>(field: F): AggregateCall<F> {
    return { kind: 'sum', field };
  },
  min<F extends string>(field: F): AggregateCall<F> {
    return { kind: 'min', field };
  },
  max<F extends string>(field: F): AggregateCall<F> {
    return { kind: 'max', field };
  },
  /** Mean of non-null values, as f64. */
  avg<F extends string>(field: F): AggregateCall<F> {
    return { kind: 'avg', field };
  },
} as const;
